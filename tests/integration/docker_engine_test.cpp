// docker::engine against the real dockerd (DOCKER_HOST, default unix:///var/run/docker.sock) and
// the test image cssh-test:latest that tests/e2e/setup.sh builds. Every container a test creates
// is removed when the test ends, whichever way it ends.

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cstdlib>
#include <future>
#include <memory>
#include <sstream>
#include <string>

#include "docker/engine.hpp"
#include "protocol/docker_frame.hpp"

using namespace std::chrono_literals;
using cssh::result;
namespace http = cssh::http;
namespace docker = cssh::docker;
namespace frame = cssh::docker_frame;

namespace {

constexpr const char* test_image = "cssh-test:latest";
// Labels tell our containers apart from anyone else's on the same daemon.
const std::string test_label_key = "containerssh_cpp_engine_test";
const std::string test_label_value = std::to_string(::getpid());

std::string docker_host() {
  const char* env = std::getenv("DOCKER_HOST");
  return env && *env ? env : "unix:///var/run/docker.sock";
}

/// Runs an async engine call and waits for its callback.
template <class T, class Start>
result<T> sync(Start&& start, std::chrono::seconds timeout = 60s) {
  auto promise = std::make_shared<std::promise<result<T>>>();
  auto future = promise->get_future();
  start([promise](result<T> r) { promise->set_value(std::move(r)); });
  if (future.wait_for(timeout) != std::future_status::ready) {
    return cssh::fail("TEST_TIMEOUT", "no callback within " + std::to_string(timeout.count()) + " s");
  }
  return future.get();
}

struct fixture {
  http::reactor reactor{2};
  docker::engine engine{reactor, http::parse_docker_host(docker_host()).value(), 15s};

  fixture() {
    auto v = sync<std::string>([&](auto cb) { engine.negotiate(cb); });
    if (!v) FAIL("Docker Engine not usable at " << docker_host() << ": " << v.error().message);
  }

  /// Stops the test, loudly, when the image the fixture script builds is not there.
  void require_test_image() {
    auto present = sync<bool>([&](auto cb) { engine.image_exists(test_image, cb); });
    REQUIRE_MESSAGE(present.ok(), (present.ok() ? "" : present.error().message));
    if (!present.value()) FAIL("image " << test_image << " is missing: run tests/e2e/setup.sh");
  }
};

/// Removes the container when the test ends, on success, failed REQUIRE or exception alike.
struct container_guard {
  docker::engine& engine;
  std::string id;

  container_guard(docker::engine& e, std::string i) : engine(e), id(std::move(i)) {}
  container_guard(const container_guard&) = delete;
  container_guard& operator=(const container_guard&) = delete;

  ~container_guard() {
    if (id.empty()) return;
    auto r = sync<void>([&](auto cb) { engine.remove_container(id, cb); });
    if (!r) {
      // Last resort, so a broken client under test cannot leave containers behind.
      std::string cmd = "docker rm -f " + id + " >/dev/null 2>&1";
      if (std::system(cmd.c_str()) != 0) MESSAGE("could not remove container " << id);
    }
  }
};

nlohmann::json container_body(nlohmann::json cmd) {
  return {
      {"Image", test_image},
      {"Cmd", std::move(cmd)},
      {"AttachStdin", false},
      {"AttachStdout", true},
      {"AttachStderr", true},
      {"OpenStdin", false},
      {"Tty", false},
      {"Labels", {{test_label_key, test_label_value}}},
      // The test daemon runs with --bridge=none: no default network to join.
      {"HostConfig", {{"NetworkMode", "none"}}},
  };
}

/// Creates a container and returns a guard that owns it.
std::unique_ptr<container_guard> create(docker::engine& engine, const nlohmann::json& body, const std::string& name = "") {
  auto id = sync<std::string>([&](auto cb) { engine.create_container(body, name, cb); });
  REQUIRE_MESSAGE(id.ok(), (id.ok() ? "" : id.error().message));
  CHECK(id.value().size() == 64);
  // Built in place: a temporary guard would remove the container on its way out.
  return std::unique_ptr<container_guard>(new container_guard{engine, id.value()});
}

struct demuxed {
  std::string out;
  std::string err;
};

/// Reads the attach stream to EOF and splits it into stdout and stderr.
demuxed read_to_end(http::upgraded_stream& stream) {
  demuxed got;
  frame::demuxer demux([&](frame::stream_kind kind, std::string_view payload) {
    if (kind == frame::stream_kind::stdout_stream) got.out.append(payload);
    if (kind == frame::stream_kind::stderr_stream) got.err.append(payload);
  });
  for (;;) {
    auto chunk = sync<std::string>([&](auto cb) { stream.async_read(65536, cb); }, 30s);
    REQUIRE_MESSAGE(chunk.ok(), (chunk.ok() ? "" : chunk.error().message));
    if (chunk.value().empty()) break;
    auto fed = demux.feed(chunk.value());
    REQUIRE_MESSAGE(fed.ok(), (fed.ok() ? "" : fed.error().message));
  }
  CHECK(demux.at_frame_boundary());
  return got;
}

void expect_ok(const result<void>& r) { REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message)); }

}  // namespace

