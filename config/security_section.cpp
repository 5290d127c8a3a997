#include "config/security_section.hpp"

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

void read_forwarding(R& r, const YAML::Node& node, const std::string& path, security_forwarding_config& fw,
                     std::vector<std::string>& warnings) {
  struct entry {
    const char* key;
    security_mode& mode;
  };
  const entry entries[] = {{"reverseForwardingMode", fw.reverse_forwarding},
                           {"forwardingMode", fw.forwarding},
                           {"socketForwardingMode", fw.socket_forwarding},
                           {"socketListenMode", fw.socket_listen},
                           {"x11ForwardingMode", fw.x11_forwarding}};
  std::vector<R::field> fields;
  for (const entry& e : entries) {
    fields.push_back(R::key(e.key, [&r, &e, &warnings](const YAML::Node& n, const std::string& p) {
      mode_into(r, e.mode)(n, p);
      // ContainerSSH's own default for these is disable; an explicit "" falls back to defaultMode.
      if (e.mode == security_mode::enable)
        warnings.push_back(p + ": forwarding is not implemented by this server; such requests are refused");
    }));
  }
  r.read_map(node, path, fields);
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
