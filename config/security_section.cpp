#include "config/security_section.hpp"

#include <optional>

#include "protocol/ssh/signals.hpp"

namespace cssh::config::detail {
namespace {

using R = yaml_reader;

/// enable, filter or disable; an empty string is ContainerSSH's "unconfigured" (the default applies).
R::read_fn mode_into(R& r, security_mode& out) {
  return [&r, &out](const YAML::Node& n, const std::string& p) {
    std::string text;
    if (!r.read_string(n, p, text)) return;
    if (text.empty()) {
      out = security_mode::unset;
      return;
    }
    r.read_choice<security_mode>(
        n, p, {{"enable", security_mode::enable}, {"filter", security_mode::filter}, {"disable", security_mode::disable}},
        out);
  };
}

R::read_fn list_into(R& r, std::vector<std::string>& out) {
  return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_string_list(n, p, out); };
}

/// Signal lists hold the names SSH sends ("TERM", not "SIGTERM"): a name that can never match
/// would make a deny list silently useless, so it is an error.
R::read_fn signal_list_into(R& r, std::vector<std::string>& out) {
  return [&r, &out](const YAML::Node& n, const std::string& p) {
    std::vector<std::string> names;
    if (!r.read_string_list(n, p, names)) return;
    bool ok = true;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (ssh::is_rfc4254_signal(names[i])) continue;
      std::string hint = names[i].starts_with("SIG") && ssh::is_rfc4254_signal(names[i].substr(3))
                             ? " (write \"" + names[i].substr(3) + "\": without SIG)"
                             : "";
      r.error(p + "[" + std::to_string(i) + "]",
              "\"" + names[i] + "\" is not a signal name an SSH client can send" + hint +
                  "; expected one of ABRT, ALRM, FPE, HUP, ILL, INT, KILL, PIPE, QUIT, SEGV, TERM, USR1, USR2",
              &n);
      ok = false;
    }
    if (ok) out = std::move(names);
  };
}

R::read_fn cap_into(R& r, int& out) {
  return [&r, &out](const YAML::Node& n, const std::string& p) {
    long long value = 0;
    if (r.read_int(n, p, value, -1, 1000000)) out = static_cast<int>(value);
  };
}

/// "host:port", "[v6]:port", "*:port", "host:*"; with `bare_port`, also "port" (any host).
std::optional<permit_entry> parse_permit(const std::string& text, bool bare_port) {
  std::string host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return std::nullopt;  // IPv6 needs brackets
  } else if (bare_port) {
    host = "*";
    port = text;
  } else {
    return std::nullopt;
  }
  if (host.empty() || port.empty()) return std::nullopt;
  permit_entry e{host, -1};
  if (port == "*") return e;
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  e.port = std::stoi(port);
  if (e.port > 65535) return std::nullopt;
  return e;
}

R::read_fn permit_list_into(R& r, std::vector<permit_entry>& out, bool bare_port) {
  return [&r, &out, bare_port](const YAML::Node& n, const std::string& p) {
    std::vector<std::string> texts;
    if (!r.read_string_list(n, p, texts)) return;
    std::vector<permit_entry> entries;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      auto e = parse_permit(texts[i], bare_port);
      if (!e) {
        r.error(p + "[" + std::to_string(i) + "]",
                "\"" + texts[i] + "\" is not " + (bare_port ? "[host:]port" : "host:port") +
                    " (host may be * or [IPv6], port may be *)",
                &n);
        return;
      }
      entries.push_back(*e);
    }
    out = std::move(entries);
  };
}

void read_forwarding(R& r, const YAML::Node& node, const std::string& path, security_forwarding_config& fw,
                     std::vector<std::string>& warnings) {
  auto unix_sockets = [&r, &warnings](security_mode& mode) {
    return [&r, &warnings, &mode](const YAML::Node& n, const std::string& p) {
      mode_into(r, mode)(n, p);
      if (mode == security_mode::enable || mode == security_mode::filter)
        warnings.push_back(p + ": Unix-socket forwarding cannot be served with libssh 0.10; such requests are refused");
    };
  };
  r.read_map(node, path,
             {R::key("reverseForwardingMode", mode_into(r, fw.reverse_forwarding)),
              R::key("forwardingMode", mode_into(r, fw.forwarding)),
              R::key("socketForwardingMode", unix_sockets(fw.socket_forwarding)),
              R::key("socketListenMode", unix_sockets(fw.socket_listen)),
              R::key("x11ForwardingMode", mode_into(r, fw.x11_forwarding)),
              R::key("agentForwardingMode", mode_into(r, fw.agent_forwarding)),
              R::key("permitOpen", permit_list_into(r, fw.permit_open, false)),
              R::key("permitListen", permit_list_into(r, fw.permit_listen, true))});
}

}  // namespace

void read_security(R& r, const YAML::Node& node, const std::string& path, security_config& sec,
                   std::vector<std::string>& warnings) {
  r.read_map(node, path, {
      R::key("defaultMode", mode_into(r, sec.default_mode)),
      R::key("forceCommand", [&](const YAML::Node& n, const std::string& p) { r.read_string(n, p, sec.force_command); }),
      R::key("env",
             [&](const YAML::Node& n, const std::string& p) {
               r.read_map(n, p, {R::key("mode", mode_into(r, sec.env.mode)), R::key("allow", list_into(r, sec.env.allow)),
                                 R::key("deny", list_into(r, sec.env.deny))});
             }),
      R::key("command",
             [&](const YAML::Node& n, const std::string& p) {
               r.read_map(n, p, {R::key("mode", mode_into(r, sec.command.mode)),
                                 R::key("allow", list_into(r, sec.command.allow))});
             }),
      R::key("shell",
             [&](const YAML::Node& n, const std::string& p) { r.read_map(n, p, {R::key("mode", mode_into(r, sec.shell))}); }),
      R::key("subsystem",
             [&](const YAML::Node& n, const std::string& p) {
               r.read_map(n, p, {R::key("mode", mode_into(r, sec.subsystem.mode)),
                                 R::key("allow", list_into(r, sec.subsystem.allow)),
                                 R::key("deny", list_into(r, sec.subsystem.deny))});
             }),
      R::key("tty",
             [&](const YAML::Node& n, const std::string& p) { r.read_map(n, p, {R::key("mode", mode_into(r, sec.tty))}); }),
      R::key("signal",
             [&](const YAML::Node& n, const std::string& p) {
               r.read_map(n, p, {R::key("mode", mode_into(r, sec.signal.mode)),
                                 R::key("allow", signal_list_into(r, sec.signal.allow)),
                                 R::key("deny", signal_list_into(r, sec.signal.deny))});
             }),
      R::key("forwarding",
             [&](const YAML::Node& n, const std::string& p) { read_forwarding(r, n, p, sec.forwarding, warnings); }),
      R::key("maxSessions", cap_into(r, sec.max_sessions)),
  });
}

void read_limits(R& r, const YAML::Node& node, const std::string& path, limits_config& limits) {
  r.read_map(node, path, {
      R::key("maxConnections", cap_into(r, limits.max_connections)),
      R::key("maxConnectionsPerUser", cap_into(r, limits.max_connections_per_user)),
      R::key("maxContainers", cap_into(r, limits.max_containers)),
  });
}

}  // namespace cssh::config::detail