TEST_CASE("negotiate picks the lower of the daemon's version and 1.41") {
  http::reactor reactor(1);
  docker::engine engine(reactor, http::parse_docker_host(docker_host()).value(), 15s);
  CHECK(engine.api_version().empty());
  auto v = sync<std::string>([&](auto cb) { engine.negotiate(cb); });
  REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
  CHECK(v.value() == "1.41");  // this daemon speaks 1.41 (Engine 20.10)
  CHECK(engine.api_version() == "1.41");
}

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

TEST_CASE("create, attach, start, wait, remove: stdout and stderr are demultiplexed") {
  fixture fx;
  fx.require_test_image();
  auto c = create(fx.engine, container_body({"sh", "-c", "echo out; echo err >&2; echo more"}));
  auto stream = sync<std::shared_ptr<http::upgraded_stream>>([&](auto cb) { fx.engine.attach_container(c->id, cb); });
  REQUIRE_MESSAGE(stream.ok(), (stream.ok() ? "" : stream.error().message));
  expect_ok(sync<void>([&](auto cb) { fx.engine.start_container(c->id, cb); }));
  auto got = read_to_end(*stream.value());
  CHECK(got.out == "out\nmore\n");
  CHECK(got.err == "err\n");
  auto code = sync<std::int64_t>([&](auto cb) { fx.engine.wait_container(c->id, cb); });
  REQUIRE_MESSAGE(code.ok(), (code.ok() ? "" : code.error().message));
  CHECK(code.value() == 0);
}

TEST_CASE("stdin written then half-closed reaches cat, which echoes it and exits") {
  fixture fx;
  fx.require_test_image();
  auto body = container_body({"cat"});
  body["AttachStdin"] = true;
  body["OpenStdin"] = true;
  body["StdinOnce"] = true;
  auto c = create(fx.engine, body);
  auto stream = sync<std::shared_ptr<http::upgraded_stream>>([&](auto cb) { fx.engine.attach_container(c->id, cb); });
  REQUIRE_MESSAGE(stream.ok(), (stream.ok() ? "" : stream.error().message));
  expect_ok(sync<void>([&](auto cb) { fx.engine.start_container(c->id, cb); }));
  std::string input = "hello\n";
  for (int i = 0; i < 2000; ++i) input += "line " + std::to_string(i) + "\n";
  expect_ok(sync<void>([&](auto cb) { stream.value()->async_write(input, cb); }));
  stream.value()->shutdown_send();
  auto got = read_to_end(*stream.value());
  CHECK(got.out == input);
  CHECK(got.err.empty());
  auto code = sync<std::int64_t>([&](auto cb) { fx.engine.wait_container(c->id, cb); });
  REQUIRE_MESSAGE(code.ok(), (code.ok() ? "" : code.error().message));
  CHECK(code.value() == 0);
}

TEST_CASE("wait returns the exit code and has no deadline") {
  fixture fx;
  fx.require_test_image();
  // An engine whose call deadline is far shorter than the container's life: wait must not be
  // cut off by it.
  docker::engine impatient(fx.reactor, fx.engine.endpoint(), 300ms);
  impatient.set_api_version(fx.engine.api_version());
  auto c = create(fx.engine, container_body({"sh", "-c", "sleep 1.5; exit 3"}));
  expect_ok(sync<void>([&](auto cb) { fx.engine.start_container(c->id, cb); }));
  auto started = std::chrono::steady_clock::now();
  auto code = sync<std::int64_t>([&](auto cb) { impatient.wait_container(c->id, cb); });
  REQUIRE_MESSAGE(code.ok(), (code.ok() ? "" : code.error().message));
  CHECK(code.value() == 3);
  CHECK(std::chrono::steady_clock::now() - started > 400ms);
}

