// merge_connection_config: a config server's answer over the file's configuration.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "config_test_helpers.hpp"

using namespace cssh::config;
using config_test::contains;
using json = nlohmann::json;

namespace {

const std::string file = R"(
ssh:
  listen: 127.0.0.1:2222
auth:
  password:
    method: webhook
    webhook: {url: http://127.0.0.1:8080}
docker:
  execution:
    mode: session
    containerName: ""
    container:
      image: base-image
      env: [FROM_FILE=1]
      user: "1000"
    imagePullPolicy: Never
    disableShell: true
log:
  level: info
)";

app_config base() {
  auto r = load_from_string(file);
  REQUIRE(r.ok());
  return *r;
}

merged_config merge_ok(const json& partial) {
  auto r = merge_connection_config(base(), partial);
  if (!r.ok()) FAIL_CHECK("unexpected failure: " << r.error().message);
  REQUIRE(r.ok());
  return *r;
}

std::string merge_bad(const json& partial) {
  auto r = merge_connection_config(base(), partial);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "CONFIG_SERVER_INVALID");
  return r.error().message;
}

}  // namespace

TEST_CASE("an empty answer changes nothing") {
  auto m = merge_ok(json::object());
  CHECK(m.config.docker.execution.container.image == "base-image");
  CHECK(m.left_out.empty());
  CHECK(merge_ok(nullptr).config.docker.execution.container.image == "base-image");
}

TEST_CASE("the answer's keys replace the file's, the rest stays") {
  auto m = merge_ok({{"docker", {{"execution", {{"container", {{"image", "other:1"}, {"env", {"FROM_SERVER=2"}}}}}}}}});
  const auto& e = m.config.docker.execution;
  CHECK(e.container.image == "other:1");
  CHECK(e.container.env == std::vector<std::string>{"FROM_SERVER=2"});  // lists are replaced, not appended
  CHECK(e.container.user == "1000");                                      // untouched siblings stay
  CHECK(e.pull_policy == image_pull_policy::never);
  CHECK(e.disable_shell);
  CHECK(e.mode == execution_mode::session);
  CHECK(m.config.auth.password.webhook.url == "http://127.0.0.1:8080");
  CHECK(m.config.ssh.listen == "127.0.0.1:2222");
}

TEST_CASE("keys match case-insensitively, as in the file, and Go's JSON names work") {
  auto m = merge_ok({{"Docker", {{"Execution", {{"Container", {{"Image", "go-style"}}}, {"imagePullPolicy", "Always"}}}}}});
  CHECK(m.config.docker.execution.container.image == "go-style");
  CHECK(m.config.docker.execution.pull_policy == image_pull_policy::always);
}

TEST_CASE("JSON types arrive as the reader expects them") {
  auto m = merge_ok({{"docker",
                      {{"execution",
                        {{"disableShell", false},
                         {"host", {{"resources", {{"memory", 268435456}}}}},
                         {"timeouts", {{"http", 5000000000LL}}}}}}}});
  CHECK_FALSE(m.config.docker.execution.disable_shell);
  CHECK(m.config.docker.execution.timeouts.http == std::chrono::seconds(5));
  // A string "true" stays a string where a boolean is wanted.
  CHECK(contains(merge_bad({{"docker", {{"execution", {{"disableShell", "true"}}}}}}),
                 "docker.execution.disableShell: expected a boolean, got \"true\" (quoted, so a string)"));
}

TEST_CASE("null in the answer keeps the file's value") {
  auto m = merge_ok({{"docker", {{"execution", {{"container", {{"image", nullptr}}}}}}}});
  CHECK(m.config.docker.execution.container.image == "base-image");
}

TEST_CASE("only the sections a config server may set are taken") {
  auto m = merge_ok({{"ssh", {{"listen", "0.0.0.0:22"}}},
                     {"auth", {{"password", {{"method", "file"}}}}},
                     {"log", {{"level", "debug"}, {"format", "ljson"}}},
                     {"security", {{"maxSessions", 3}}},
                     {"backend", "docker"}});
  CHECK(m.config.ssh.listen == "127.0.0.1:2222");
  CHECK(m.config.auth.password.method == "webhook");
  CHECK(m.config.log.level == cssh::log::level::debug);
  CHECK(m.config.log.format == "text");
  CHECK(m.left_out == std::vector<std::string>{"auth", "log.format", "ssh"});
  CHECK(m.config.security.max_sessions == 3);
  CHECK(m.config.ignored_keys.empty());
}

TEST_CASE("the merged configuration is validated like a file, every problem named") {
  std::string msg = merge_bad({{"docker",
                                {{"execution",
                                  {{"imagePullPolicy", "Sometimes"},
                                   {"container", {{"image", ""}, {"tty", 5}, {"nonsense", 1}}}}}}}});
  CHECK(contains(msg, "the configuration server's answer makes the configuration invalid"));
  CHECK(contains(msg, "docker.execution.imagePullPolicy: expected one of Always, IfNotPresent, Never"));
  CHECK(contains(msg, "docker.execution.container.nonsense: unknown key"));
  CHECK(contains(msg, "docker.execution.container.image: required"));
  CHECK_FALSE(contains(msg, "(line "));  // lines would point into two different documents
  CHECK(contains(merge_bad({{"backend", "kubernetes"}}), "backend: \"kubernetes\" is not supported yet"));
  CHECK(contains(merge_bad({{"docker", "yes"}}), "docker: expected a map"));
}

TEST_CASE("a legacy dockerrun answer applies under backend dockerrun") {
  auto m = merge_ok({{"backend", "dockerrun"},
                     {"dockerrun", {{"config", {{"container", {{"image", "legacy-image"}}}}}}}});
  CHECK(m.config.backend == "dockerrun");
  CHECK(m.config.docker.execution.container.image == "legacy-image");
  CHECK(m.config.docker.execution.mode == execution_mode::session);
}

TEST_CASE("a configuration built in code merges over the defaults") {
  app_config empty;
  auto r = merge_connection_config(empty, {{"docker", {{"execution", {{"container", {{"image", "x"}}}}}}}});
  REQUIRE(r.ok());
  CHECK(r->config.docker.execution.container.image == "x");
}
