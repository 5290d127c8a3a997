// One table of invalid configurations: each row is a mistake an operator can make (a wrong type,
// an unknown key, a bad duration, a value outside its range) and the key path the error must name,
// with the words that say what is wrong. Every row is loaded on its own, on top of a minimal valid
// configuration, so a row cannot pass because of another row's error. (No configuration key takes
// a CIDR yet; files named by keys are checked where they are read, in
// tests/unit/docker/unreadable_key_files_test.cpp.)

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config_test_helpers.hpp"

using namespace cssh::config;
using config_test::minimal_config;

namespace {

struct invalid_row {
  const char* what;
  std::string yaml;      // appended to config_test::minimal_config
  const char* key_path;  // the error must name this path ...
  const char* says;      // ... and say this
};

const std::vector<invalid_row> rows = {
    // --- wrong types ---
    {"ssh.listen as a list", "ssh:\n  listen: [a, b]\n", "ssh.listen", "expected"},
    {"ssh.hostkeys as a map", "ssh:\n  hostkeys: {a: b}\n", "ssh.hostkeys", "expected a list"},
    {"ssh.maxStartups as text", "ssh:\n  maxStartups: many\n", "ssh.maxStartups", "\"many\""},
    {"ssh.maxAuthTries as a list", "ssh:\n  maxAuthTries: [1]\n", "ssh.maxAuthTries", "got a list"},
    {"ssh.ciphers as text", "ssh:\n  ciphers: aes\n", "ssh.ciphers", "expected a list"},
    {"auth.password as a list", "auth:\n  password: [webhook]\n", "auth.password", "got a list"},
    {"auth.password.webhook.allowRedirects as text",
     "auth:\n  password:\n    method: webhook\n    webhook: {url: 'http://x', allowRedirects: often}\n",
     "auth.password.webhook.allowRedirects", "expected a boolean"},
    {"configserver.url as a map", "configserver:\n  url: {a: 1}\n", "configserver.url", "got a map"},
    {"log.level as a number", "log:\n  level: [1]\n", "log.level", "got a list"},
    {"metrics.enable as text", "metrics:\n  enable: sure\n", "metrics.enable", "expected a boolean"},
    {"health.enable as a map", "health:\n  enable: {x: 1}\n", "health.enable", "expected a boolean"},
    {"docker.execution.container.env as text", "      env: A=1\n", "docker.execution.container.env",
     "expected a list of strings"},
    {"docker.execution.host.resources.memory as text", "    host:\n      resources:\n        memory: lots\n",
     "docker.execution.host.resources.memory", "\"lots\""},
    {"docker.execution.disableShell as a string", "    disableShell: \"no\"\n", "docker.execution.disableShell",
     "expected a boolean"},
    {"an unknown container key", "      imagee: x\n", "docker.execution.container.imagee", "unknown key"},
    // --- unknown keys, with the path and a suggestion where one is near ---
    {"a misspelt top-level key", "sssh:\n  listen: 127.0.0.1:1\n", "sssh", "unknown key"},
    {"a misspelt ssh key", "ssh:\n  lisen: 127.0.0.1:1\n", "ssh.lisen", "did you mean `listen`"},
    {"a misspelt auth key", "auth:\n  authTimeot: 5s\n", "auth.authTimeot", "unknown key"},
    {"a misspelt webhook key",
     "auth:\n  password:\n    method: webhook\n    webhook: {url: 'http://x', timout: 1s}\n",
     "auth.password.webhook.timout", "did you mean `timeout`"},
    {"a misspelt configserver key", "configserver:\n  urll: http://x\n", "configserver.urll", "unknown key"},
    {"a misspelt metrics key", "metrics:\n  enabel: true\n", "metrics.enabel", "unknown key"},
    // --- bad durations ---
    {"auth.authTimeout without a unit", "auth:\n  authTimeout: 5 minutes\n", "auth.authTimeout",
     "invalid duration"},
    {"ssh.loginGraceTime as words", "ssh:\n  loginGraceTime: forever\n", "ssh.loginGraceTime", "invalid duration"},
    {"a webhook timeout with an unknown unit",
     "auth:\n  password:\n    method: webhook\n    webhook: {url: 'http://x', timeout: 3parsecs}\n",
     "auth.password.webhook.timeout", "invalid duration"},
    {"a webhook timeout of zero",
     "auth:\n  password:\n    method: webhook\n    webhook: {url: 'http://x', timeout: 0s}\n",
     "auth.password.webhook.timeout", "must be more than 0"},
    {"configserver.timeout beyond Go's range", "configserver:\n  url: http://x\n  timeout: 9999999999h\n",
     "configserver.timeout", "\"9999999999h\""},
    {"a negative containerStart", "  timeouts:\n    containerStart: -5s\n", "docker.timeouts.containerStart",
     "-5s"},
    {"a container healthcheck interval as words", "      healthcheck:\n        interval: often\n",
     "docker.execution.container.healthcheck.interval", "\"often\""},
    // --- values outside their range or form ---
    {"ssh.listen without a port", "ssh:\n  listen: localhost\n", "ssh.listen", "address:port"},
    {"an unknown cipher", "ssh:\n  ciphers: [rot13]\n", "ssh.ciphers[0]", "unknown algorithm \"rot13\""},
    {"a webhook URL that is not HTTP",
     "auth:\n  password:\n    method: webhook\n    webhook: {url: 'ftp://x'}\n", "auth.password.webhook.url",
     "must start with http:// or https://"},
    {"a cert without its key",
     "auth:\n  password:\n    method: webhook\n    webhook: {url: 'https://x', cert: /c.pem}\n",
     "auth.password.webhook.key", "required when cert is set"},
    {"a users file method without a path", "auth:\n  password:\n    method: file\n", "auth.password.file.path",
     "required"},
    {"an unknown log format", "log:\n  format: xml\n", "log.format", "expected one of ljson, text"},
    {"an unknown log destination", "log:\n  destination: printer\n", "log.destination", "\"printer\""},
    // --- hostile bytes: the fuzzer's finds (these ended the server with an exception) ---
    {"a wrongly typed value that is not UTF-8", "ssh:\n  maxStartups: \"\xff\xfe\x8d\"\n", "ssh.maxStartups",
     "expected"},
    {"a long wrongly typed value cut inside a UTF-8 character",
     "ssh:\n  maxStartups: \"" + std::string(36, 'x') + "\xc3\xa9\xc3\xa9\xc3\xa9\"\n", "ssh.maxStartups", "..."},
    {"a webhook URL that is not UTF-8",
     "auth:\n  password:\n    method: webhook\n    webhook: {url: \"ftp://\xff\"}\n", "auth.password.webhook.url",
     "must start with http:// or https://"},
};

/// Rows starting with spaces continue minimal_config's docker: block (2: docker, 4: execution,
/// 6: container); the others add top-level keys.
std::string document(const invalid_row& row) { return minimal_config + row.yaml; }

}  // namespace

TEST_CASE("invalid configurations: every error names its key path and the problem") {
  for (const auto& row : rows) {
    CAPTURE(row.what);
    std::string text = document(row);
    CAPTURE(text);
    auto r = load_from_string(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "CONFIG_INVALID");
    const std::string& msg = r.error().message;
    CAPTURE(msg);
    CHECK(msg.find(std::string(row.key_path) + ":") != std::string::npos);
    CHECK(msg.find(row.says) != std::string::npos);
  }
}