TEST_CASE("start twice: the second start (304) is not an error") {
  fixture fx;
  fx.require_test_image();
  auto c = create(fx.engine, container_body({"sleep", "30"}));
  expect_ok(sync<void>([&](auto cb) { fx.engine.start_container(c->id, cb); }));
  expect_ok(sync<void>([&](auto cb) { fx.engine.start_container(c->id, cb); }));
}

TEST_CASE("kill ends a container; wait reports the signal's exit code") {
  fixture fx;
  fx.require_test_image();
  auto c = create(fx.engine, container_body({"sleep", "100"}));
  expect_ok(sync<void>([&](auto cb) { fx.engine.start_container(c->id, cb); }));
  // PID 1 ignores SIGTERM without a handler; SIGKILL always works.
  expect_ok(sync<void>([&](auto cb) { fx.engine.kill_container(c->id, "KILL", cb); }));
  auto code = sync<std::int64_t>([&](auto cb) { fx.engine.wait_container(c->id, cb); });
  REQUIRE_MESSAGE(code.ok(), (code.ok() ? "" : code.error().message));
  CHECK(code.value() == 137);
  auto again = sync<void>([&](auto cb) { fx.engine.kill_container(c->id, "KILL", cb); });
  REQUIRE_FALSE(again.ok());  // not running any more: the Engine says 409
  CHECK(again.error().code == "DOCKER_API_ERROR");
  CHECK(again.error().message.find("kill container") != std::string::npos);
}

TEST_CASE("resize a TTY container") {
  fixture fx;
  fx.require_test_image();
  auto body = container_body({"sleep", "30"});
  body["Tty"] = true;
  auto c = create(fx.engine, body);
  expect_ok(sync<void>([&](auto cb) { fx.engine.start_container(c->id, cb); }));
  expect_ok(sync<void>([&](auto cb) { fx.engine.resize_container(c->id, 40, 120, cb); }));
}

TEST_CASE("remove: a missing container counts as removed, twice over") {
  fixture fx;
  expect_ok(sync<void>([&](auto cb) { fx.engine.remove_container("cssh-no-such-container", cb); }));
  fx.require_test_image();
  auto c = create(fx.engine, container_body({"true"}));
  expect_ok(sync<void>([&](auto cb) { fx.engine.remove_container(c->id, cb); }));
  expect_ok(sync<void>([&](auto cb) { fx.engine.remove_container(c->id, cb); }));
}

TEST_CASE("list_containers_with_label finds exactly the labelled containers") {
  fixture fx;
  fx.require_test_image();
  auto body = container_body({"true"});
  std::string unique = "cssh-list-" + test_label_value;
  body["Labels"][unique] = "yes";
  auto labelled = create(fx.engine, body);
  auto other = create(fx.engine, container_body({"true"}));
  auto found = sync<std::vector<std::string>>([&](auto cb) { fx.engine.list_containers_with_label(unique, cb); });
  REQUIRE_MESSAGE(found.ok(), (found.ok() ? "" : found.error().message));
  REQUIRE(found.value().size() == 1);
  CHECK(found.value()[0] == labelled->id);
  auto by_value = sync<std::vector<std::string>>(
      [&](auto cb) { fx.engine.list_containers_with_label(test_label_key + "=" + test_label_value, cb); });
  REQUIRE(by_value.ok());
  CHECK(by_value.value().size() >= 2);
  auto none = sync<std::vector<std::string>>([&](auto cb) { fx.engine.list_containers_with_label("cssh-nobody-has-this", cb); });
  REQUIRE(none.ok());
  CHECK(none.value().empty());
}

TEST_CASE("create with a name; the same name again is the Engine's conflict") {
  fixture fx;
  fx.require_test_image();
  std::string name = "cssh-engine-test-" + test_label_value;
  auto first = create(fx.engine, container_body({"true"}), name);
  auto second = sync<std::string>([&](auto cb) { fx.engine.create_container(container_body({"true"}), name, cb); });
  if (second.ok()) container_guard{fx.engine, second.value()};  // never leave it behind
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == "DOCKER_API_ERROR");
  CHECK(second.error().message.find("create container: Engine answered 409") == 0);
  CHECK(second.error().message.find(name) != std::string::npos);
}

