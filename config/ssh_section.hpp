#pragma once
// The `ssh:` block: listen address, host keys, identification, banner, algorithms,
// keepalives and the pre-authentication limits.

#include <yaml-cpp/yaml.h>

#include <string>

#include "config/app_config.hpp"
#include "config/yaml_reader.hpp"

namespace cssh::config::detail {

void read_ssh(yaml_reader& r, const YAML::Node& node, const std::string& path, ssh_config& ssh);

}  // namespace cssh::config::detail
