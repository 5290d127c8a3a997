// Deadlines and Engines that do not answer: wait has no call deadline but a liveness probe, each
// call has its own deadline from engine_timeouts, and an unreachable Engine names the operation.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "engine_fixture.hpp"
#include "fake_engine.hpp"

using namespace engine_test;

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

TEST_CASE("fake engine: a create on an Engine that stops answering fails at the probe, not at containerStart") {
  // The create is held, and so is the liveness ping; containerStart (30 s) is far away.
  fake_engine hung(std::vector<std::string>{"", ""});
  http::reactor reactor(1);
  docker::engine_timeouts t;
  t.http = 300ms;  // probes every 1 s, each allowed 300 ms
  t.container_start = 30s;
  docker::engine engine(reactor, hung.endpoint(), t);
  engine.set_api_version("1.41");
  auto started = std::chrono::steady_clock::now();
  auto r = sync<std::string>([&](auto cb) { engine.create_container({{"Image", "a/b:t"}}, "", cb); });
  auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "DOCKER_ENGINE_UNRESPONSIVE");
  CHECK(r.error().message.find("create container: the Docker Engine at unix://") == 0);
  CHECK(r.error().message.find("GET /_ping: no complete answer within 300 ms") != std::string::npos);
  CHECK(took >= 1s);
  CHECK(took < 4s);
}

TEST_CASE("fake engine: a create that answers in time is not touched by the probe") {
  fake_engine slow(std::vector<std::string>{
      "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n{\"Id\":\"c0ffee\",\"Warnings\":[]}"});
  http::reactor reactor(1);
  docker::engine_timeouts t;
  t.http = 300ms;
  docker::engine engine(reactor, slow.endpoint(), t);
  engine.set_api_version("1.41");
  auto r = sync<std::string>([&](auto cb) { engine.create_container({{"Image", "a/b:t"}}, "", cb); });
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  CHECK(r.value() == "c0ffee");
}