TEST_CASE("Engine errors carry the operation and the Engine's message") {
  fixture fx;
  auto created = sync<std::string>([&](auto cb) {
    fx.engine.create_container({{"Image", "cssh-no-such-image:nope"}, {"Labels", {{test_label_key, test_label_value}}}}, "",
                               cb);
  });
  if (created.ok()) container_guard{fx.engine, created.value()};
  REQUIRE_FALSE(created.ok());
  CHECK(created.error().code == "DOCKER_API_ERROR");
  CHECK(created.error().message == "create container: Engine answered 404: No such image: cssh-no-such-image:nope");

  auto attach = sync<std::shared_ptr<http::upgraded_stream>>(
      [&](auto cb) { fx.engine.attach_container("cssh-no-such-container", cb); });
  REQUIRE_FALSE(attach.ok());
  CHECK(attach.error().code == "DOCKER_API_ERROR");
  CHECK(attach.error().message.find("attach container cssh-no-such-container") == 0);
  CHECK(attach.error().message.find("No such container: cssh-no-such-container") != std::string::npos);

  auto start = sync<void>([&](auto cb) { fx.engine.start_container("cssh-no-such-container", cb); });
  REQUIRE_FALSE(start.ok());
  CHECK(start.error().message.find("start container cssh-no-such-container: Engine answered 404") == 0);

  auto wait = sync<std::int64_t>([&](auto cb) { fx.engine.wait_container("cssh-no-such-container", cb); });
  REQUIRE_FALSE(wait.ok());
  CHECK(wait.error().code == "DOCKER_API_ERROR");
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

TEST_CASE("an unreachable Engine is a transport failure naming the operation") {
  http::reactor reactor(1);
  http::endpoint ep;
  ep.kind = http::endpoint::transport::unix_socket;
  ep.socket_path = "/tmp/cssh-no-docker-here.sock";
  docker::engine engine(reactor, ep, 2s);
  auto r = sync<bool>([&](auto cb) { engine.image_exists(test_image, cb); });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_CONNECT_FAILED");
  CHECK(r.error().message.find("inspect image cssh-test:latest: unix:///tmp/cssh-no-docker-here.sock: GET /images/") == 0);
}

// --- against a fake Engine: what the real daemon here cannot show --------------------------------

namespace {

/// Answers exactly one request on a fresh Unix socket with a canned response and records the
/// request head, so tests can see the exact target and headers the engine sent.
class fake_engine {
 public:
  explicit fake_engine(std::string answer) {
    static std::atomic<int> counter{0};
    path_ = "/tmp/cssh-fake-engine-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".sock";
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    thread_ = std::thread([this, answer = std::move(answer)] { serve(answer); });
  }
  ~fake_engine() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }

  http::endpoint endpoint() const {
    http::endpoint ep;
    ep.kind = http::endpoint::transport::unix_socket;
    ep.socket_path = path_;
    return ep;
  }
  /// The request line and headers; valid once the call's callback has run.
  std::string head() {
    if (thread_.joinable()) thread_.join();
    return head_;
  }
  std::string request_line() {
    auto h = head();
    return h.substr(0, h.find("\r\n"));
  }

 private:
  void serve(const std::string& answer) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return;
    int conn = ::accept(fd_, nullptr, nullptr);
    if (conn < 0) return;
    std::string data;
    char buf[4096];
    while (data.find("\r\n\r\n") == std::string::npos) {
      pollfd c{conn, POLLIN, 0};
      if (::poll(&c, 1, 5000) != 1) break;
      auto n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
    }
    head_ = data.substr(0, data.find("\r\n\r\n") + 2);
    std::string_view rest = answer;
    while (!rest.empty()) {
      auto n = ::send(conn, rest.data(), rest.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    ::close(conn);
  }

  std::string path_;
  int fd_ = -1;
  std::string head_;
  std::thread thread_;
};

std::string ok_with_body(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string negotiate_against(const std::string& ping_answer) {
  fake_engine fake(ping_answer);
  http::reactor reactor(1);
  docker::engine engine(reactor, fake.endpoint(), 5s);
  auto v = sync<std::string>([&](auto cb) { engine.negotiate(cb); });
  REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
  CHECK(fake.request_line() == "GET /_ping HTTP/1.1");
  CHECK(engine.api_version() == v.value());
  return v.value();
}

}  // namespace

TEST_CASE("fake engine: negotiation compares versions as numbers and never exceeds 1.41") {
  CHECK(negotiate_against("HTTP/1.1 200 OK\r\nApi-Version: 1.43\r\nContent-Length: 2\r\n\r\nOK") == "1.41");
  CHECK(negotiate_against("HTTP/1.1 200 OK\r\nApi-Version: 1.30\r\nContent-Length: 2\r\n\r\nOK") == "1.30");
  // "1.9" sorts after "1.41" as text, but is the older version.
  CHECK(negotiate_against("HTTP/1.1 200 OK\r\nApi-Version: 1.9\r\nContent-Length: 2\r\n\r\nOK") == "1.9");
  CHECK(negotiate_against("HTTP/1.1 200 OK\r\nApi-Version: 2.0\r\nContent-Length: 2\r\n\r\nOK") == "1.41");
  // Engines older than API 1.25 send no header; the Docker CLI assumes 1.24 then.
  CHECK(negotiate_against("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK") == "1.24");
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
                   [&] {
                     std::ostringstream chunk;
                     chunk << std::hex << progress.size() << "\r\n" << progress << "\r\n0\r\n\r\n";
                     return chunk.str();
                   }());
  http::reactor reactor(1);
  docker::engine engine(reactor, fake.endpoint(), 5s);
  auto r = sync<void>([&](auto cb) { engine.pull_image("a/b:t", "eyJ1c2VybmFtZSI6InUifQ==", cb); });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "DOCKER_PULL_FAILED");
  CHECK(r.error().message == "pull image a/b:t: manifest for a/b:t not found: manifest unknown");
  CHECK(fake.head().find("\r\nX-Registry-Auth: eyJ1c2VybmFtZSI6InUifQ==\r\n") != std::string::npos);
  CHECK(fake.request_line() == "POST /images/create?fromImage=a%2Fb&tag=t HTTP/1.1");  // not negotiated: no prefix
}

