// docker::engine against the real dockerd (DOCKER_HOST, default unix:///var/run/docker.sock) and
// the test image cssh-test:latest that tests/e2e/setup.sh builds. Every container a test creates
// is removed when the test ends, whichever way it ends.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>
#include <string>

#include "common/log.hpp"
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
  // Not negotiated yet: the call negotiates first, and says that this is what failed.
  CHECK(r.error().message.find("inspect image cssh-test:latest: negotiate API version: "
                               "unix:///tmp/cssh-no-docker-here.sock: GET /_ping: connect failed") == 0);
  engine.set_api_version("1.41");
  auto pinned = sync<bool>([&](auto cb) { engine.image_exists(test_image, cb); });
  REQUIRE_FALSE(pinned.ok());
  CHECK(pinned.error().message.find("inspect image cssh-test:latest: unix:///tmp/cssh-no-docker-here.sock: GET "
                                    "/v1.41/images/cssh-test:latest/json: connect failed") == 0);
}

// --- the real Engine under older API versions ---------------------------------------------------

TEST_CASE("negotiation against the real Engine records its version") {
  fixture fx;
  auto info = fx.engine.info();
  CHECK(info.api_version == "1.41");
  CHECK_FALSE(info.pinned);
  CHECK_FALSE(info.engine_version.empty());
  CHECK(info.max_api_version == "1.41");
  CHECK_FALSE(info.min_api_version.empty());
  CHECK(info.engine_text().find("Docker Engine " + info.engine_version + " (API 1.41, oldest ") == 0);
}

TEST_CASE("pinned API versions 1.18, 1.24 and 1.30: create, attach, stdin EOF, start, wait, remove") {
  fixture fx;
  fx.require_test_image();
  for (std::string version : {"1.18", "1.24", "1.30"}) {
    CAPTURE(version);
    docker::engine old(fx.reactor, fx.engine.endpoint(), 15s);
    old.set_api_version(version);
    auto negotiated = sync<std::string>([&](auto cb) { old.negotiate(cb); });
    REQUIRE_MESSAGE(negotiated.ok(), (negotiated.ok() ? "" : negotiated.error().message));
    CHECK(negotiated.value() == version);  // pinned: negotiation checks, does not change it
    CHECK(old.info().pinned);
    auto body = container_body({"sh", "-c", "cat; echo done >&2; exit 4"});
    body["AttachStdin"] = true;
    body["OpenStdin"] = true;
    body["StdinOnce"] = true;
    body["HostConfig"]["Init"] = true;  // unknown before 1.25: dropped, the session still works
    auto c = create(old, body);
    auto stream = sync<std::shared_ptr<http::upgraded_stream>>([&](auto cb) { old.attach_container(c->id, cb); });
    REQUIRE_MESSAGE(stream.ok(), (stream.ok() ? "" : stream.error().message));
    expect_ok(sync<void>([&](auto cb) { old.start_container(c->id, cb); }));
    expect_ok(sync<void>([&](auto cb) { stream.value()->async_write("api " + version + "\n", cb); }));
    stream.value()->shutdown_send();
    auto got = read_to_end(*stream.value());
    CHECK(got.out == "api " + version + "\n");
    CHECK(got.err == "done\n");
    auto code = sync<std::int64_t>([&](auto cb) { old.wait_container(c->id, cb); });
    REQUIRE_MESSAGE(code.ok(), (code.ok() ? "" : code.error().message));
    CHECK(code.value() == 4);
    expect_ok(sync<void>([&](auto cb) { old.remove_container(c->id, cb); }));
  }
}

