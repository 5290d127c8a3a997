// The security policy's decisions: ContainerSSH's semantics for each request kind and mode,
// defaultMode's fallback, forceCommand, maxSessions and forwarding.
#include <doctest/doctest.h>

#include <string>

#include "actors/security_policy.hpp"

#include "../test_text.hpp"

using namespace cssh;
using config::security_config;
using config::security_mode;
using ssh::program_kind;
using test_text::contains;

TEST_CASE("policy: an empty security block allows every session request") {
  security_config sec;
  CHECK(security::check_env(sec, "LANG").allowed);
  CHECK(security::check_tty(sec).allowed);
  CHECK(security::check_exec(sec, "rm -rf /").allowed);
  CHECK(security::check_shell(sec).allowed);
  CHECK(security::check_subsystem(sec, "sftp").allowed);
  CHECK(security::check_signal(sec, "KILL").allowed);
  CHECK(security::check_new_session(sec, 1000).allowed);
  CHECK(security::effective_mode(sec, security_mode::unset) == security_mode::enable);
}

TEST_CASE("policy: a request's own mode wins over defaultMode, which wins over enable") {
  security_config sec;
  sec.default_mode = security_mode::disable;
  CHECK(security::effective_mode(sec, security_mode::unset) == security_mode::disable);
  CHECK(security::effective_mode(sec, security_mode::enable) == security_mode::enable);
  auto d = security::check_shell(sec);
  CHECK_FALSE(d.allowed);
  CHECK(d.code == "SECURITY_SHELL_REJECTED");
  CHECK(contains(d.reason, "security.defaultMode: disable"));
  sec.shell = security_mode::enable;
  CHECK(security::check_shell(sec).allowed);
  CHECK_FALSE(security::check_exec(sec, "ls").allowed);
  CHECK_FALSE(security::check_env(sec, "LANG").allowed);
  CHECK_FALSE(security::check_tty(sec).allowed);
  CHECK_FALSE(security::check_subsystem(sec, "sftp").allowed);
  CHECK_FALSE(security::check_signal(sec, "TERM").allowed);
}

TEST_CASE("policy: env: enable minus deny, filter by allow (deny ignored), disable") {
  security_config sec;
  sec.env.allow = {"LANG"};
  sec.env.deny = {"LD_PRELOAD"};
  CHECK(security::check_env(sec, "LANG").allowed);
  CHECK(security::check_env(sec, "TZ").allowed);
  auto d = security::check_env(sec, "LD_PRELOAD");
  CHECK_FALSE(d.allowed);
  CHECK(d.code == "SECURITY_ENV_REJECTED");
  CHECK(contains(d.reason, "\"LD_PRELOAD\""));
  CHECK(contains(d.reason, "security.env.deny"));

  sec.env.mode = security_mode::filter;
  sec.env.deny = {"LANG"};  // filter looks at allow only, as in ContainerSSH
  CHECK(security::check_env(sec, "LANG").allowed);
  d = security::check_env(sec, "TZ");
  CHECK_FALSE(d.allowed);
  CHECK(contains(d.reason, "not in security.env.allow"));

  sec.env.mode = security_mode::disable;
  d = security::check_env(sec, "LANG");
  CHECK_FALSE(d.allowed);
  CHECK(contains(d.reason, "security.env.mode: disable"));
}

TEST_CASE("policy: command: exact matches in filter mode, no deny list") {
  security_config sec;
  sec.command.mode = security_mode::filter;
  sec.command.allow = {"/usr/bin/id", "echo hi"};
  CHECK(security::check_exec(sec, "/usr/bin/id").allowed);
  CHECK(security::check_exec(sec, "echo hi").allowed);
  auto d = security::check_exec(sec, "echo hi; rm -rf /");
  CHECK_FALSE(d.allowed);
  CHECK(d.code == "SECURITY_EXEC_REJECTED");
  CHECK(contains(d.reason, "not in security.command.allow"));
  CHECK_FALSE(security::check_exec(sec, "echo  hi").allowed);
  CHECK_FALSE(security::check_exec(sec, "").allowed);  // filter with nothing listed admits nothing
  sec.command.allow.clear();
  CHECK_FALSE(security::check_exec(sec, "/usr/bin/id").allowed);
  sec.command.mode = security_mode::disable;
  CHECK(contains(security::check_exec(sec, "x").reason, "security.command.mode: disable"));
  sec.command.mode = security_mode::enable;
  CHECK(security::check_exec(sec, "anything at all").allowed);
}

TEST_CASE("policy: shell and tty are on or off; filter means off") {
  security_config sec;
  sec.shell = security_mode::filter;
  sec.tty = security_mode::filter;
  auto shell = security::check_shell(sec);
  auto tty = security::check_tty(sec);
  CHECK_FALSE(shell.allowed);
  CHECK_FALSE(tty.allowed);
  CHECK(tty.code == "SECURITY_TTY_REJECTED");
  CHECK(contains(shell.reason, "security.shell.mode: filter"));
  sec.shell = security_mode::disable;
  CHECK_FALSE(security::check_shell(sec).allowed);
  sec.tty = security_mode::enable;
  CHECK(security::check_tty(sec).allowed);
}

