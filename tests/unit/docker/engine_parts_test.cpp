// The Engine client's pure parts: API version rules, pull progress parsing, registry
// credentials encoding, and how docker.connection becomes an endpoint.

#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>
#include <string>

#include "docker/api_version.hpp"
#include "docker/engine_connection.hpp"
#include "docker/pull_progress.hpp"
#include "docker/registry_auth.hpp"

namespace docker = cssh::docker;
namespace config = cssh::config;

namespace {

/// Go's base64.URLEncoding back to bytes (the Engine's side of X-Registry-Auth).
std::string decode_base64url(std::string text) {
  for (auto& c : text) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  std::string out(text.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  REQUIRE(n >= 0);
  out.resize(static_cast<std::size_t>(n));
  while (!text.empty() && text.back() == '=') {
    text.pop_back();
    out.pop_back();  // EVP_DecodeBlock counts padding as zero bytes
  }
  return out;
}

}  // namespace

TEST_CASE("API versions compare as numbers") {
  CHECK(docker::api_older("1.9", "1.41"));
  CHECK(docker::api_older("1.24", "1.25"));
  CHECK_FALSE(docker::api_older("1.41", "1.41"));
  CHECK_FALSE(docker::api_older("2.0", "1.41"));
  CHECK(docker::api_older("junk", "1.18"));
  CHECK_FALSE(docker::parse_api_version("1."));
  CHECK_FALSE(docker::parse_api_version(".5"));
  CHECK_FALSE(docker::parse_api_version("v1.41"));
  CHECK(docker::parse_api_version("1.41") == std::pair{1, 41});
  CHECK(docker::wait_condition_supported("1.30"));
  CHECK_FALSE(docker::wait_condition_supported("1.29"));
}

TEST_CASE("create body: fields an old API lacks are dropped (Init) or refused with the version") {
  nlohmann::json body = {{"Image", "x"}, {"HostConfig", {{"Init", true}, {"NetworkMode", "none"}}}};
  std::vector<std::string> dropped;
  auto same = docker::adapt_create_body(body, "1.41", "Docker Engine 20.10.24", dropped);
  REQUIRE(same.ok());
  CHECK(same.value() == body);
  CHECK(dropped.empty());

  auto old = docker::adapt_create_body(body, "1.24", "Docker Engine 1.12.6 (API 1.24)", dropped);
  REQUIRE(old.ok());
  CHECK_FALSE(old.value()["HostConfig"].contains("Init"));
  CHECK(old.value()["HostConfig"]["NetworkMode"] == "none");
  CHECK(dropped == std::vector<std::string>{"HostConfig.Init (API 1.25)"});

  body["HostConfig"]["Mounts"] = nlohmann::json::array({{{"Type", "tmpfs"}, {"Target", "/x"}}});
  dropped.clear();
  auto refused = docker::adapt_create_body(body, "1.24", "Docker Engine 1.12.6 (API 1.24)", dropped);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "DOCKER_API_TOO_OLD");
  CHECK(refused.error().message ==
        "HostConfig.Mounts needs Engine API 1.25, but this connection speaks API 1.24 (Docker Engine 1.12.6 (API 1.24))");

  // An empty setting asks for nothing: removed silently, not refused.
  nlohmann::json empty_mounts = {{"Image", "x"}, {"HostConfig", {{"Mounts", nlohmann::json::array()}}}};
  dropped.clear();
  auto quiet = docker::adapt_create_body(empty_mounts, "1.18", "e", dropped);
  REQUIRE(quiet.ok());
  CHECK_FALSE(quiet.value()["HostConfig"].contains("Mounts"));
  CHECK(dropped.empty());
}

TEST_CASE("pull progress: split lines, layer summary, final status, and the error that ends a pull") {
  docker::pull_progress p;
  std::string stream =
      "{\"status\":\"Pulling from cssh/guest\",\"id\":\"v1\"}\r\n"
      "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"aaa\"}\r\n"
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1048576,\"total\":4194304},\"id\":\"aaa\"}\r\n"
      "{\"status\":\"Already exists\",\"progressDetail\":{},\"id\":\"bbb\"}\r\n";
  // Fed in awkward pieces: lines split anywhere.
  for (std::size_t i = 0; i < stream.size(); i += 7) p.feed(std::string_view(stream).substr(i, 7));
  CHECK(p.summary() == "1 of 2 layers done, 1.0 MiB of 4.0 MiB downloaded");
  CHECK_FALSE(p.error());
  p.feed("{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"aaa\"}\n{\"status\":\"Status: Downloaded newer image for x\"}");
  p.finish();
  CHECK(p.summary() == "2 of 2 layers done, 4.0 MiB of 4.0 MiB downloaded");
  CHECK(p.final_status() == "Status: Downloaded newer image for x");
  CHECK(p.lines() == 6);

  docker::pull_progress failed;
  failed.feed("{\"status\":\"Pulling from a\"}\n{\"errorDetail\":{\"message\":\"unauthorized: authentication required\"},"
              "\"error\":\"unauthorized: authentication required\"}\n");
  REQUIRE(failed.error());
  CHECK(*failed.error() == "unauthorized: authentication required");
  docker::pull_progress nothing;
  CHECK(nothing.summary() == "waiting for the registry");
}

