#pragma once
// The observability blocks: `metrics:` and `health:` (ContainerSSH's keys and defaults), and the
// destination keys of `log:` (destination, file, syslog).

#include <yaml-cpp/yaml.h>

#include <string>

#include "config/app_config.hpp"
#include "config/yaml_reader.hpp"

namespace cssh::config::detail {

void read_metrics(yaml_reader& r, const YAML::Node& node, const std::string& path, metrics_config& out);
void read_health(yaml_reader& r, const YAML::Node& node, const std::string& path, health_config& out);

void read_log_destination(yaml_reader& r, const YAML::Node& node, const std::string& path, log_config& out);
void read_log_file(yaml_reader& r, const YAML::Node& node, const std::string& path, log_config& out);
void read_log_syslog(yaml_reader& r, const YAML::Node& node, const std::string& path, syslog_config& out);

/// Checks that fit no single key: `log.file` must be set for destination file.
void validate_observability(yaml_reader& r, const app_config& cfg);

}  // namespace cssh::config::detail
