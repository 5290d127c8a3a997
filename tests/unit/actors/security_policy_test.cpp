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

TEST_CASE("policy: forwarding is off by default, naming the setting that refuses it") {
  security_config sec;
  auto local = security::check_forwarding(sec, ssh::forwarding_kind::local, "127.0.0.1", 80);
  CHECK_FALSE(local.allowed);
  CHECK(local.code == "SECURITY_FORWARDING_REJECTED");
  CHECK(contains(local.reason, "security.forwarding.forwardingMode: disable"));
  CHECK(contains(local.reason, "127.0.0.1:80"));
  auto remote = security::check_forwarding(sec, ssh::forwarding_kind::remote, "localhost", 0);
  CHECK(remote.code == "SECURITY_REVERSE_FORWARDING_REJECTED");
  CHECK(contains(remote.reason, "security.forwarding.reverseForwardingMode: disable"));
  CHECK(security::check_forwarding(sec, ssh::forwarding_kind::x11).code == "SECURITY_X11_FORWARDING_REJECTED");
  auto agent = security::check_forwarding(sec, ssh::forwarding_kind::agent);
  CHECK(agent.code == "SECURITY_AGENT_FORWARDING_REJECTED");
  CHECK(contains(agent.reason, "agentForwardingMode: disable"));
  // defaultMode does not turn forwarding on: its own default is disable.
  sec.default_mode = security_mode::enable;
  CHECK(contains(security::check_forwarding(sec, ssh::forwarding_kind::local).reason, "forwardingMode: disable"));
  sec.forwarding.forwarding = security_mode::enable;
  CHECK(security::check_forwarding(sec, ssh::forwarding_kind::local, "db", 5432).allowed);
  sec.forwarding.x11_forwarding = security_mode::unset;  // explicitly "": defaultMode applies
  sec.default_mode = security_mode::disable;
  CHECK(contains(security::check_forwarding(sec, ssh::forwarding_kind::x11).reason, "security.defaultMode: disable"));
  // Unix sockets cannot be served whatever the mode.
  sec.forwarding.socket_forwarding = security_mode::enable;
  auto sockets = security::check_forwarding(sec, ssh::forwarding_kind::streamlocal);
  CHECK_FALSE(sockets.allowed);
  CHECK(sockets.code == "SECURITY_SOCKET_FORWARDING_REJECTED");
}

TEST_CASE("policy: permitOpen and permitListen, as sshd's PermitOpen / PermitListen") {
  security_config sec;
  sec.forwarding.forwarding = security_mode::enable;
  sec.forwarding.reverse_forwarding = security_mode::filter;
  // enable with an empty list: anywhere; filter with an empty list: nowhere.
  CHECK(security::check_forwarding(sec, ssh::forwarding_kind::local, "example.org", 443).allowed);
  auto none = security::check_forwarding(sec, ssh::forwarding_kind::remote, "localhost", 8080);
  CHECK_FALSE(none.allowed);
  CHECK(none.code == "SECURITY_FORWARDING_NOT_PERMITTED");
  CHECK(contains(none.reason, "permitListen"));
  sec.forwarding.permit_open = {{"127.0.0.1", 8080}, {"*", 5432}, {"DB.internal", -1}};
  sec.forwarding.permit_listen = {{"*", 9000}};
  CHECK(security::check_forwarding(sec, ssh::forwarding_kind::local, "127.0.0.1", 8080).allowed);
  CHECK_FALSE(security::check_forwarding(sec, ssh::forwarding_kind::local, "127.0.0.1", 8081).allowed);
  CHECK(security::check_forwarding(sec, ssh::forwarding_kind::local, "anything", 5432).allowed);
  CHECK(security::check_forwarding(sec, ssh::forwarding_kind::local, "db.INTERNAL", 1).allowed);  // names: any case
  auto outside = security::check_forwarding(sec, ssh::forwarding_kind::local, "example.org", 443);
  CHECK(outside.code == "SECURITY_FORWARDING_NOT_PERMITTED");
  CHECK(contains(outside.reason, "permitOpen"));
  CHECK(security::check_forwarding(sec, ssh::forwarding_kind::remote, "localhost", 9000).allowed);
  CHECK_FALSE(security::check_forwarding(sec, ssh::forwarding_kind::remote, "localhost", 9001).allowed);
  // Agent and X11 have no list: filter admits them as enable does.
  sec.forwarding.agent_forwarding = security_mode::filter;
  CHECK(security::check_forwarding(sec, ssh::forwarding_kind::agent).allowed);
}
