#pragma once
// ContainerSSH's `security:` policy as pure decisions: may this request of a session channel
// go ahead, and which program does an admitted request run (forceCommand)? No I/O, no state:
// the caller (the session bridge, on the connection's session thread) logs and answers.
//
// Semantics follow ContainerSSH 0.5/0.6 (internal/security): a request's own mode, else
// `defaultMode`, else enable. `enable` admits all but the `deny` list, `filter` only the
// `allow` list (exact matches), `disable` nothing. `shell` and `tty` know no lists, so `filter`
// there means `disable`; `command` has no deny list. Checks look at what the client asked for;
// forceCommand replaces the program only after they passed.
//
// Two deliberate differences: ContainerSSH decides `signal` requests by `shell.mode` (a bug; its
// documentation says `signal.mode`, which is what is used here), and it never lowers its session
// count when a channel closes, while `maxSessions` is documented (and enforced here) as the
// number of session channels open at the same time.

#include <cstddef>
#include <optional>
#include <string>

#include "config/app_config.hpp"
#include "protocol/ssh/session_events.hpp"

namespace cssh::security {

/// What the policy says about one request. When refused, `code` is the log code
/// (SECURITY_*_REJECTED, ContainerSSH's) and `reason` says why, naming the setting; it is
/// fit for the client's eyes as well as the log.
struct decision {
  bool allowed = true;
  std::string code;
  std::string reason;
};

/// The mode that applies to a request whose own setting is `own`.
config::security_mode effective_mode(const config::security_config& sec, config::security_mode own);

decision check_env(const config::security_config& sec, const std::string& name);
decision check_tty(const config::security_config& sec);
decision check_exec(const config::security_config& sec, const std::string& command);
decision check_shell(const config::security_config& sec);
decision check_subsystem(const config::security_config& sec, const std::string& name);
/// `name` as SSH sends it, without SIG ("TERM").
decision check_signal(const config::security_config& sec, const std::string& name);
/// One more session channel, with `open_sessions` already open on the connection.
decision check_new_session(const config::security_config& sec, std::size_t open_sessions);
/// A forwarding request: -L/-D to `host`:`port`, -R on `host`:`port` (the listen the client
/// asked for), X11, the agent (no host), or Unix sockets (always refused: libssh 0.10 cannot
/// serve them). The refusal names the setting or list that refused it.
decision check_forwarding(const config::security_config& sec, ssh::forwarding_kind kind, const std::string& host = "",
                          int port = -1);
/// One of shell, exec or subsystem.
decision check_program(const config::security_config& sec, ssh::program_kind kind, const std::string& argument);

/// The program an admitted request runs. With forceCommand every request becomes an exec of
/// it; SSH_ORIGINAL_COMMAND is then the exec's command or the subsystem's name, and unset for
/// a shell (as OpenSSH's ForceCommand does).
struct program_choice {
  ssh::program_kind kind;
  std::string argument;
  bool forced = false;
  std::optional<std::string> original_command;
};
program_choice choose_program(const config::security_config& sec, ssh::program_kind kind, const std::string& argument);

}  // namespace cssh::security
