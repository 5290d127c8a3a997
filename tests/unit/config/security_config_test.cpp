// security: (ContainerSSH's request policies) and limits: (this server's caps), from a file and
// from a configuration server's answer.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "config_test_helpers.hpp"

using namespace cssh::config;
using config_test::contains;
using config_test::on_minimal::load_bad;
using config_test::on_minimal::load_ok;

TEST_CASE("security: ContainerSSH's defaults, and limits off") {
  app_config c = load_ok("");
  CHECK(c.security.default_mode == security_mode::unset);
  CHECK(c.security.env.mode == security_mode::unset);
  CHECK(c.security.command.mode == security_mode::unset);
  CHECK(c.security.shell == security_mode::unset);
  CHECK(c.security.subsystem.mode == security_mode::unset);
  CHECK(c.security.tty == security_mode::unset);
  CHECK(c.security.signal.mode == security_mode::unset);
  CHECK(c.security.force_command.empty());
  CHECK(c.security.max_sessions == -1);
  // Forwarding is off unless enabled, whatever defaultMode says.
  CHECK(c.security.forwarding.forwarding == security_mode::disable);
  CHECK(c.security.forwarding.reverse_forwarding == security_mode::disable);
  CHECK(c.security.forwarding.socket_forwarding == security_mode::disable);
  CHECK(c.security.forwarding.socket_listen == security_mode::disable);
  CHECK(c.security.forwarding.x11_forwarding == security_mode::disable);
  CHECK(c.limits.max_connections == -1);
  CHECK(c.limits.max_connections_per_user == -1);
  CHECK(c.limits.max_containers == -1);
}

TEST_CASE("security: every key of the documented block lands in the config") {
  app_config c = load_ok(R"(
security:
  maxSessions: 10
  forceCommand: "/run/this/command"
  defaultMode: disable
  env:
    mode: filter
    allow: [LANG, TZ]
    deny: [LD_PRELOAD]
  command:
    mode: filter
    allow: ["/allow/this/command"]
  shell:
    mode: enable
  subsystem:
    mode: enable
    allow: [sftp]
    deny: [other]
  tty:
    mode: disable
  signal:
    mode: filter
    allow: [TERM]
    deny: [KILL]
  forwarding:
    reverseForwardingMode: filter
    forwardingMode: disable
    socketForwardingMode: ""
    socketListenMode: disable
    x11ForwardingMode: disable
limits:
  maxConnections: 500
  maxConnectionsPerUser: 20
  maxContainers: 300
)");
  const auto& s = c.security;
  CHECK(s.max_sessions == 10);
  CHECK(s.force_command == "/run/this/command");
  CHECK(s.default_mode == security_mode::disable);
  CHECK(s.env.mode == security_mode::filter);
  CHECK(s.env.allow == std::vector<std::string>{"LANG", "TZ"});
  CHECK(s.env.deny == std::vector<std::string>{"LD_PRELOAD"});
  CHECK(s.command.mode == security_mode::filter);
  CHECK(s.command.allow == std::vector<std::string>{"/allow/this/command"});
  CHECK(s.shell == security_mode::enable);
  CHECK(s.subsystem.mode == security_mode::enable);
  CHECK(s.subsystem.allow == std::vector<std::string>{"sftp"});
  CHECK(s.subsystem.deny == std::vector<std::string>{"other"});
  CHECK(s.tty == security_mode::disable);
  CHECK(s.signal.mode == security_mode::filter);
  CHECK(s.signal.allow == std::vector<std::string>{"TERM"});
  CHECK(s.signal.deny == std::vector<std::string>{"KILL"});
  CHECK(s.forwarding.reverse_forwarding == security_mode::filter);
  CHECK(s.forwarding.socket_forwarding == security_mode::unset);  // "" = ContainerSSH's unconfigured
  CHECK(c.limits.max_connections == 500);
  CHECK(c.limits.max_connections_per_user == 20);
  CHECK(c.limits.max_containers == 300);
  CHECK(c.ignored_keys.empty());
  CHECK(c.warnings.empty());
}

TEST_CASE("security: mode values are enable, filter or disable, and errors name the key") {
  std::string msg = load_bad(R"(
security:
  defaultMode: allow
  env: {mode: deny}
  command: {mode: 1}
  shell: {mode: [enable]}
  tty: {mode: maybe}
  subsystem: {mode: no}
  signal: {mode: all}
  forwarding: {forwardingMode: on}
)");
  CHECK(contains(msg, "security.defaultMode: expected one of enable, filter, disable, got \"allow\""));
  CHECK(contains(msg, "security.env.mode: expected one of enable, filter, disable, got \"deny\""));
  CHECK(contains(msg, "security.command.mode: expected one of enable, filter, disable"));
  CHECK(contains(msg, "security.shell.mode: expected a string"));
  CHECK(contains(msg, "security.tty.mode: expected one of enable, filter, disable, got \"maybe\""));
  CHECK(contains(msg, "security.subsystem.mode: expected one of"));
  CHECK(contains(msg, "security.signal.mode: expected one of"));
  CHECK(contains(msg, "security.forwarding.forwardingMode: expected one of"));
}

