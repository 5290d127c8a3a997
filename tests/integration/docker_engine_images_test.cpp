// docker::engine's image calls: image_exists and pull_image against the real dockerd (which can
// reach no registry), and against a fake Engine: reference splitting, credentials, errors inside
// the progress stream, a pull larger than any body limit, the throttled progress log, and the pull
// policies around a container create.

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "common/log.hpp"
#include "docker/image_policy.hpp"
#include "engine_fixture.hpp"
#include "fake_engine.hpp"

using namespace engine_test;

TEST_CASE("image_exists: present and absent") {
  fixture fx;
  fx.require_test_image();
  auto absent = sync<bool>([&](auto cb) { fx.engine.image_exists("cssh-no-such-image:nope", cb); });
  REQUIRE(absent.ok());
  CHECK_FALSE(absent.value());
  auto odd = sync<bool>([&](auto cb) { fx.engine.image_exists("127.0.0.1:5000/ns/none:tag", cb); });
  REQUIRE_MESSAGE(odd.ok(), (odd.ok() ? "" : odd.error().message));
  CHECK_FALSE(odd.value());
}

TEST_CASE("pull failures are reported with the image reference") {
  fixture fx;
  // Nothing listens on port 1: the Engine fails to reach the registry straight away.
  for (std::string image : {"127.0.0.1:1/cssh/none:v1",
                            "127.0.0.1:1/cssh/none@sha256:0000000000000000000000000000000000000000000000000000000000000000"}) {
    CAPTURE(image);
    auto r = sync<void>([&](auto cb) { fx.engine.pull_image(image, "", cb); }, 120s);
    REQUIRE_FALSE(r.ok());
    CHECK((r.error().code == "DOCKER_API_ERROR" || r.error().code == "DOCKER_PULL_FAILED"));
    CHECK(r.error().message.find("pull image " + image + ": ") == 0);
    CHECK(r.error().message.find("127.0.0.1:1") != std::string::npos);
  }
}

TEST_CASE("fake engine: pull splits the reference into fromImage and tag") {
  struct example {
    std::string image;
    std::string target;
  };
  for (const auto& ex : {
           example{"reg:5000/a/b:tag", "/v1.41/images/create?fromImage=reg%3A5000%2Fa%2Fb&tag=tag"},
           example{"reg:5000/a/b", "/v1.41/images/create?fromImage=reg%3A5000%2Fa%2Fb&tag=latest"},
           example{"busybox", "/v1.41/images/create?fromImage=busybox&tag=latest"},
           example{"library/busybox:1.36", "/v1.41/images/create?fromImage=library%2Fbusybox&tag=1.36"},
           example{"a@sha256:abc", "/v1.41/images/create?fromImage=a&tag=sha256%3Aabc"},
           example{"reg:5000/a:t@sha256:abc", "/v1.41/images/create?fromImage=reg%3A5000%2Fa%3At&tag=sha256%3Aabc"},
       }) {
    CAPTURE(ex.image);
    fake_engine fake(ok_with_body("{\"status\":\"Pulling\"}\n{\"status\":\"Downloaded newer image\"}\n"));
    http::reactor reactor(1);
    docker::engine engine(reactor, fake.endpoint(), 5s);
    engine.set_api_version("1.41");
    auto r = sync<void>([&](auto cb) { engine.pull_image(ex.image, "", cb); });
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(fake.request_line() == "POST " + ex.target + " HTTP/1.1");
    CHECK(fake.head().find("X-Registry-Auth") == std::string::npos);
  }
}

TEST_CASE("fake engine: an error inside the pull stream is a failure; credentials are sent") {
  std::string progress =
      "{\"status\":\"Pulling from a/b\",\"id\":\"t\"}\r\n"
      "{\"errorDetail\":{\"message\":\"manifest unknown\"},\"error\":\"manifest for a/b:t not found: manifest unknown\"}\r\n";
  fake_engine fake("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   chunk(progress) + "0\r\n\r\n");
  http::reactor reactor(1);
  docker::engine engine(reactor, fake.endpoint(), 5s);
  engine.set_api_version("1.41");
  auto r = sync<void>([&](auto cb) { engine.pull_image("a/b:t", "eyJ1c2VybmFtZSI6InUifQ==", cb); });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "DOCKER_PULL_FAILED");
  CHECK(r.error().message == "pull image a/b:t: manifest for a/b:t not found: manifest unknown");
  CHECK(fake.head().find("\r\nX-Registry-Auth: eyJ1c2VybmFtZSI6InUifQ==\r\n") != std::string::npos);
  CHECK(fake.request_line() == "POST /v1.41/images/create?fromImage=a%2Fb&tag=t HTTP/1.1");
}