TEST_CASE("pinned API 1.24: a field it lacks is refused naming the Engine; a version the Engine lacks too") {
  fixture fx;
  fx.require_test_image();
  docker::engine old(fx.reactor, fx.engine.endpoint(), 15s);
  old.set_api_version("1.24");
  REQUIRE(sync<std::string>([&](auto cb) { old.negotiate(cb); }).ok());
  auto body = container_body({"true"});
  body["HostConfig"]["Mounts"] = nlohmann::json::array({{{"Type", "tmpfs"}, {"Target", "/scratch"}}});
  auto created = sync<std::string>([&](auto cb) { old.create_container(body, "", cb); });
  if (created.ok()) container_guard{fx.engine, created.value()};
  REQUIRE_FALSE(created.ok());
  CHECK(created.error().code == "DOCKER_API_TOO_OLD");
  CHECK(created.error().message.find("create container: HostConfig.Mounts needs Engine API 1.25, but this connection "
                                     "speaks API 1.24 (Docker Engine ") == 0);
  CHECK(old.require_api("1.25", "put_archive").error().message.find("put_archive needs Engine API 1.25") == 0);
  CHECK(old.require_api("1.24", "x").ok());

  // Older than the Engine serves: its own 400, with which Engine and which version we spoke.
  docker::engine ancient(fx.reactor, fx.engine.endpoint(), 15s);
  ancient.set_api_version("1.11");
  auto refused = sync<std::string>([&](auto cb) { ancient.negotiate(cb); });
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "DOCKER_API_VERSION_UNSUPPORTED");
  CHECK(refused.error().message.find("the pinned API version 1.11 is older than Docker Engine ") != std::string::npos);
  auto call = sync<bool>([&](auto cb) { ancient.image_exists(test_image, cb); });
  REQUIRE_FALSE(call.ok());
  CHECK(call.error().message.find("inspect image cssh-test:latest: Engine answered 400: client version 1.11 is too old") == 0);
  CHECK(call.error().message.find("this connection speaks API 1.11)") != std::string::npos);
}

TEST_CASE("the wait's liveness probe leaves a healthy Engine alone") {
  fixture fx;
  fx.require_test_image();
  // Probes every second (the minimum) with a 500 ms deadline, during a 2.5 s wait.
  docker::engine probing(fx.reactor, fx.engine.endpoint(), 500ms);
  probing.set_api_version("1.41");
  auto c = create(fx.engine, container_body({"sh", "-c", "sleep 2.5; exit 6"}));
  expect_ok(sync<void>([&](auto cb) { fx.engine.start_container(c->id, cb); }));
  auto code = sync<std::int64_t>([&](auto cb) { probing.wait_container(c->id, cb); });
  REQUIRE_MESSAGE(code.ok(), (code.ok() ? "" : code.error().message));
  CHECK(code.value() == 6);
}

// --- against a fake Engine: what the real daemon here cannot show --------------------------------

namespace {

/// Serves one canned answer per connection, in order, on a fresh Unix socket, and records each
/// request head. An empty answer accepts the connection and never answers (a hung daemon).
class fake_engine {
 public:
  explicit fake_engine(std::vector<std::string> answers) {
    static std::atomic<int> counter{0};
    path_ = "/tmp/cssh-fake-engine-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".sock";
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    ::pipe(stop_);
    thread_ = std::thread([this, answers = std::move(answers)] {
      for (const auto& answer : answers) {
        if (!serve(answer)) break;
      }
    });
  }
  explicit fake_engine(std::string answer) : fake_engine(std::vector<std::string>{std::move(answer)}) {}
  ~fake_engine() {
    stop();
    ::close(fd_);
    ::close(stop_[0]);
    ::close(stop_[1]);
    for (int c : held_) ::close(c);
    ::unlink(path_.c_str());
  }

