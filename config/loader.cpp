#include "config/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "config/auth_section.hpp"
#include "config/docker_section.hpp"
#include "config/observability_section.hpp"
#include "config/security_section.hpp"
#include "config/yaml_merge.hpp"
#include "config/ssh_section.hpp"
#include "config/yaml_reader.hpp"

namespace cssh::config {
namespace {

using detail::yaml_reader;
using R = yaml_reader;
using detail::read_ssh;
using detail::read_auth;
using detail::validate_auth;

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void read_log(R& r, const YAML::Node& node, const std::string& path, log_config& lg) {
  r.read_map(node, path, {
      R::key("level",
             [&](const YAML::Node& n, const std::string& p) {
               std::string name;
               if (!r.read_string(n, p, name)) return;
               if (!log::parse_level(lowercase(name), lg.level))
                 r.error(p,
                         "expected one of debug, info, notice, warning, error, critical, alert, emergency, got " +
                             R::describe(n),
                         &n);
             }),
      R::key("format",
             [&](const YAML::Node& n, const std::string& p) {
               r.read_choice<std::string>(n, p, {{"ljson", "ljson"}, {"text", "text"}}, lg.format);
             }),
      R::key("destination",
             [&](const YAML::Node& n, const std::string& p) { detail::read_log_destination(r, n, p, lg); }),
      R::key("file", [&](const YAML::Node& n, const std::string& p) { detail::read_log_file(r, n, p, lg); }),
      R::key("syslog", [&](const YAML::Node& n, const std::string& p) { detail::read_log_syslog(r, n, p, lg.syslog); }),
  });
}

void read_backend(R& r, const YAML::Node& node, const std::string& path, std::string& backend) {
  std::string name;
  if (!r.read_string(node, path, name)) return;
  name = lowercase(name);
  if (name == "docker" || name == "dockerrun")
    backend = name;
  else if (name == "kubernetes" || name == "kuberun" || name == "sshproxy")
    r.error(path, "\"" + name + "\" is not supported yet (supported: docker, dockerrun)", &node);
  else
    r.error(path, "expected docker or dockerrun, got " + R::describe(node), &node);
}

/// The block the backend runs from: its own block if given, else the other one (a `backend:
/// dockerrun` file may well keep its settings under `docker:`), else the defaults.
const detail::docker_block& choose_docker_block(const std::string& backend, const detail::docker_block& docker,
                                                const detail::docker_block& dockerrun) {
  const detail::docker_block& own = backend == "dockerrun" ? dockerrun : docker;
  const detail::docker_block& other = backend == "dockerrun" ? docker : dockerrun;
  if (own.present || !other.present) return own;
  return other;
}

void read_app(R& r, const YAML::Node& root, app_config& cfg) {
  detail::docker_block docker;
  detail::docker_block dockerrun;
  std::vector<std::string> security_warnings;
  r.read_map(root, "", {
      R::key("ssh", [&](const YAML::Node& n, const std::string& p) { read_ssh(r, n, p, cfg.ssh); }),
      R::key("auth", [&](const YAML::Node& n, const std::string& p) { read_auth(r, n, p, cfg.auth); }),
      R::key("backend", [&](const YAML::Node& n, const std::string& p) { read_backend(r, n, p, cfg.backend); }),
      R::key("instanceId", [&](const YAML::Node& n, const std::string& p) {
        if (r.read_string(n, p, cfg.instance_id) && cfg.instance_id.empty())
          r.error(p, "must not be empty (leave the key out to derive it from the host name and listen address)", &n);
      }),
      R::key("shutdownTimeout", [&](const YAML::Node& n, const std::string& p) { r.read_duration(n, p, cfg.shutdown_timeout); }),
      R::key("docker", [&](const YAML::Node& n, const std::string& p) { docker = detail::read_docker_block(r, n, p); }),
      R::key("dockerrun",
             [&](const YAML::Node& n, const std::string& p) { dockerrun = detail::read_dockerrun_block(r, n, p); }),
      R::key("log", [&](const YAML::Node& n, const std::string& p) { read_log(r, n, p, cfg.log); }),
      R::ignored("audit"),
      R::ignored("geoip"),
      R::key("metrics", [&](const YAML::Node& n, const std::string& p) { detail::read_metrics(r, n, p, cfg.metrics); }),
      R::key("health", [&](const YAML::Node& n, const std::string& p) { detail::read_health(r, n, p, cfg.health); }),
      R::key("configserver",
             [&](const YAML::Node& n, const std::string& p) { detail::read_configserver(r, n, p, cfg.configserver); }),
      R::key("security",
             [&](const YAML::Node& n, const std::string& p) {
               detail::read_security(r, n, p, cfg.security, security_warnings);
             }),
      R::key("limits", [&](const YAML::Node& n, const std::string& p) { detail::read_limits(r, n, p, cfg.limits); }),
      R::ignored("kubernetes"),
      R::ignored("kuberun"),
      R::ignored("sshproxy"),
      R::ignored("listen"),
  });
  const detail::docker_block& chosen = choose_docker_block(cfg.backend, docker, dockerrun);
  cfg.docker = chosen.config;
  cfg.warnings = chosen.warnings;
  cfg.warnings.insert(cfg.warnings.end(), security_warnings.begin(), security_warnings.end());
  detail::validate_docker_block(r, chosen);
  validate_auth(r, cfg.auth);
  detail::validate_configserver(r, cfg.configserver);
  detail::validate_observability(r, cfg);
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += (out.empty() ? "" : "\n") + line;
  return out;
}

}  // namespace

result<app_config> load_from_string(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    std::string where = e.mark.is_null() ? std::string()
                                         : " at line " + std::to_string(e.mark.line + 1) + ", column " +
                                               std::to_string(e.mark.column + 1);
    return fail("CONFIG_INVALID", "configuration is not valid YAML" + where + ": " + e.msg);
  }

