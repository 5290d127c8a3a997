#include "config/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "config/docker_section.hpp"
#include "config/yaml_reader.hpp"

namespace cssh::config {
namespace {

using detail::yaml_reader;
using R = yaml_reader;

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

auto string_into(R& r, std::string& out) {
  return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_string(n, p, out); };
}
auto duration_into(R& r, millis& out) {
  return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_duration(n, p, out); };
}

void read_ssh(R& r, const YAML::Node& node, const std::string& path, ssh_config& ssh) {
  r.read_map(node, path, {
      R::key("listen",
             [&](const YAML::Node& n, const std::string& p) {
               if (!r.read_string(n, p, ssh.listen)) return;
               // Only the shape is checked here; whether the address can be bound is found out at start.
               auto colon = ssh.listen.rfind(':');
               std::string port = colon == std::string::npos ? "" : ssh.listen.substr(colon + 1);
               bool digits = !port.empty() && port.size() <= 5;
               for (char c : port) digits = digits && std::isdigit(static_cast<unsigned char>(c));
               if (!digits || std::stoul(port) > 65535)
                 r.error(p, "expected \"address:port\" such as \"0.0.0.0:2222\", got " + R::describe(n), &n);
             }),
      R::key("hostkeys", [&](const YAML::Node& n, const std::string& p) { r.read_string_list(n, p, ssh.hostkeys); }),
      R::key("serverVersion",
             [&](const YAML::Node& n, const std::string& p) {
               if (!r.read_string(n, p, ssh.server_version)) return;
               // RFC 4253 4.2: the identification line must start like this and is ended by CRLF.
               if (!ssh.server_version.starts_with("SSH-2.0-") ||
                   ssh.server_version.find_first_of("\r\n") != std::string::npos)
                 r.error(p, "must start with \"SSH-2.0-\" and be one line, got " + R::describe(n), &n);
             }),
      R::ignored("ciphers"),
      R::ignored("kex"),
      R::ignored("macs"),
      R::ignored("banner"),
      R::ignored("clientAliveInterval"),
      R::ignored("clientAliveCountMax"),
  });
}

void read_webhook(R& r, const YAML::Node& node, const std::string& path, webhook_client_config& w,
                  std::optional<millis>& auth_timeout) {
  r.read_map(node, path, {
      R::key("url", string_into(r, w.url)),
      R::key("timeout", duration_into(r, w.timeout)),
      R::key("cacert", string_into(r, w.cacert)),
      R::key("cert", string_into(r, w.cert)),
      R::key("key", string_into(r, w.key)),
      // ContainerSSH's per-method overall deadline; password is our only method, so it is ours.
      R::key("authTimeout",
             [&](const YAML::Node& n, const std::string& p) {
               millis t{0};
               if (r.read_duration(n, p, t)) auth_timeout = t;
             }),
      R::ignored("allowRedirects"),
      R::ignored("tlsVersion"),
      R::ignored("curves"),
      R::ignored("cipher"),
  });
}

void read_auth(R& r, const YAML::Node& node, const std::string& path, auth_config& auth) {
  std::optional<millis> webhook_auth_timeout;
  r.read_map(node, path, {
      R::key("password",
             [&](const YAML::Node& n, const std::string& p) {
               r.read_map(n, p, {
                   R::key("method",
                          [&](const YAML::Node& mn, const std::string& mp) {
                            std::string method;
                            if (!r.read_string(mn, mp, method)) return;
                            method = lowercase(method);
                            if (method == "kerberos")
                              r.error(mp, "\"kerberos\" is not supported yet (supported: webhook)", &mn);
                            else if (method != "webhook" && !method.empty())
                              r.error(mp, "expected webhook, got " + R::describe(mn), &mn);
                            else
                              auth.password.method = method;
                          }),
                   R::key("webhook",
                          [&](const YAML::Node& wn, const std::string& wp) {
                            read_webhook(r, wn, wp, auth.password.webhook, webhook_auth_timeout);
                          }),
                   R::ignored("kerberos"),
               });
             }),
      R::key("authTimeout", duration_into(r, auth.auth_timeout)),
      R::ignored("publicKey"),
      R::ignored("keyboardInteractive"),
      R::ignored("gssapi"),
      R::ignored("authz"),
  });
  if (webhook_auth_timeout) auth.auth_timeout = *webhook_auth_timeout;  // the more specific key wins
}

void validate_auth(R& r, const auth_config& auth) {
  if (auth.password.method != "webhook") return;
  const webhook_client_config& w = auth.password.webhook;
  const std::string at = "auth.password.webhook";
  if (w.url.empty())
    r.error(at + ".url", "required when auth.password.method is webhook");
  else if (!w.url.starts_with("http://") && !w.url.starts_with("https://"))
    r.error(at + ".url", "must start with http:// or https://, got " + nlohmann::json(w.url).dump());
  if (!w.cert.empty() && w.key.empty()) r.error(at + ".key", "required when cert is set");
  if (w.cert.empty() && !w.key.empty()) r.error(at + ".cert", "required when key is set");
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
      R::ignored("destination"),
      R::ignored("file"),
      R::ignored("syslog"),
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
  r.read_map(root, "", {
      R::key("ssh", [&](const YAML::Node& n, const std::string& p) { read_ssh(r, n, p, cfg.ssh); }),
      R::key("auth", [&](const YAML::Node& n, const std::string& p) { read_auth(r, n, p, cfg.auth); }),
      R::key("backend", [&](const YAML::Node& n, const std::string& p) { read_backend(r, n, p, cfg.backend); }),
      R::key("docker", [&](const YAML::Node& n, const std::string& p) { docker = detail::read_docker_block(r, n, p); }),
      R::key("dockerrun",
             [&](const YAML::Node& n, const std::string& p) { dockerrun = detail::read_dockerrun_block(r, n, p); }),
      R::key("log", [&](const YAML::Node& n, const std::string& p) { read_log(r, n, p, cfg.log); }),
      R::ignored("audit"),
      R::ignored("geoip"),
      R::ignored("metrics"),
      R::ignored("health"),
      R::ignored("configserver"),
      R::ignored("security"),
      R::ignored("kubernetes"),
      R::ignored("kuberun"),
      R::ignored("sshproxy"),
      R::ignored("listen"),
  });
  const detail::docker_block& chosen = choose_docker_block(cfg.backend, docker, dockerrun);
  cfg.docker = chosen.config;
  detail::validate_docker_block(r, chosen);
  validate_auth(r, cfg.auth);
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
  return cfg;
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
