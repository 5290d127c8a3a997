#include "actors/security_policy.hpp"

#include <cctype>

#include <algorithm>
#include <vector>

namespace cssh::security {
namespace {

using config::security_mode;

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string mode_name(security_mode m) {
  switch (m) {
    case security_mode::enable: return "enable";
    case security_mode::filter: return "filter";
    case security_mode::disable: return "disable";
    case security_mode::unset: break;
  }
  return "enable";
}

/// "security.env.mode: disable", or "security.defaultMode: disable" when that is where it came from.
std::string mode_setting(const config::security_config& sec, security_mode own, const std::string& key) {
  if (own != security_mode::unset) return "security." + key + ".mode: " + mode_name(own);
  return "security.defaultMode: " + mode_name(effective_mode(sec, own));
}

decision refuse(std::string code, std::string reason) { return decision{false, std::move(code), std::move(reason)}; }

/// The common shape of env, subsystem and signal: enable minus deny, filter by allow, disable.
decision check_listed(const config::security_config& sec, const config::security_list_policy& policy,
                      const std::string& key, const std::string& code, const std::string& what,
                      const std::string& item) {
  switch (effective_mode(sec, policy.mode)) {
    case security_mode::disable:
      return refuse(code, what + " \"" + item + "\" refused: " + mode_setting(sec, policy.mode, key));
    case security_mode::filter:
      if (contains(policy.allow, item)) return {};
      return refuse(code, what + " \"" + item + "\" refused: not in security." + key + ".allow (" +
                              mode_setting(sec, policy.mode, key) + ")");
    case security_mode::enable:
    case security_mode::unset:
      if (!contains(policy.deny, item)) return {};
      return refuse(code, what + " \"" + item + "\" refused: listed in security." + key + ".deny");
  }
  return {};
}

/// shell and tty: on or off; `filter` has no list to filter by, so it means off.
decision check_switch(const config::security_config& sec, security_mode own, const std::string& key,
                      const std::string& code, const std::string& what) {
  security_mode m = effective_mode(sec, own);
  if (m == security_mode::enable) return {};
  return refuse(code, what + " refused: " + mode_setting(sec, own, key));
}

}  // namespace

security_mode effective_mode(const config::security_config& sec, security_mode own) {
  if (own != security_mode::unset) return own;
  if (sec.default_mode != security_mode::unset) return sec.default_mode;
  return security_mode::enable;
}

decision check_env(const config::security_config& sec, const std::string& name) {
  return check_listed(sec, sec.env, "env", "SECURITY_ENV_REJECTED", "environment variable", name);
}

decision check_tty(const config::security_config& sec) {
  return check_switch(sec, sec.tty, "tty", "SECURITY_TTY_REJECTED", "terminal (pty) allocation");
}

decision check_exec(const config::security_config& sec, const std::string& command) {
  switch (effective_mode(sec, sec.command.mode)) {
    case security_mode::disable:
      return refuse("SECURITY_EXEC_REJECTED",
                    "command execution refused: " + mode_setting(sec, sec.command.mode, "command"));
    case security_mode::filter:
      // Exact matches only: anything looser would be easy to get around with shell syntax.
      if (contains(sec.command.allow, command)) return {};
      return refuse("SECURITY_EXEC_REJECTED", "command execution refused: the command is not in security.command.allow (" +
                                                  mode_setting(sec, sec.command.mode, "command") + ")");
    case security_mode::enable:
    case security_mode::unset:
      break;
  }
  return {};
}

decision check_shell(const config::security_config& sec) {
  return check_switch(sec, sec.shell, "shell", "SECURITY_SHELL_REJECTED", "shell access");
}

decision check_subsystem(const config::security_config& sec, const std::string& name) {
  return check_listed(sec, sec.subsystem, "subsystem", "SECURITY_SUBSYSTEM_REJECTED", "subsystem", name);
}

decision check_signal(const config::security_config& sec, const std::string& name) {
  return check_listed(sec, sec.signal, "signal", "SECURITY_SIGNAL_REJECTED", "signal", name);
}

decision check_new_session(const config::security_config& sec, std::size_t open_sessions) {
  if (sec.max_sessions < 0 || open_sessions < static_cast<std::size_t>(sec.max_sessions)) return {};
  return refuse("SECURITY_MAX_SESSIONS", "too many sessions on this connection: " + std::to_string(open_sessions) +
                                             " open (security.maxSessions: " + std::to_string(sec.max_sessions) + ")");
}

namespace {

bool same_host(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

bool permitted(const std::vector<config::permit_entry>& list, const std::string& host, int port) {
  for (const auto& e : list)
    if ((e.host == "*" || same_host(e.host, host)) && (e.port < 0 || e.port == port)) return true;
  return false;
}

}  // namespace

decision check_forwarding(const config::security_config& sec, ssh::forwarding_kind kind, const std::string& host,
                          int port) {
  const auto& fw = sec.forwarding;
  const char* code = "SECURITY_FORWARDING_REJECTED";
  std::string what;
  std::string key;
  security_mode own = security_mode::disable;
  const std::vector<config::permit_entry>* list = nullptr;
  const char* list_key = "";
  const std::string target = host + ":" + std::to_string(port);
  switch (kind) {
    case ssh::forwarding_kind::local:
      what = "port forwarding (direct-tcpip) to " + target;
      key = "forwardingMode";
      own = fw.forwarding;
      list = &fw.permit_open;
      list_key = "permitOpen";
      break;
    case ssh::forwarding_kind::remote:
      code = "SECURITY_REVERSE_FORWARDING_REJECTED";
      what = "reverse port forwarding (tcpip-forward) on " + target;
      key = "reverseForwardingMode";
      own = fw.reverse_forwarding;
      list = &fw.permit_listen;
      list_key = "permitListen";
      break;
    case ssh::forwarding_kind::x11:
      code = "SECURITY_X11_FORWARDING_REJECTED";
      what = "X11 forwarding";
      key = "x11ForwardingMode";
      own = fw.x11_forwarding;
      break;
    case ssh::forwarding_kind::agent:
      code = "SECURITY_AGENT_FORWARDING_REJECTED";
      what = "agent forwarding";
      key = "agentForwardingMode";
      own = fw.agent_forwarding;
      break;
    case ssh::forwarding_kind::streamlocal:
      return refuse("SECURITY_SOCKET_FORWARDING_REJECTED",
                    "a channel of a type libssh 0.10 cannot parse was refused (Unix-socket forwarding, "
                    "direct-streamlocal@openssh.com, is one: use TCP ports)");
  }
  security_mode m = effective_mode(sec, own);
  if (m == security_mode::disable) {
    std::string setting = own != security_mode::unset ? "security.forwarding." + key + ": " + mode_name(own)
                                                      : "security.defaultMode: " + mode_name(m);
    return refuse(code, what + " refused: " + setting);
  }
  // enable: within the permit list when it has entries; filter: only what it names (agent and
  // X11 have no list: filter admits them as enable does).
  const bool must_match = list != nullptr && (m == security_mode::filter || !list->empty());
  if (must_match && !permitted(*list, host, port))
    return refuse("SECURITY_FORWARDING_NOT_PERMITTED", what + " refused: not in security.forwarding." + list_key);
  return {};
}

decision check_program(const config::security_config& sec, ssh::program_kind kind, const std::string& argument) {
  switch (kind) {
    case ssh::program_kind::exec: return check_exec(sec, argument);
    case ssh::program_kind::shell: return check_shell(sec);
    case ssh::program_kind::subsystem: return check_subsystem(sec, argument);
  }
  return {};
}

program_choice choose_program(const config::security_config& sec, ssh::program_kind kind, const std::string& argument) {
  if (sec.force_command.empty()) return program_choice{kind, argument, false, std::nullopt};
  program_choice forced{ssh::program_kind::exec, sec.force_command, true, std::nullopt};
  if (kind != ssh::program_kind::shell) forced.original_command = argument;
  return forced;
}

}  // namespace cssh::security
