#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "protocol/auth_webhook.hpp"

using namespace cssh::auth_webhook;
using json = nlohmann::json;

namespace {

std::string bad(const std::string& body) {
  auto r = decode_auth_response(body);
  INFO("body: ", body);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "AUTH_WEBHOOK_BAD_RESPONSE");
  return r.error().message;
}

bool contains(const std::string& haystack, const std::string& needle) {
  INFO("looking for [", needle, "] in [", haystack, "]");
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("base64 is standard and padded") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode(std::string("\xff\xfe\x00\x3e\x3f", 5)) == "//4APj8=");
  CHECK(base64_encode("\xfb\xff") == "+/8=");
}

TEST_CASE("the password request carries every field, the password only as base64") {
  password_request req{"alice", "192.0.2.1:53211", "c0ffee", "SSH-2.0-OpenSSH_9.2", "s3cr\"et"};
  std::string body = encode_password_request(req);
  json j = json::parse(body);
  CHECK(j == json{{"username", "alice"},
                  {"remoteAddress", "192.0.2.1:53211"},
                  {"connectionId", "c0ffee"},
                  {"clientVersion", "SSH-2.0-OpenSSH_9.2"},
                  {"passwordBase64", "czNjciJldA=="}});
  CHECK_FALSE(contains(body, "s3cr"));
}

TEST_CASE("a username that is not UTF-8 does not break encoding") {
  password_request req{"bad\xff", "1.2.3.4:5", "id", "SSH-2.0-x", "pw"};
  std::string body;
  CHECK_NOTHROW(body = encode_password_request(req));
  CHECK(json::parse(body)["passwordBase64"] == "cHc=");
}

TEST_CASE("decoding good answers") {
  SUBCASE("success only") {
    auto r = decode_auth_response(R"({"success": true})");
    REQUIRE(r.ok());
    CHECK(r->success);
    CHECK(r->authenticated_username.empty());
    CHECK(r->environment.empty());
  }
  SUBCASE("rejection") {
    auto r = decode_auth_response(R"({"success": false})");
    REQUIRE(r.ok());
    CHECK_FALSE(r->success);
  }
  SUBCASE("everything, plus fields we do not use") {
    auto r = decode_auth_response(R"({
      "success": true,
      "authenticatedUsername": "bob",
      "environment": {
        "PLAIN": "1",
        "TOKEN": {"value": "abc", "sensitive": true},
        "OPEN": {"value": "x", "sensitive": false},
        "BARE": {"value": ""}
      },
      "metadata": {"k": {"value": "v"}},
      "files": {"/etc/motd": {"value": "aGk="}}
    })");
    REQUIRE(r.ok());
    CHECK(r->success);
    CHECK(r->authenticated_username == "bob");
    CHECK(r->environment ==
          std::map<std::string, std::string>{{"PLAIN", "1"}, {"TOKEN", "abc"}, {"OPEN", "x"}, {"BARE", ""}});
    CHECK(r->sensitive_environment == std::set<std::string>{"TOKEN"});
  }
  SUBCASE("nulls count as absent") {
    auto r = decode_auth_response(R"({"success": true, "authenticatedUsername": null, "environment": null})");
    REQUIRE(r.ok());
    CHECK(r->authenticated_username.empty());
  }
}

TEST_CASE("decoding bad answers says what was wrong") {
  CHECK(contains(bad(""), "not valid JSON"));
  CHECK(contains(bad("{\"success\": tru"), "not valid JSON (error at byte"));
  CHECK(contains(bad("<html>502</html>"), "not valid JSON"));
  CHECK(contains(bad("[true]"), "expected a JSON object, got a list"));
  CHECK(contains(bad("true"), "expected a JSON object, got a boolean"));
  CHECK(contains(bad("{}"), "`success` is missing"));
  CHECK(contains(bad(R"({"authenticatedUsername": "x"})"), "`success` is missing"));
  CHECK(contains(bad(R"({"success": "true"})"), "`success` must be a boolean, got a string"));
  CHECK(contains(bad(R"({"success": 1})"), "`success` must be a boolean, got a number"));
  CHECK(contains(bad(R"({"success": null})"), "`success` must be a boolean, got null"));
  CHECK(contains(bad(R"({"success": true, "authenticatedUsername": 5})"),
                 "`authenticatedUsername` must be a string, got a number"));
  CHECK(contains(bad(R"({"success": true, "environment": ["A=1"]})"), "`environment` must be an object, got a list"));
  CHECK(contains(bad(R"({"success": true, "environment": {"A": 1}})"),
                 "`environment.A` must be a string or {value, sensitive}, got a number"));
  CHECK(contains(bad(R"({"success": true, "environment": {"A": {"sensitive": true}}})"),
                 "`environment.A.value` must be a string, got nothing"));
  CHECK(contains(bad(R"({"success": true, "environment": {"A": {"value": 2}}})"),
                 "`environment.A.value` must be a string, got a number"));
  CHECK(contains(bad(R"({"success": true, "environment": {"A": {"value": "v", "sensitive": "yes"}}})"),
                 "`environment.A.sensitive` must be a boolean, got a string"));
  CHECK(contains(bad(R"({"success": true, "environment": {"A=B": "v"}})"), "invalid variable name \"A=B\""));
  CHECK(contains(bad(R"({"success": true, "environment": {"": "v"}})"), "invalid variable name \"\""));
  CHECK(contains(bad(R"({"success": true, "environment": {"A\nB": "v"}})"), "invalid variable name \"A\\nB\""));
}

TEST_CASE("errors never repeat values from the answer") {
  std::string msg = bad(R"({"success": true, "environment": {"TOKEN": {"value": "hunter2", "sensitive": "x"}}})");
  CHECK_FALSE(contains(msg, "hunter2"));
  msg = bad(R"({"success": "hunter2"})");
  CHECK_FALSE(contains(msg, "hunter2"));
  msg = bad(R"({"success": true, "x": "hunter2)");
  CHECK_FALSE(contains(msg, "hunter2"));
}
