// metrics:, health: and log: destination keys (ContainerSSH's names and defaults).
#include <doctest/doctest.h>

#include <string>

#include "config_test_helpers.hpp"

using namespace cssh::config;
using std::chrono::milliseconds;
using config_test::contains;
using config_test::on_minimal::load_bad;
using config_test::on_minimal::load_ok;

TEST_CASE("observability: ContainerSSH's defaults") {
  app_config c = load_ok("");
  CHECK_FALSE(c.metrics.enable);
  CHECK(c.metrics.listen == "0.0.0.0:9100");
  CHECK(c.metrics.path == "/metrics");
  CHECK_FALSE(c.health.enable);
  CHECK(c.health.listen == "0.0.0.0:7000");
  CHECK(c.health.client_url == "http://127.0.0.1:7000/");
  CHECK(c.log.destination == "stdout");
  CHECK(c.log.file == "/var/log/containerssh/containerssh.log");
  CHECK(c.log.syslog.destination == "/dev/log");
  CHECK(c.log.syslog.facility == "auth");
  CHECK(c.log.syslog.tag == "ContainerSSH");
  CHECK_FALSE(c.log.syslog.pid);
  CHECK(c.ignored_keys.empty());
}

TEST_CASE("observability: every key lands in the config") {
  app_config c = load_ok(R"(
metrics:
  enable: true
  listen: 127.0.0.1:9200
  path: /prom
health:
  enable: true
  listen: "[::1]:7100"
  client:
    url: http://127.0.0.1:7100/
    timeout: 500ms
log:
  level: debug
  format: ljson
  destination: syslog
  file: /tmp/x.log
  syslog:
    destination: udp://127.0.0.1:5514
    facility: local3
    tag: cssh-test
    pid: true
)");
  CHECK(c.metrics.enable);
  CHECK(c.metrics.listen == "127.0.0.1:9200");
  CHECK(c.metrics.path == "/prom");
  CHECK(c.health.enable);
  CHECK(c.health.listen == "[::1]:7100");
  CHECK(c.health.client_url == "http://127.0.0.1:7100/");
  CHECK(c.health.client_timeout == milliseconds(500));
  CHECK(c.log.format == "ljson");
  CHECK(c.log.destination == "syslog");
  CHECK(c.log.file == "/tmp/x.log");
  CHECK(c.log.syslog.destination == "udp://127.0.0.1:5514");
  CHECK(c.log.syslog.facility == "local3");
  CHECK(c.log.syslog.tag == "cssh-test");
  CHECK(c.log.syslog.pid);
}

TEST_CASE("observability: mistakes name their key") {
  CHECK(contains(load_bad("metrics: {listen: nowhere}\n"), "metrics.listen: expected \"address:port\""));
  CHECK(contains(load_bad("metrics: {path: metrics}\n"), "metrics.path: expected a URL path"));
  CHECK(contains(load_bad("metrics: {enable: maybe}\n"), "metrics.enable"));
  CHECK(contains(load_bad("health: {listen: \":x\"}\n"), "health.listen"));
  CHECK(contains(load_bad("health: {client: {url: https://h/}}\n"), "health.client.url: expected an http:// URL"));
  CHECK(contains(load_bad("metrics: {cert: /x.pem}\n"), "metrics.cert"));
  CHECK(contains(load_bad("log: {destination: journal}\n"), "log.destination: expected one of stdout, file, syslog"));
  CHECK(contains(load_bad("log: {syslog: {facility: nope}}\n"), "log.syslog.facility: expected a syslog facility"));
  CHECK(contains(load_bad("log: {syslog: {destination: dev/log}}\n"), "log.syslog.destination"));
  CHECK(contains(load_bad("log: {destination: file, file: \"\"}\n"), "log.file: required"));
  CHECK(contains(load_bad("metrics: {enable: true, listen: \"127.0.0.1:9000\"}\nhealth: {enable: true, listen: "
                          "\"127.0.0.1:9000\"}\n"),
                 "health.listen: must differ from metrics.listen"));
  CHECK(contains(load_bad("metrics: {enabled: true}\n"), "metrics.enabled"));
}