TEST_CASE("security: unknown keys, wrong shapes and bad numbers are named") {
  std::string msg = load_bad(R"(
security:
  maxSession: 3
  env: {mode: enable, allowed: [A]}
  command: {mode: filter, deny: [x]}
  shell: enable
  subsystem: {allow: sftp}
  forceCommand: [a, b]
  forwarding: {tunnelMode: enable}
)");
  CHECK(contains(msg, "security.maxSession: unknown key"));
  CHECK(contains(msg, "security.env.allowed: unknown key"));
  CHECK(contains(msg, "security.command.deny: unknown key"));  // ContainerSSH has no deny list for commands
  CHECK(contains(msg, "security.shell: expected a map"));
  CHECK(contains(msg, "security.subsystem.allow: expected a list"));
  CHECK(contains(msg, "security.forceCommand: expected a string"));
  CHECK(contains(msg, "security.forwarding.tunnelMode: unknown key"));
  CHECK(contains(load_bad("security:\n  maxSessions: -2\n"), "security.maxSessions: expected an integer between -1"));
  CHECK(contains(load_bad("security:\n  maxSessions: ten\n"), "security.maxSessions: expected an integer"));
  CHECK(contains(load_bad("limits:\n  maxConnectionsPerUser: -5\n"),
                 "limits.maxConnectionsPerUser: expected an integer between -1"));
  CHECK(contains(load_bad("limits:\n  maxContainers: many\n"), "limits.maxContainers: expected an integer"));
  CHECK(contains(load_bad("limits:\n  maxConnection: 3\n"), "limits.maxConnection: unknown key"));
}

TEST_CASE("security: signal lists hold SSH's names, without SIG") {
  std::string msg = load_bad("security:\n  signal:\n    deny: [KILL, SIGTERM, NOPE]\n");
  CHECK(contains(msg, "security.signal.deny[1]: \"SIGTERM\" is not a signal name an SSH client can send (write \"TERM\""));
  CHECK(contains(msg, "security.signal.deny[2]: \"NOPE\" is not a signal name"));
  CHECK_FALSE(contains(msg, "deny[0]"));
}

TEST_CASE("security: enabling TCP, X11 and agent forwarding is accepted without warnings") {
  app_config c = load_ok("security:\n  forwarding:\n    forwardingMode: enable\n    x11ForwardingMode: enable\n");
  CHECK(c.security.forwarding.forwarding == security_mode::enable);
  CHECK(c.security.forwarding.x11_forwarding == security_mode::enable);
  CHECK(c.warnings.empty());
}

TEST_CASE("security: a configuration server's answer sets the connection's policy; limits stay the file's") {
  auto base = load_from_string(config_test::minimal_config + "security:\n  env: {mode: disable}\n  maxSessions: 5\nlimits:\n  maxContainers: 7\n");
  REQUIRE(base.ok());
  nlohmann::json answer = {{"security", {{"command", {{"mode", "filter"}, {"allow", {"ls"}}}},
                                         {"forceCommand", "/bin/true"}}},
                           {"limits", {{"maxContainers", 1000}}}};
  auto merged = merge_connection_config(*base, answer);
  REQUIRE(merged.ok());
  const auto& s = merged->config.security;
  CHECK(s.env.mode == security_mode::disable);  // the file's, kept
  CHECK(s.max_sessions == 5);
  CHECK(s.command.mode == security_mode::filter);
  CHECK(s.command.allow == std::vector<std::string>{"ls"});
  CHECK(s.force_command == "/bin/true");
  CHECK(merged->config.limits.max_containers == 7);  // a config server cannot raise a cap
  CHECK(merged->left_out == std::vector<std::string>{"limits"});
  auto bad = merge_connection_config(*base, {{"security", {{"tty", {{"mode", "sometimes"}}}}}});
  REQUIRE_FALSE(bad.ok());
  CHECK(contains(bad.error().message, "security.tty.mode: expected one of enable, filter, disable"));
}

TEST_CASE("security.forwarding: this server's agentForwardingMode, permitOpen and permitListen") {
  auto c = load_ok(R"(
security:
  forwarding:
    forwardingMode: filter
    agentForwardingMode: enable
    permitOpen: ["127.0.0.1:8080", "*:5432", "[::1]:22", "db.internal:*"]
    permitListen: ["9000", "localhost:9001", "*:*"]
)");
  const auto& fw = c.security.forwarding;
  CHECK(fw.forwarding == security_mode::filter);
  CHECK(fw.agent_forwarding == security_mode::enable);
  REQUIRE(fw.permit_open.size() == 4);
  CHECK(fw.permit_open[0].host == "127.0.0.1");
  CHECK(fw.permit_open[0].port == 8080);
  CHECK(fw.permit_open[1].host == "*");
  CHECK(fw.permit_open[2].host == "::1");
  CHECK(fw.permit_open[2].port == 22);
  CHECK(fw.permit_open[3].port == -1);
  REQUIRE(fw.permit_listen.size() == 3);
  CHECK(fw.permit_listen[0].host == "*");
  CHECK(fw.permit_listen[0].port == 9000);
  CHECK(fw.permit_listen[1].host == "localhost");
  CHECK(fw.permit_listen[2].port == -1);
  CHECK(c.warnings.empty());
}

TEST_CASE("security.forwarding: a bad permit entry names its place; Unix-socket modes warn") {
  std::string msg = load_bad(R"(
security:
  forwarding:
    permitOpen: ["127.0.0.1:8080", "8080"]
)");
  CHECK(contains(msg, "security.forwarding.permitOpen[1]"));
  CHECK(contains(msg, "host:port"));
  msg = load_bad(R"(
security:
  forwarding:
    permitListen: ["::1:80"]
)");
  CHECK(contains(msg, "security.forwarding.permitListen[0]"));
  msg = load_bad(R"(
security:
  forwarding:
    permitOpen: ["host:70000"]
)");
  CHECK(contains(msg, "permitOpen[0]"));
  auto c = load_ok(R"(
security:
  forwarding:
    socketForwardingMode: enable
)");
  REQUIRE(c.warnings.size() == 1);
  CHECK(contains(c.warnings[0], "security.forwarding.socketForwardingMode"));
  CHECK(contains(c.warnings[0], "libssh"));
}
