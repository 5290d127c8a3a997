#pragma once
// The `docker:` block in ContainerSSH's current layout (connection / execution / timeouts) and
// the legacy layout (`dockerrun:` or `docker:` holding host/cert/key/cacert beside `config:`).

#include <string>
#include <vector>

#include "config/app_config.hpp"
#include "config/yaml_reader.hpp"

namespace cssh::config::detail {

/// A docker configuration read from one block, remembering where it came from so later
/// messages ("...container.image: required") name the key the operator has to add.
struct docker_block {
  bool present = false;
  docker_config config;
  std::string execution_path = "docker.execution";    // where container, shellCommand, ... live
  std::string connection_path = "docker.connection";  // where host, cert, ... live
  /// "path: why" for settings accepted but not sent as written (e.g. container.tty).
  std::vector<std::string> warnings;
};

/// Reads `docker:` in either layout; mixing the two is an error.
docker_block read_docker_block(yaml_reader& r, const YAML::Node& node, const std::string& path);

/// Reads `dockerrun:`, which only ever had the legacy layout.
docker_block read_dockerrun_block(yaml_reader& r, const YAML::Node& node, const std::string& path);

/// Checks that need the whole block: an image is given, the commands we must run are not empty.
void validate_docker_block(yaml_reader& r, const docker_block& block);

}  // namespace cssh::config::detail