TEST_CASE("registry auth: base64url JSON with only the fields that are set; nothing when empty") {
  config::registry_auth_config none;
  CHECK(docker::encode_registry_auth(none).empty());
  config::registry_auth_config a;
  a.username = "alice";
  a.password = "s3cr3t?>>";  // bytes that would be '+' or '/' in standard base64
  a.serveraddress = "127.0.0.1:5000";
  auto encoded = docker::encode_registry_auth(a);
  CHECK(encoded.find_first_of("+/") == std::string::npos);
  auto json = nlohmann::json::parse(decode_base64url(encoded));
  CHECK(json == nlohmann::json{{"username", "alice"}, {"password", "s3cr3t?>>"}, {"serveraddress", "127.0.0.1:5000"}});
  config::registry_auth_config packed;
  packed.auth = "dXNlcjpwYTpzcw==";  // "user:pa:ss"
  CHECK(nlohmann::json::parse(decode_base64url(docker::encode_registry_auth(packed))) ==
        nlohmann::json{{"username", "user"}, {"password", "pa:ss"}, {"auth", "dXNlcjpwYTpzcw=="}});
  config::registry_auth_config token;
  token.identitytoken = "tok";
  CHECK(nlohmann::json::parse(decode_base64url(docker::encode_registry_auth(token))) ==
        nlohmann::json{{"identitytoken", "tok"}});
}

TEST_CASE("engine connection: unix, plain TCP with the danger warning, TLS by settings or https") {
  config::docker_connection_config c;
  auto unix_conn = docker::make_engine_connection(c);
  REQUIRE(unix_conn.ok());
  CHECK(unix_conn->endpoint.kind == cssh::http::endpoint::transport::unix_socket);
  CHECK(unix_conn->warnings.empty());
  CHECK_FALSE(unix_conn->plain_tcp);

  c.host = "tcp://127.0.0.1:2375";
  auto plain = docker::make_engine_connection(c);
  REQUIRE(plain.ok());
  CHECK(plain->plain_tcp);
  CHECK_FALSE(plain->endpoint.tls);
  REQUIRE(plain->warnings.size() == 1);
  CHECK(plain->warnings[0].rfind("DANGER: the Docker Engine at tcp://127.0.0.1:2375 is reached over plain TCP", 0) == 0);

  c.host = "127.0.0.1:2376";  // the seed's bare form
  c.cacert = "/nonexistent/ca.pem";
  auto bad = docker::make_engine_connection(c);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.rfind("docker.connection.cacert: is neither PEM text nor a readable file", 0) == 0);

  c.cacert = "";
  c.cert = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n";
  auto half = docker::make_engine_connection(c);
  REQUIRE_FALSE(half.ok());
  CHECK(half.error().message == "docker.connection.key: required when cert is given");

  c.cert = "";
  c.host = "https://127.0.0.1:2376";
  auto https = docker::make_engine_connection(c);
  REQUIRE(https.ok());
  CHECK(https->endpoint.tls);
  CHECK(https->endpoint.tls_ctx != nullptr);
  CHECK_FALSE(https->plain_tcp);

  c.host = "unix:///var/run/docker.sock";
  c.cacert = "/whatever.pem";
  auto ignored = docker::make_engine_connection(c);
  REQUIRE(ignored.ok());
  REQUIRE(ignored->warnings.size() == 1);
  CHECK(ignored->warnings[0].find("ignored for a unix:// socket") != std::string::npos);
}

TEST_CASE("engine connection: apiVersion is checked and pinned") {
  config::docker_connection_config c;
  c.api_version = "1.24";
  auto pinned = docker::make_engine_connection(c);
  REQUIRE(pinned.ok());
  CHECK(pinned->pinned_api_version == "1.24");
  c.api_version = "1.42";
  auto too_new = docker::make_engine_connection(c);
  REQUIRE_FALSE(too_new.ok());
  CHECK(too_new.error().message == "docker.connection.apiVersion: 1.42 is newer than this server speaks (1.41)");
  c.api_version = "latest";
  auto junk = docker::make_engine_connection(c);
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.error().message == "docker.connection.apiVersion: \"latest\" is not an API version like 1.41");
  c.api_version = "1.12";
  auto ancient = docker::make_engine_connection(c);
  REQUIRE(ancient.ok());
  REQUIRE(ancient->warnings.size() == 1);
  CHECK(ancient->warnings[0].find("older than API 1.18") != std::string::npos);
}
