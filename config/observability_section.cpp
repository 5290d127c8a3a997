#include "config/observability_section.hpp"

#include <cctype>

#include "common/log.hpp"

namespace cssh::config::detail {
namespace {

using R = yaml_reader;

constexpr std::string_view no_tls =
    "TLS is not implemented for this server's HTTP endpoints; serve them on a private address or put a "
    "TLS-terminating proxy in front";

/// "address:port" with a numeric port (binding is tried at start).
R::read_fn listen_into(R& r, std::string& out, const char* example) {
  return [&r, &out, example](const YAML::Node& n, const std::string& p) {
    if (!r.read_string(n, p, out)) return;
    auto colon = out.rfind(':');
    std::string port = colon == std::string::npos ? "" : out.substr(colon + 1);
    bool digits = !port.empty() && port.size() <= 5;
    for (char c : port) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (!digits || std::stoul(port) > 65535 || colon == 0)
      r.error(p, std::string("expected \"address:port\" such as \"") + example + "\", got " + R::describe(n), &n);
  };
}

R::read_fn bool_into(R& r, bool& out) {
  return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_bool(n, p, out); };
}

/// ContainerSSH's HTTP server TLS keys: refused (a certificate means the operator expects TLS),
/// and the settings that only matter with one ignored.
std::vector<R::field> tls_server_keys() {
  return {R::rejected("cert", no_tls),      R::rejected("key", no_tls), R::rejected("clientcacert", no_tls),
          R::ignored("tlsVersion"),         R::ignored("curves"),      R::ignored("cipher")};
}

std::vector<R::field> with(std::vector<R::field> fields, std::vector<R::field> more) {
  for (auto& f : more) fields.push_back(std::move(f));
  return fields;
}

}  // namespace

void read_metrics(R& r, const YAML::Node& node, const std::string& path, metrics_config& out) {
  r.read_map(node, path,
             with(
                 {
                     R::key("enable", bool_into(r, out.enable)),
                     R::key("listen", listen_into(r, out.listen, "0.0.0.0:9100")),
                     R::key("path",
                            [&](const YAML::Node& n, const std::string& p) {
                              if (!r.read_string(n, p, out.path)) return;
                              if (out.path.empty() || out.path.front() != '/' ||
                                  out.path.find_first_of(" ?#\r\n") != std::string::npos)
                                r.error(p, "expected a URL path starting with \"/\" such as \"/metrics\", got " +
                                               R::describe(n),
                                        &n);
                            }),
                 },
                 tls_server_keys()));
}

void read_health(R& r, const YAML::Node& node, const std::string& path, health_config& out) {
  r.read_map(node, path,
             with(
                 {
                     R::key("enable", bool_into(r, out.enable)),
                     R::key("listen", listen_into(r, out.listen, "0.0.0.0:7000")),
                     R::key("client",
                            [&](const YAML::Node& n, const std::string& p) {
                              r.read_map(n, p, {
                                  R::key("url",
                                         [&](const YAML::Node& v, const std::string& vp) {
                                           if (!r.read_string(v, vp, out.client_url)) return;
                                           if (out.client_url.rfind("http://", 0) != 0)
                                             r.error(vp, "expected an http:// URL such as \"http://127.0.0.1:7000/\", got " +
                                                             R::describe(v),
                                                     &v);
                                         }),
                                  R::key("timeout",
                                         [&](const YAML::Node& v, const std::string& vp) {
                                           r.read_duration(v, vp, out.client_timeout);
                                         }),
                                  R::ignored("allowRedirects"),
                                  R::ignored("cacert"),
                                  R::ignored("cert"),
                                  R::ignored("key"),
                                  R::ignored("tlsVersion"),
                                  R::ignored("curves"),
                                  R::ignored("cipher"),
                              });
                            }),
                 },
                 tls_server_keys()));
}

void read_log_destination(R& r, const YAML::Node& node, const std::string& path, log_config& out) {
  r.read_choice<std::string>(node, path, {{"stdout", "stdout"}, {"file", "file"}, {"syslog", "syslog"}},
                             out.destination);
}

void read_log_file(R& r, const YAML::Node& node, const std::string& path, log_config& out) {
  r.read_string(node, path, out.file);
}

void read_log_syslog(R& r, const YAML::Node& node, const std::string& path, syslog_config& out) {
  r.read_map(node, path, {
      R::key("destination",
             [&](const YAML::Node& n, const std::string& p) {
               if (!r.read_string(n, p, out.destination)) return;
               bool udp = out.destination.rfind("udp://", 0) == 0;
               if (!udp && (out.destination.empty() || out.destination.front() != '/'))
                 r.error(p, "expected a Unix socket path such as \"/dev/log\" or \"udp://host:port\", got " +
                                R::describe(n),
                         &n);
             }),
      R::key("facility",
             [&](const YAML::Node& n, const std::string& p) {
               if (!r.read_string(n, p, out.facility)) return;
               if (log::syslog_facility(out.facility) < 0)
                 r.error(p,
                         "expected a syslog facility (kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, "
                         "authpriv, ftp, ntp, logaudit, logalert, clock, local0 ... local7), got " +
                             R::describe(n),
                         &n);
             }),
      R::key("tag", [&](const YAML::Node& n, const std::string& p) { r.read_string(n, p, out.tag); }),
      R::key("pid", bool_into(r, out.pid)),
  });
}

void validate_observability(R& r, const app_config& cfg) {
  if (cfg.log.destination == "file" && cfg.log.file.empty())
    r.error("log.file", "required when log.destination is \"file\"");
  if (cfg.metrics.enable && cfg.health.enable && cfg.metrics.listen == cfg.health.listen)
    r.error("health.listen", "must differ from metrics.listen (" + cfg.metrics.listen + ")");
}

}  // namespace cssh::config::detail