TEST_CASE("fake engine: a pull larger than any body limit streams through") {
  // 17 MiB of progress lines: more than async_call would ever buffer (16 MiB). Long lines (the
  // Engine's "progress" bar text, padded) keep the JSON work small enough for sanitizer builds.
  std::string line = "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1,\"total\":2},\"progress\":\"" +
                     std::string(4000, '=') + ">\",\"id\":\"layer\"}\n";
  std::string answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string block;
  while (block.size() < 1024 * 1024) block += line;
  for (int i = 0; i < 17; ++i) answer += chunk(block);
  answer += chunk("{\"status\":\"Status: Downloaded newer image for big\"}\n") + "0\r\n\r\n";
  fake_engine fake(answer);
  http::reactor reactor(1);
  docker::engine engine(reactor, fake.endpoint(), 90s);  // sanitizer builds parse slowly
  engine.set_api_version("1.41");
  auto r = sync<void>([&](auto cb) { engine.pull_image("big", "", cb); }, 120s);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
}

namespace {

/// Captures what this process writes to stdout and stderr (the log goes to one of them) while alive.
class output_capture {
 public:
  output_capture() : path_("/tmp/cssh-engine-test-log-" + std::to_string(::getpid())) {
    std::fflush(stdout);
    std::fflush(stderr);
    saved_out_ = ::dup(1);
    saved_err_ = ::dup(2);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~output_capture() {
    restore();
    ::unlink(path_.c_str());
  }
  std::string text() {
    restore();
    std::ifstream in(path_);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

 private:
  void restore() {
    if (saved_out_ < 0) return;
    std::fflush(stdout);
    std::fflush(stderr);
    ::dup2(saved_out_, 1);
    ::dup2(saved_err_, 2);
    ::close(saved_out_);
    ::close(saved_err_);
    saved_out_ = saved_err_ = -1;
  }
  std::string path_;
  int saved_out_ = -1;
  int saved_err_ = -1;
};

}  // namespace

TEST_CASE("fake engine: pull progress is logged every 2 s at info level, then the result") {
  // Nine progress pieces 300 ms apart: 2.4 s of pulling, so exactly one throttled progress line.
  std::string answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       chunk("{\"status\":\"Pulling from slow\",\"id\":\"v1\"}\n");
  for (int i = 1; i <= 8; ++i) {
    answer += "\x01" + chunk("{\"status\":\"Downloading\",\"progressDetail\":{\"current\":" + std::to_string(i * 1048576) +
                             ",\"total\":8388608},\"id\":\"layer1\"}\n");
  }
  answer += "\x01" + chunk("{\"status\":\"Pull complete\",\"id\":\"layer1\"}\n") +
            chunk("{\"status\":\"Status: Downloaded newer image for slow:v1\"}\n") + "0\r\n\r\n";
  fake_engine fake(answer);
  http::reactor reactor(1);
  docker::engine engine(reactor, fake.endpoint(), 10s);
  engine.set_api_version("1.41");
  cssh::log::set_level(cssh::log::level::info);
  std::string logged;
  {
    output_capture capture;
    auto r = sync<void>([&](auto cb) { engine.pull_image("slow:v1", "", cb); });
    logged = capture.text();
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  }
  cssh::log::set_level(cssh::log::level::notice);
  CAPTURE(logged);
  auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = logged.find(needle); pos != std::string::npos; pos = logged.find(needle, pos + 1)) ++n;
    return n;
  };
  CHECK(count("DOCKER_IMAGE_PULL_PROGRESS") == 1);
  CHECK(logged.find("pulling image slow:v1: 0 of 1 layers done, ") != std::string::npos);
  CHECK(count("DOCKER_IMAGE_PULLED") == 1);
  CHECK(logged.find("Status: Downloaded newer image for slow:v1") != std::string::npos);
}