  app_config cfg;
  yaml_reader r;
  try {
    read_app(r, root, cfg);
  } catch (const YAML::Exception& e) {
    // Reads check node types first, so this means a yaml-cpp surprise; still report, not crash.
    r.error("configuration", e.what());
  }
  if (!r.errors().empty()) return fail("CONFIG_INVALID", join_lines(r.errors()));
  cfg.ignored_keys = r.ignored();
  cfg.source_text = yaml_text;
  return cfg;
}

result<merged_config> merge_connection_config(const app_config& base, const nlohmann::json& partial) {
  constexpr const char* code = "CONFIG_SERVER_INVALID";
  merged_config out;
  if (partial.is_null() || (partial.is_object() && partial.empty())) {
    out.config = base;
    return out;
  }
  if (!partial.is_object()) return fail(code, "the configuration server's `config` must be an object");
  YAML::Node root;
  YAML::Node answer;
  try {
    root = base.source_text.empty() ? YAML::Node(YAML::NodeType::Map) : YAML::Load(base.source_text);
    // JSON is YAML: strings arrive quoted (so "true" stays a string), numbers and booleans plain.
    answer = YAML::Load(partial.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } catch (const YAML::Exception& e) {
    return fail(code, std::string("cannot merge the configuration server's answer: ") + e.what());
  }
  YAML::Node merged = detail::merge_nodes(root, detail::config_server_sections(answer, out.left_out));

  yaml_reader r;
  try {
    read_app(r, merged, out.config);
  } catch (const YAML::Exception& e) {
    r.error("configuration", e.what());
  }
  if (!r.errors().empty()) {
    // Line numbers would point into the file or into the answer, whichever the key came from:
    // the key paths alone say it unambiguously.
    std::vector<std::string> lines;
    for (std::string line : r.errors()) {
      if (auto at = line.rfind(" (line "); at != std::string::npos && line.ends_with(")")) line.erase(at);
      lines.push_back(std::move(line));
    }
    std::string joined;
    for (const auto& line : lines) joined += (joined.empty() ? "" : "; ") + line;
    return fail(code, "the configuration server's answer makes the configuration invalid: " + joined);
  }
  out.config.ignored_keys = r.ignored();
  out.config.source_text = base.source_text;
  return out;
}

result<app_config> load_from_file(const std::string& path) {
  auto cannot_read = [&path](const std::string& why) {
    return fail("CONFIG_READ_FAILED", "cannot read configuration file " + path + ": " + why);
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return cannot_read("it is a directory");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return cannot_read(errno != 0 ? std::strerror(errno) : "open failed");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return cannot_read("read failed");
  return load_from_string(text.str());
}

}  // namespace cssh::config