TEST_CASE("policy: subsystem and signal: allow and deny lists") {
  security_config sec;
  sec.subsystem.deny = {"sftp"};
  auto d = security::check_subsystem(sec, "sftp");
  CHECK_FALSE(d.allowed);
  CHECK(d.code == "SECURITY_SUBSYSTEM_REJECTED");
  CHECK(security::check_subsystem(sec, "other").allowed);
  sec.subsystem.mode = security_mode::filter;
  sec.subsystem.allow = {"sftp"};
  CHECK(security::check_subsystem(sec, "sftp").allowed);
  CHECK_FALSE(security::check_subsystem(sec, "other").allowed);

  sec.signal.deny = {"KILL"};
  CHECK(security::check_signal(sec, "TERM").allowed);
  d = security::check_signal(sec, "KILL");
  CHECK_FALSE(d.allowed);
  CHECK(d.code == "SECURITY_SIGNAL_REJECTED");
  // The signal's own mode decides, not shell.mode (ContainerSSH's code mixes them up).
  sec.shell = security_mode::disable;
  CHECK(security::check_signal(sec, "TERM").allowed);
  sec.signal.mode = security_mode::filter;
  sec.signal.allow = {"INT"};
  CHECK(security::check_signal(sec, "INT").allowed);
  CHECK_FALSE(security::check_signal(sec, "TERM").allowed);
  sec.signal.mode = security_mode::disable;
  CHECK_FALSE(security::check_signal(sec, "INT").allowed);
}

TEST_CASE("policy: check_program dispatches by request kind") {
  security_config sec;
  sec.command.mode = security_mode::disable;
  CHECK_FALSE(security::check_program(sec, program_kind::exec, "ls").allowed);
  CHECK(security::check_program(sec, program_kind::shell, "").allowed);
  CHECK(security::check_program(sec, program_kind::subsystem, "sftp").allowed);
}

TEST_CASE("policy: maxSessions counts the sessions open at once; -1 is unlimited, 0 refuses all") {
  security_config sec;
  sec.max_sessions = 2;
  CHECK(security::check_new_session(sec, 0).allowed);
  CHECK(security::check_new_session(sec, 1).allowed);
  auto d = security::check_new_session(sec, 2);
  CHECK_FALSE(d.allowed);
  CHECK(d.code == "SECURITY_MAX_SESSIONS");
  CHECK(contains(d.reason, "security.maxSessions: 2"));
  sec.max_sessions = 0;
  CHECK_FALSE(security::check_new_session(sec, 0).allowed);
  sec.max_sessions = -1;
  CHECK(security::check_new_session(sec, 100000).allowed);
}

TEST_CASE("policy: forceCommand turns every request into an exec of it") {
  security_config sec;
  auto plain = security::choose_program(sec, program_kind::exec, "ls -l");
  CHECK(plain.kind == program_kind::exec);
  CHECK(plain.argument == "ls -l");
  CHECK_FALSE(plain.forced);
  CHECK_FALSE(plain.original_command.has_value());

  sec.force_command = "/usr/bin/menu";
  auto exec = security::choose_program(sec, program_kind::exec, "ls -l");
  CHECK(exec.kind == program_kind::exec);
  CHECK(exec.argument == "/usr/bin/menu");
  CHECK(exec.forced);
  CHECK(exec.original_command == std::optional<std::string>("ls -l"));
  auto shell = security::choose_program(sec, program_kind::shell, "");
  CHECK(shell.kind == program_kind::exec);
  CHECK(shell.argument == "/usr/bin/menu");
  CHECK_FALSE(shell.original_command.has_value());  // as OpenSSH: unset for a shell
  auto sub = security::choose_program(sec, program_kind::subsystem, "sftp");
  CHECK(sub.kind == program_kind::exec);
  CHECK(sub.original_command == std::optional<std::string>("sftp"));
}

TEST_CASE("policy: forwarding is always refused, naming the setting or saying it is not implemented") {
  security_config sec;
  auto local = security::check_forwarding(sec, ssh::forwarding_kind::local);
  CHECK_FALSE(local.allowed);
  CHECK(local.code == "SECURITY_FORWARDING_REJECTED");
  CHECK(contains(local.reason, "security.forwarding.forwardingMode: disable"));
  auto remote = security::check_forwarding(sec, ssh::forwarding_kind::remote);
  CHECK(remote.code == "SECURITY_REVERSE_FORWARDING_REJECTED");
  CHECK(contains(remote.reason, "security.forwarding.reverseForwardingMode: disable"));
  CHECK(security::check_forwarding(sec, ssh::forwarding_kind::x11).code == "SECURITY_X11_FORWARDING_REJECTED");
  CHECK(security::check_forwarding(sec, ssh::forwarding_kind::agent).code == "SECURITY_AGENT_FORWARDING_REJECTED");
  // defaultMode does not turn forwarding on: its own default is disable.
  sec.default_mode = security_mode::enable;
  CHECK(contains(security::check_forwarding(sec, ssh::forwarding_kind::local).reason, "forwardingMode: disable"));
  sec.forwarding.forwarding = security_mode::enable;
  auto enabled = security::check_forwarding(sec, ssh::forwarding_kind::local);
  CHECK_FALSE(enabled.allowed);
  CHECK(contains(enabled.reason, "not implemented by this server"));
  sec.forwarding.x11_forwarding = security_mode::unset;  // explicitly "": defaultMode applies
  sec.default_mode = security_mode::filter;
  CHECK(contains(security::check_forwarding(sec, ssh::forwarding_kind::x11).reason, "security.defaultMode: filter"));
}
