#pragma once
// The `auth:` block (password, publicKey, authz, authTimeout; also ContainerSSH 0.4's legacy
// layout with `url` directly under `auth:`) and the `configserver:` block.

#include <yaml-cpp/yaml.h>

#include <string>

#include "config/app_config.hpp"
#include "config/yaml_reader.hpp"

namespace cssh::config::detail {

void read_auth(yaml_reader& r, const YAML::Node& node, const std::string& path, auth_config& auth);

/// `configserver: {url, timeout, cacert, cert, key, allowRedirects}`.
void read_configserver(yaml_reader& r, const YAML::Node& node, const std::string& path,
                       webhook_client_config& out);

/// Checks that need the whole block: URLs present and well-formed, cert and key given together,
/// a users file named for `method: file`.
void validate_auth(yaml_reader& r, const auth_config& auth);
void validate_configserver(yaml_reader& r, const webhook_client_config& server);

}  // namespace cssh::config::detail
