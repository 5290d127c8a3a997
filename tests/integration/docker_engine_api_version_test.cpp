// Engine API version negotiation and pinned versions: the real dockerd under API 1.18 to 1.41, and
// fake Engines for what it cannot show (newer, older and header-less Engines, the wait condition
// before API 1.30, errors naming the Engine and the version spoken).

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine_fixture.hpp"
#include "fake_engine.hpp"

using namespace engine_test;

TEST_CASE("negotiate picks the lower of the daemon's version and 1.41") {
  http::reactor reactor(1);
  docker::engine engine(reactor, http::parse_docker_host(docker_host()).value(), 15s);
  CHECK(engine.api_version().empty());
  auto v = sync<std::string>([&](auto cb) { engine.negotiate(cb); });
  REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
  CHECK(v.value() == "1.41");  // this daemon speaks 1.41 (Engine 20.10)
  CHECK(engine.api_version() == "1.41");
}

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

namespace {

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
