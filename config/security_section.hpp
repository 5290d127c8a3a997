#pragma once
// ContainerSSH's `security:` block (request policies, forceCommand, maxSessions, forwarding) and
// this server's `limits:` block (connection and container caps).

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "config/app_config.hpp"
#include "config/yaml_reader.hpp"

namespace cssh::config::detail {

/// `warnings` gets settings that are accepted but cannot take effect (forwarding enabled).
void read_security(yaml_reader& r, const YAML::Node& node, const std::string& path, security_config& security,
                   std::vector<std::string>& warnings);
void read_limits(yaml_reader& r, const YAML::Node& node, const std::string& path, limits_config& limits);

}  // namespace cssh::config::detail
