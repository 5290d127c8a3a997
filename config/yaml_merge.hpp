#pragma once
// Merging a config server's partial configuration over the file's, as YAML trees: the merged
// tree then goes through the same readers and checks as a file does.

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace cssh::config::detail {

/// A deep copy of `base` with `overlay` merged in. Maps merge key by key, matching keys
/// case-insensitively as the reader does (`containerName` meets `containername`); a list or a
/// scalar in `overlay` replaces what `base` has; a null in `overlay` changes nothing.
YAML::Node merge_nodes(const YAML::Node& base, const YAML::Node& overlay);

/// The part of a config server's `config` answer this server applies per connection:
/// `backend`, `docker`, `dockerrun`, `kubernetes`, `sshproxy`, `security` and `log.level`, as
/// ContainerSSH allows. Everything else (ssh, auth, configserver, log.format, ...) is only used
/// before a connection exists; it is left out, and `left_out` names each such key.
YAML::Node config_server_sections(const YAML::Node& answer, std::vector<std::string>& left_out);

}  // namespace cssh::config::detail
