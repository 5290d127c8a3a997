// The auth: and configserver: blocks: current layout, the built-in users file, authz, and
// ContainerSSH 0.4's legacy `auth: {url, password, pubkey}` layout.

#include <doctest/doctest.h>

#include <string>

#include "config_test_helpers.hpp"

using namespace cssh::config;
using std::chrono::milliseconds;
using config_test::contains;
using config_test::on_minimal::load_bad;
using config_test::on_minimal::load_ok;

TEST_CASE("auth: every method with its webhook client settings") {
  app_config c = load_ok(R"(
auth:
  password:
    method: webhook
    webhook:
      url: https://auth.example:8443/hooks
      timeout: 3s
      cacert: /etc/ca.pem
      cert: /etc/client.pem
      key: /etc/client.key
      allowRedirects: true
      tlsVersion: "1.3"
  publicKey:
    method: webhook
    webhook: {url: http://127.0.0.1:8080}
  authz:
    method: webhook
    webhook: {url: http://127.0.0.1:8081/authz-base, timeout: 500ms}
  authTimeout: 30s
)");
  CHECK(c.auth.password.method == "webhook");
  CHECK(c.auth.password.webhook.url == "https://auth.example:8443/hooks");
  CHECK(c.auth.password.webhook.timeout == milliseconds(3000));
  CHECK(c.auth.password.webhook.cacert == "/etc/ca.pem");
  CHECK(c.auth.password.webhook.cert == "/etc/client.pem");
  CHECK(c.auth.password.webhook.key == "/etc/client.key");
  CHECK(c.auth.password.webhook.allow_redirects);
  CHECK(c.auth.public_key.method == "webhook");
  CHECK_FALSE(c.auth.public_key.webhook.allow_redirects);
  CHECK(c.auth.authz.method == "webhook");
  CHECK(c.auth.authz.webhook.timeout == milliseconds(500));
  CHECK(c.auth.auth_timeout == milliseconds(30000));
  CHECK(c.ignored_keys == std::vector<std::string>{"auth.password.webhook.tlsVersion"});
}

TEST_CASE("auth: the built-in users file") {
  app_config c = load_ok("auth:\n  password:\n    method: file\n    file: {path: /etc/cssh/users.yaml}\n"
                    "  publicKey:\n    method: FILE\n    file:\n      path: /etc/cssh/users.yaml\n");
  CHECK(c.auth.password.method == "file");
  CHECK(c.auth.password.file.path == "/etc/cssh/users.yaml");
  CHECK(c.auth.public_key.method == "file");
  CHECK(contains(load_bad("auth:\n  password:\n    method: file\n"), "auth.password.file.path: required when the method is file"));
  CHECK(contains(load_bad("auth:\n  password:\n    method: file\n    file: {paht: x}\n"),
                 "auth.password.file.paht: unknown key"));
  CHECK(contains(load_bad("auth:\n  authz:\n    method: file\n"), "auth.authz.method: expected webhook, got \"file\""));
  CHECK(contains(load_bad("auth:\n  password:\n    method: kerberos\n"), "\"kerberos\" is not supported yet"));
}

TEST_CASE("auth: webhook settings are checked") {
  CHECK(contains(load_bad("auth:\n  authz:\n    method: webhook\n"), "auth.authz.webhook.url: required when the method is webhook"));
  CHECK(contains(load_bad("auth:\n  publicKey:\n    method: webhook\n    webhook: {url: ftp://x}\n"),
                 "auth.publicKey.webhook.url: must start with http:// or https://"));
  CHECK(contains(load_bad("auth:\n  password:\n    method: webhook\n    webhook: {url: 'http://x', key: /k}\n"),
                 "auth.password.webhook.cert: required when key is set"));
  CHECK(contains(load_bad("auth:\n  password:\n    method: webhook\n    webhook: {url: 'http://x', timeout: 0s}\n"),
                 "auth.password.webhook.timeout: must be more than 0"));
  CHECK(contains(load_bad("auth:\n  password:\n    method: webhook\n    webhook: {url: 'http://x', allowRedirects: maybe}\n"),
                 "auth.password.webhook.allowRedirects: expected a boolean"));
  CHECK(contains(load_bad("auth:\n  authTimeout: 10ms\n"), "auth.authTimeout: must be at least 100ms"));
}

TEST_CASE("auth: ContainerSSH 0.4's legacy layout is the webhook for both methods") {
  app_config c = load_ok("auth:\n  url: http://127.0.0.1:8080/auth\n  timeout: 5s\n  password: true\n  pubkey: true\n");
  CHECK(c.auth.password.method == "webhook");
  CHECK(c.auth.password.webhook.url == "http://127.0.0.1:8080/auth");
  CHECK(c.auth.password.webhook.timeout == milliseconds(5000));
  CHECK(c.auth.public_key.method == "webhook");
  CHECK(c.auth.public_key.webhook.url == "http://127.0.0.1:8080/auth");

  SUBCASE("both default to on") {
    app_config d = load_ok("auth:\n  url: http://127.0.0.1:8080\n");
    CHECK(d.auth.password.method == "webhook");
    CHECK(d.auth.public_key.method == "webhook");
  }
  SUBCASE("either can be switched off") {
    app_config d = load_ok("auth:\n  url: http://127.0.0.1:8080\n  pubkey: false\n");
    CHECK(d.auth.password.method == "webhook");
    CHECK(d.auth.public_key.method.empty());
    app_config e = load_ok("auth:\n  url: http://127.0.0.1:8080\n  password: false\n");
    CHECK(e.auth.password.method.empty());
    CHECK(e.auth.public_key.method == "webhook");
  }
  SUBCASE("TLS settings apply to the legacy client") {
    app_config d = load_ok("auth:\n  url: https://h\n  cacert: /ca.pem\n  cert: /c.pem\n  key: /k.pem\n");
    CHECK(d.auth.public_key.webhook.cacert == "/ca.pem");
    CHECK(d.auth.password.webhook.key == "/k.pem");
  }
  SUBCASE("the legacy url with a new-style method block for the same method is an error") {
    CHECK(contains(load_bad("auth:\n  url: http://h\n  pubkey: true\n  publicKey:\n    method: webhook\n    webhook: {url: http://h}\n"),
                   "auth.url: both the legacy auth.url and auth.publicKey are configured"));
    CHECK(contains(load_bad("auth:\n  url: http://h\n  password: true\n  password:\n    method: file\n"),
                   "given more than once"));
    // Without an explicit `pubkey: true`, the method block decides public keys.
    app_config b = load_ok("auth:\n  url: http://h\n  publicKey:\n    method: webhook\n    webhook: {url: 'http://k'}\n");
    CHECK(b.auth.password.webhook.url == "http://h");
    CHECK(b.auth.public_key.webhook.url == "http://k");
    app_config d = load_ok("auth:\n  url: http://h\n  pubkey: false\n  publicKey:\n    method: file\n    file: {path: /u}\n");
    CHECK(d.auth.password.method == "webhook");
    CHECK(d.auth.public_key.method == "file");
  }
  SUBCASE("legacy keys without the url say so") {
    CHECK(contains(load_bad("auth:\n  timeout: 5s\n"), "auth.timeout: belongs to the legacy layout, which needs auth.url"));
    CHECK(contains(load_bad("auth:\n  password: true\n"), "auth.password: a boolean is the legacy layout"));
    CHECK(contains(load_bad("auth:\n  pubkey: true\n"), "auth.pubkey: belongs to the legacy layout"));
  }
}

TEST_CASE("auth: webhook.authTimeout still sets the login deadline") {
  app_config c = load_ok("auth:\n  authTimeout: 10s\n  password:\n    method: webhook\n    webhook:\n      url: http://x\n"
                    "      authTimeout: 20s\n");
  CHECK(c.auth.auth_timeout == milliseconds(20000));
}

TEST_CASE("configserver") {
  app_config c = load_ok("configserver:\n  url: http://127.0.0.1:9000/config\n  timeout: 1s\n  allowRedirects: true\n");
  CHECK(c.configserver.url == "http://127.0.0.1:9000/config");
  CHECK(c.configserver.timeout == milliseconds(1000));
  CHECK(c.configserver.allow_redirects);
  CHECK(load_ok("").configserver.url.empty());
  CHECK(load_ok("configserver:\n  timeout: 3s\n").configserver.url.empty());  // no url: no config server
  CHECK(contains(load_bad("configserver:\n  cacert: /ca.pem\n"), "configserver.url: required when other configserver settings"));
  CHECK(contains(load_bad("configserver:\n  url: config.example\n"), "configserver.url: must start with http:// or https://"));
  CHECK(contains(load_bad("configserver:\n  url: http://x\n  cert: /c\n"), "configserver.key: required when cert is set"));
  CHECK(contains(load_bad("configserver:\n  uri: http://x\n"), "configserver.uri: unknown key (did you mean `url`?)"));
}

TEST_CASE("the loaded text is kept for config server merges") {
  auto r = load_from_string(config_test::minimal_config);
  REQUIRE(r.ok());
  CHECK(r->source_text == config_test::minimal_config);
}
