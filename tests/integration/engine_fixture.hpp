// What the docker::engine integration tests share against the real dockerd (DOCKER_HOST, default
// unix:///var/run/docker.sock) and the test image cssh-test:latest that tests/e2e/setup.sh builds:
// a fixture with a negotiated engine, a guard that removes every container a test creates when the
// test ends, whichever way it ends, and a reader that demultiplexes an attach stream.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "docker/engine.hpp"
#include "actors/docker_frame.hpp"

namespace engine_test {

using namespace std::chrono_literals;
using cssh::result;
namespace http = cssh::http;
namespace docker = cssh::docker;
namespace frame = cssh::docker_frame;

inline constexpr const char* test_image = "cssh-test:latest";
// Labels tell our containers apart from anyone else's on the same daemon.
inline const std::string test_label_key = "containerssh_cpp_engine_test";
inline const std::string test_label_value = std::to_string(::getpid());

inline std::string docker_host() {
  const char* env = std::getenv("DOCKER_HOST");
  return env && *env ? env : "unix:///var/run/docker.sock";
}

/// Runs an async engine call and waits for its callback.
template <class T, class Start>
inline result<T> sync(Start&& start, std::chrono::seconds timeout = 60s) {
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

inline nlohmann::json container_body(nlohmann::json cmd) {
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
inline std::unique_ptr<container_guard> create(docker::engine& engine, const nlohmann::json& body, const std::string& name = "") {
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
inline demuxed read_to_end(http::upgraded_stream& stream) {
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

inline void expect_ok(const result<void>& r) { REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message)); }

}  // namespace engine_test