TEST_CASE("fake engine: names, ids, signals and label filters are URL-encoded") {
  auto target_of = [](auto call, std::string answer) {
    fake_engine fake(std::move(answer));
    http::reactor reactor(1);
    docker::engine engine(reactor, fake.endpoint(), 5s);
    engine.set_api_version("1.41");
    call(engine);
    return fake.request_line();
  };
  CHECK(target_of(
            [](docker::engine& e) {
              auto r = sync<std::string>([&](auto cb) { e.create_container({{"Image", "x"}}, "a b/c", cb); });
              CHECK(r.ok());
            },
            "HTTP/1.1 201 Created\r\nContent-Length: 13\r\n\r\n{\"Id\":\"abc\"}\n") ==
        "POST /v1.41/containers/create?name=a%20b%2Fc HTTP/1.1");
  CHECK(target_of(
            [](docker::engine& e) {
              auto r = sync<std::vector<std::string>>([&](auto cb) { e.list_containers_with_label("k=v w", cb); });
              REQUIRE(r.ok());
              CHECK(r.value() == std::vector<std::string>{"id1", "id2"});
            },
            ok_with_body(R"([{"Id":"id1"},{"Id":"id2"}])")) ==
        "GET /v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22k%3Dv%20w%22%5D%7D HTTP/1.1");
  CHECK(target_of(
            [](docker::engine& e) {
              auto r = sync<void>([&](auto cb) { e.kill_container("id/../x", "SIGTERM", cb); });
              CHECK(r.ok());
            },
            "HTTP/1.1 204 No Content\r\n\r\n") == "POST /v1.41/containers/id%2F..%2Fx/kill?signal=SIGTERM HTTP/1.1");
  CHECK(target_of(
            [](docker::engine& e) {
              auto r = sync<void>([&](auto cb) { e.resize_container("abc", 24, 80, cb); });
              CHECK(r.ok());
            },
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") == "POST /v1.41/containers/abc/resize?h=24&w=80 HTTP/1.1");
}

TEST_CASE("fake engine: wait reports the Engine's wait error") {
  fake_engine fake(ok_with_body(R"({"StatusCode":-1,"Error":{"Message":"container removed while waiting"}})"));
  http::reactor reactor(1);
  docker::engine engine(reactor, fake.endpoint(), 5s);
  auto r = sync<std::int64_t>([&](auto cb) { engine.wait_container("abc", cb); });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "DOCKER_API_ERROR");
  CHECK(r.error().message == "wait for container abc: container removed while waiting");
  CHECK(fake.request_line() == "POST /containers/abc/wait?condition=not-running HTTP/1.1");
}

TEST_CASE("engine_error: the Engine's message, else the raw body, else a placeholder") {
  http::response resp;
  resp.status = 500;
  resp.body = R"({"message":"boom"})";
  CHECK(docker::engine_error("start container x", resp).message == "start container x: Engine answered 500: boom");
  CHECK(docker::engine_error("start container x", resp).code == "DOCKER_API_ERROR");
  resp.body = "plain text\n";
  CHECK(docker::engine_error("op", resp).message == "op: Engine answered 500: plain text");
  resp.body = "";
  CHECK(docker::engine_error("op", resp).message == "op: Engine answered 500: (no message)");
}