namespace {

std::string answer(int status, const std::string& reason, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}
const std::string no_such_image = answer(404, "Not Found", R"({"message":"No such image: a/b:t"})");
const std::string created = answer(201, "Created", R"({"Id":"c0ffee","Warnings":[]})");
const std::string pulled = ok_with_body("{\"status\":\"Downloaded newer image for a/b:t\"}\n");

/// create_under_pull_policy against a fake Engine; the request lines it saw, in order.
struct policy_run {
  cssh::result<std::string> outcome = cssh::failure{"UNSET", ""};
  std::vector<std::string> lines;
};

policy_run run_policy(cssh::config::image_pull_policy policy, std::vector<std::string> answers, bool image_ready = false) {
  fake_engine fake(std::move(answers));
  http::reactor reactor(1);
  auto engine = std::make_shared<docker::engine>(reactor, fake.endpoint(), 5s);
  engine->set_api_version("1.41");
  cssh::config::docker_execution_config exec;
  exec.container.image = "a/b:t";
  exec.pull_policy = policy;
  policy_run run;
  run.outcome = sync<std::string>([&](auto cb) {
    docker::create_under_pull_policy(engine, exec, "conn-1", image_ready, {{"Image", "a/b:t"}}, cb);
  });
  for (const auto& head : fake.heads()) {
    auto line = head.substr(0, head.find("\r\n"));
    run.lines.push_back(line.substr(0, line.find('?')));
  }
  return run;
}

}  // namespace

TEST_CASE("fake engine: pull policies around the create") {
  SUBCASE("IfNotPresent, image present: the create is the only call") {
    auto run = run_policy(cssh::config::image_pull_policy::if_not_present, {created});
    REQUIRE_MESSAGE(run.outcome.ok(), (run.outcome.ok() ? "" : run.outcome.error().message));
    CHECK(run.outcome.value() == "c0ffee");
    CHECK(run.lines == std::vector<std::string>{"POST /v1.41/containers/create HTTP/1.1"});
  }
  SUBCASE("IfNotPresent, image absent: create, pull, create again") {
    auto run = run_policy(cssh::config::image_pull_policy::if_not_present, {no_such_image, pulled, created});
    REQUIRE_MESSAGE(run.outcome.ok(), (run.outcome.ok() ? "" : run.outcome.error().message));
    CHECK(run.lines == std::vector<std::string>{"POST /v1.41/containers/create HTTP/1.1",
                                                "POST /v1.41/images/create", "POST /v1.41/containers/create HTTP/1.1"});
  }
  SUBCASE("IfNotPresent, still absent after the pull: the Engine's answer, no third try") {
    auto run = run_policy(cssh::config::image_pull_policy::if_not_present, {no_such_image, pulled, no_such_image});
    REQUIRE_FALSE(run.outcome.ok());
    CHECK(run.outcome.error().code == "DOCKER_IMAGE_ABSENT");
    CHECK(run.outcome.error().message == "create container: Engine answered 404: No such image: a/b:t");
    CHECK(run.lines.size() == 3);
  }
  SUBCASE("Never, image absent: fails naming the policy, nothing pulled") {
    auto run = run_policy(cssh::config::image_pull_policy::never, {no_such_image});
    REQUIRE_FALSE(run.outcome.ok());
    CHECK(run.outcome.error().code == "DOCKER_IMAGE_ABSENT");
    CHECK(run.outcome.error().message ==
          "image a/b:t is not present on the Docker Engine, and docker.execution.imagePullPolicy is Never "
          "(nothing is pulled)");
    CHECK(run.lines == std::vector<std::string>{"POST /v1.41/containers/create HTTP/1.1"});
  }
  SUBCASE("Always: pull, then create") {
    auto run = run_policy(cssh::config::image_pull_policy::always, {pulled, created});
    REQUIRE_MESSAGE(run.outcome.ok(), (run.outcome.ok() ? "" : run.outcome.error().message));
    CHECK(run.lines == std::vector<std::string>{"POST /v1.41/images/create", "POST /v1.41/containers/create HTTP/1.1"});
  }
  SUBCASE("Always with the image already ensured: the create only") {
    auto run = run_policy(cssh::config::image_pull_policy::always, {created}, true);
    REQUIRE(run.outcome.ok());
    CHECK(run.lines.size() == 1);
  }
  SUBCASE("a 404 that is not about the image (a missing network) is an Engine error, not a pull") {
    auto run = run_policy(cssh::config::image_pull_policy::if_not_present,
                          {answer(404, "Not Found", R"({"message":"network nonet not found"})")});
    REQUIRE_FALSE(run.outcome.ok());
    CHECK(run.outcome.error().code == "DOCKER_API_ERROR");
    CHECK(run.lines.size() == 1);
  }
}
