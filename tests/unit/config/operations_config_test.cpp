// Operations keys (issue 10): ssh.proxyProtocol, ssh.idleTimeout, ssh.sessionTimeout and the
// top-level shutdownTimeout.
#include <doctest/doctest.h>

#include <string>

#include "config_test_helpers.hpp"

using namespace cssh::config;
using std::chrono::milliseconds;
using config_test::contains;
using config_test::on_minimal::load_bad;
using config_test::on_minimal::load_ok;

TEST_CASE("operations: defaults are off, shutdownTimeout 30s") {
  app_config c = load_ok("");
  CHECK_FALSE(c.ssh.proxy_protocol.enable);
  CHECK(c.ssh.proxy_protocol.allowed_sources.empty());
  CHECK(c.ssh.proxy_protocol.timeout == milliseconds(5000));
  CHECK(c.ssh.idle_timeout == milliseconds(0));
  CHECK(c.ssh.session_timeout == milliseconds(0));
  CHECK(c.shutdown_timeout == milliseconds(30000));
}

TEST_CASE("operations: every key lands in the config") {
  app_config c = load_ok(R"(
shutdownTimeout: 2m
ssh:
  idleTimeout: 15m
  sessionTimeout: 8h
  proxyProtocol:
    enable: true
    allowedSources: [10.0.0.0/8, "2001:db8::/32", 127.0.0.1]
    timeout: 750ms
)");
  CHECK(c.shutdown_timeout == milliseconds(120000));
  CHECK(c.ssh.idle_timeout == milliseconds(15 * 60 * 1000));
  CHECK(c.ssh.session_timeout == milliseconds(8LL * 3600 * 1000));
  CHECK(c.ssh.proxy_protocol.enable);
  CHECK(c.ssh.proxy_protocol.allowed_sources == std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32", "127.0.0.1"});
  CHECK(c.ssh.proxy_protocol.timeout == milliseconds(750));
}

TEST_CASE("operations: a disabled proxyProtocol block needs no sources") {
  app_config c = load_ok("ssh:\n  proxyProtocol:\n    enable: false\n");
  CHECK_FALSE(c.ssh.proxy_protocol.enable);
}

TEST_CASE("operations: bad values name the key") {
  CHECK(contains(load_bad("ssh:\n  proxyProtocol:\n    enable: true\n"), "ssh.proxyProtocol.allowedSources: required"));
  CHECK(contains(load_bad("ssh:\n  proxyProtocol:\n    enable: yes please\n    allowedSources: [10.0.0.0/8]\n"),
                 "ssh.proxyProtocol.enable"));
  std::string bad_range = load_bad("ssh:\n  proxyProtocol:\n    enable: true\n    allowedSources: [10.0.0.0/8, 10.0.0.0/40]\n");
  CHECK(contains(bad_range, "ssh.proxyProtocol.allowedSources[1]"));
  CHECK(contains(bad_range, "\"10.0.0.0/40\""));
  CHECK(contains(load_bad("ssh:\n  proxyProtocol:\n    allowedSources: [lb.example.com]\n"),
                 "ssh.proxyProtocol.allowedSources[0]"));
  CHECK(contains(load_bad("ssh:\n  proxyProtocol:\n    timeout: 0s\n"), "ssh.proxyProtocol.timeout: must be longer than 0"));
  CHECK(contains(load_bad("ssh:\n  proxyProtocol:\n    enabled: true\n"), "ssh.proxyProtocol.enabled"));
  CHECK(contains(load_bad("ssh:\n  idleTimeout: soon\n"), "ssh.idleTimeout"));
  CHECK(contains(load_bad("ssh:\n  sessionTimeout: -5s\n"), "ssh.sessionTimeout"));
  CHECK(contains(load_bad("shutdownTimeout: [1]\n"), "shutdownTimeout"));
}
