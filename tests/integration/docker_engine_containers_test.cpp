// docker::engine's container calls against the real dockerd (create, attach, start, wait, kill,
// resize, remove, list, names), the Engine's errors, and the URL encoding seen by a fake Engine.

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine_fixture.hpp"
#include "fake_engine.hpp"

using namespace engine_test;

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
  // Its own code: the pull policy pulls on it (IfNotPresent) or names itself (Never).
  CHECK(created.error().code == "DOCKER_IMAGE_ABSENT");
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

TEST_CASE("engine_error: the Engine's message, else the raw body, else a placeholder") {
  http::response resp;
  resp.status = 500;
  resp.body = R"({"message":"boom"})";
  CHECK(docker::engine_error("start container x", resp).message == "start container x: Engine answered 500: boom");
  CHECK(docker::engine_error("start container x", resp).code == "DOCKER_API_ERROR");
  // A start's failure for a program that is not there has a code of its own: the session's exit
  // status (127) follows from it. Only a start: other calls keep DOCKER_API_ERROR.
  resp.body = R"({"message":"failed to create task: exec: \"nope\": executable file not found in $PATH"})";
  CHECK(docker::start_failure(docker::engine_error("start container x", resp)).code == "DOCKER_PROGRAM_NOT_FOUND");
  resp.body = R"({"message":"OCI runtime create failed: stat /bin/nope: no such file or directory"})";
  CHECK(docker::start_failure(docker::engine_error("start container x", resp)).code == "DOCKER_PROGRAM_NOT_FOUND");
  CHECK(docker::engine_error("start container x", resp).code == "DOCKER_API_ERROR");
  CHECK(docker::start_failure(cssh::fail("HTTP_STREAM_ERROR", "no such file or directory")).code == "HTTP_STREAM_ERROR");
  resp.body = "plain text\n";
  CHECK(docker::engine_error("op", resp).message == "op: Engine answered 500: plain text");
  resp.body = "";
  CHECK(docker::engine_error("op", resp).message == "op: Engine answered 500: (no message)");
}
