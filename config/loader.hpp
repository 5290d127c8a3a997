#pragma once
// Loads and validates the YAML configuration file, and merges a config server's answer over it.

#include <nlohmann/json.hpp>
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

/// One connection's configuration made from a config server's answer.
struct merged_config {
  app_config config;
  /// Top-level keys of the answer that cannot change per connection (e.g. "ssh", "log.format"):
  /// left out of the merge, for the log.
  std::vector<std::string> left_out;
};

/// Merges `partial` (the `config` object of a config server answer, in ContainerSSH's layout,
/// keys matched case-insensitively) over the YAML `base` was loaded from (base.source_text) and
/// validates the result exactly as a file is validated. Only the sections ContainerSSH lets a
/// config server set are taken: backend, docker, dockerrun, security and log.level. An empty or
/// null `partial` returns `base` unchanged. Failures (CONFIG_SERVER_INVALID) list every problem
/// with its key path, on one line.
result<merged_config> merge_connection_config(const app_config& base, const nlohmann::json& partial);

}  // namespace cssh::config