  http::endpoint endpoint() const {
    http::endpoint ep;
    ep.kind = http::endpoint::transport::unix_socket;
    ep.socket_path = path_;
    return ep;
  }
  /// Request heads seen so far (wait until the calls' callbacks ran before reading).
  std::vector<std::string> heads() {
    std::lock_guard<std::mutex> lock(mu_);
    return heads_;
  }
  /// The first request's head, once every answer was given.
  std::string head() {
    stop_when_done();
    auto h = heads();
    return h.empty() ? "" : h[0];
  }
  std::string request_line() {
    auto h = head();
    return h.substr(0, h.find("\r\n"));
  }
  static std::string line_of(const std::string& head) { return head.substr(0, head.find("\r\n")); }
  /// True once the peer closed a connection we held without answering.
  bool held_closed_by_peer() {
    std::lock_guard<std::mutex> lock(mu_);
    for (int c : held_) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 0) == 1) {
        char b;
        if (::recv(c, &b, 1, MSG_PEEK) == 0) return true;
      }
    }
    return false;
  }

 private:
  void stop_when_done() {
    if (thread_.joinable()) thread_.join();
  }
  void stop() {
    (void)::write(stop_[1], "x", 1);
    if (thread_.joinable()) thread_.join();
  }
  bool serve(const std::string& answer) {
    pollfd p[2] = {{fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
    if (::poll(p, 2, 10000) < 1 || (p[1].revents & POLLIN)) return false;
    int conn = ::accept(fd_, nullptr, nullptr);
    if (conn < 0) return false;
    std::string data;
    char buf[4096];
    while (data.find("\r\n\r\n") == std::string::npos) {
      pollfd c{conn, POLLIN, 0};
      if (::poll(&c, 1, 5000) != 1) break;
      auto n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      heads_.push_back(data.substr(0, data.find("\r\n\r\n") + 2));
      if (answer.empty()) {
        held_.push_back(conn);
        return true;
      }
    }
    // A '\x01' in the answer is a pause: the pieces around it arrive 300 ms apart.
    std::size_t start = 0;
    while (start <= answer.size()) {
      auto pause = answer.find('\x01', start);
      std::string_view rest = std::string_view(answer).substr(start, pause == std::string::npos ? std::string::npos : pause - start);
      while (!rest.empty()) {
        auto n = ::send(conn, rest.data(), rest.size(), MSG_NOSIGNAL);
        if (n <= 0) break;
        rest.remove_prefix(static_cast<std::size_t>(n));
      }
      if (pause == std::string::npos) break;
      std::this_thread::sleep_for(300ms);
      start = pause + 1;
    }
    ::close(conn);
    return true;
  }

  std::string path_;
  int fd_ = -1;
  int stop_[2] = {-1, -1};
  std::mutex mu_;
  std::vector<std::string> heads_;
  std::vector<int> held_;
  std::thread thread_;
};

std::string ok_with_body(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string version_answer =
    ok_with_body(R"({"Version":"17.06.2-ce","ApiVersion":"1.30","MinAPIVersion":"1.12","Os":"linux"})");

std::string negotiate_against(const std::string& ping_answer, const std::string& version_body = version_answer) {
  fake_engine fake(std::vector<std::string>{ping_answer, version_body});
  http::reactor reactor(1);
  docker::engine engine(reactor, fake.endpoint(), 5s);
  auto v = sync<std::string>([&](auto cb) { engine.negotiate(cb); });
  REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
  auto heads = fake.heads();
  REQUIRE(heads.size() == 2);
  CHECK(fake_engine::line_of(heads[0]) == "GET /_ping HTTP/1.1");
  CHECK(fake_engine::line_of(heads[1]) == "GET /version HTTP/1.1");
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
  // Engines older than API 1.25 send no header: /version says what they speak.
  CHECK(negotiate_against("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK",
                          ok_with_body(R"({"Version":"1.11.2","ApiVersion":"1.23"})")) == "1.23");
  // ... and when /version says nothing either, 1.24 as the Docker CLI assumes.
  CHECK(negotiate_against("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n") ==
        "1.24");
}

TEST_CASE("fake engine: the first call negotiates, then goes under the version prefix") {
  fake_engine fake(std::vector<std::string>{"HTTP/1.1 200 OK\r\nApi-Version: 1.30\r\nContent-Length: 2\r\n\r\nOK",
                                            version_answer, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"});
  http::reactor reactor(1);
  docker::engine engine(reactor, fake.endpoint(), 5s);
  auto r = sync<bool>([&](auto cb) { engine.image_exists("busybox", cb); });
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  CHECK_FALSE(r.value());
  auto heads = fake.heads();
  REQUIRE(heads.size() == 3);
  CHECK(fake_engine::line_of(heads[2]) == "GET /v1.30/images/busybox/json HTTP/1.1");
  CHECK(engine.info().engine_text() == "Docker Engine 17.06.2-ce (API 1.30, oldest 1.12)");
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
  std::ostringstream answer;
  answer << "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string block;
  while (block.size() < 1024 * 1024) block += line;
  for (int i = 0; i < 17; ++i) answer << std::hex << block.size() << "\r\n" << block << "\r\n";
  std::string last = "{\"status\":\"Status: Downloaded newer image for big\"}\n";
  answer << std::hex << last.size() << "\r\n" << last << "\r\n0\r\n\r\n";
  fake_engine fake(answer.str());
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

std::string chunk(const std::string& text) {
  std::ostringstream out;
  out << std::hex << text.size() << "\r\n" << text << "\r\n";
  return out.str();
}

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

TEST_CASE("fake engine: wait reports the Engine's wait error; the condition only from API 1.30") {
  fake_engine fake(ok_with_body(R"({"StatusCode":-1,"Error":{"Message":"container removed while waiting"}})"));
  http::reactor reactor(1);
  docker::engine engine(reactor, fake.endpoint(), 5s);
  engine.set_api_version("1.30");
  auto r = sync<std::int64_t>([&](auto cb) { engine.wait_container("abc", cb); });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "DOCKER_API_ERROR");
  CHECK(r.error().message == "wait for container abc: container removed while waiting");
  CHECK(fake.request_line() == "POST /v1.30/containers/abc/wait?condition=not-running HTTP/1.1");

  fake_engine old(ok_with_body(R"({"StatusCode":2})"));
  docker::engine old_engine(reactor, old.endpoint(), 5s);
  old_engine.set_api_version("1.29");
  auto code = sync<std::int64_t>([&](auto cb) { old_engine.wait_container("abc", cb); });
  REQUIRE(code.ok());
  CHECK(code.value() == 2);
  CHECK(old.request_line() == "POST /v1.29/containers/abc/wait HTTP/1.1");
}

TEST_CASE("fake engine: a call the Engine does not know names the Engine and the API version") {
  fake_engine fake(std::vector<std::string>{"HTTP/1.1 200 OK\r\nApi-Version: 1.30\r\nContent-Length: 2\r\n\r\nOK",
                                            version_answer,
                                            "HTTP/1.1 404 Not Found\r\nContent-Length: 29\r\n\r\n{\"message\":\"page not found\"}\n"});
  http::reactor reactor(1);
  docker::engine engine(reactor, fake.endpoint(), 5s);
  auto r = sync<void>([&](auto cb) { engine.kill_container("abc", "", cb); });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message ==
        "kill container abc: Engine answered 404: page not found (Docker Engine 17.06.2-ce (API 1.30, oldest 1.12); "
        "this connection speaks API 1.30)");
}

TEST_CASE("fake engine: each call has its own deadline from the timeouts") {
  // A daemon that accepts and never answers.
  fake_engine hung(std::vector<std::string>{"", "", ""});
  http::reactor reactor(1);
  docker::engine_timeouts t;
  t.http = 5s;
  t.container_start = 200ms;
  t.container_stop = 300ms;
  t.signal = 5s;
  docker::engine engine(reactor, hung.endpoint(), t);
  engine.set_api_version("1.41");
  auto started = std::chrono::steady_clock::now();
  auto created = sync<std::string>([&](auto cb) { engine.create_container({{"Image", "x"}}, "", cb); });
  REQUIRE_FALSE(created.ok());
  CHECK(created.error().code == "HTTP_TIMEOUT");
  CHECK(created.error().message.find("create container: ") == 0);
  CHECK(created.error().message.find("no complete answer within 200 ms") != std::string::npos);
  auto removed = sync<void>([&](auto cb) { engine.remove_container("abc", cb); });
  REQUIRE_FALSE(removed.ok());
  CHECK(removed.error().message.find("no complete answer within 300 ms") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < 3s);
}

TEST_CASE("fake engine: a wait on an Engine that stops answering fails within the probe interval") {
  // The wait is held, and so is the liveness ping.
  fake_engine hung(std::vector<std::string>{"", ""});
  http::reactor reactor(1);
  docker::engine engine(reactor, hung.endpoint(), 300ms);  // probes every 1 s, each allowed 300 ms
  engine.set_api_version("1.41");
  auto started = std::chrono::steady_clock::now();
  auto r = sync<std::int64_t>([&](auto cb) { engine.wait_container("abc", cb); });
  auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "DOCKER_ENGINE_UNRESPONSIVE");
  CHECK(r.error().message.find("wait for container abc: the Docker Engine at unix://") == 0);
  CHECK(r.error().message.find("stopped answering (") != std::string::npos);
  CHECK(r.error().message.find("GET /_ping: no complete answer within 300 ms") != std::string::npos);
  CHECK(took >= 1s);
  CHECK(took < 4s);
  // The abandoned wait request was closed, not leaked.
  bool closed = false;
  for (int i = 0; i < 50 && !closed; ++i) {
    closed = hung.held_closed_by_peer();
    if (!closed) std::this_thread::sleep_for(20ms);
  }
  CHECK(closed);
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
