#pragma once
// Loads and validates the YAML configuration file.

#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/app_config.hpp"

namespace cssh::config {

/// Parses YAML text. On failure the message lists every problem, one per line, each
/// naming the full key path (e.g. "docker.execution.container.image: required").
result<app_config> load_from_string(const std::string& yaml_text);

/// Reads and parses a file; a missing or unreadable file is an error naming the path.
result<app_config> load_from_file(const std::string& path);

}  // namespace cssh::config
