// The connection pool: a call reuses an idle kept connection, and what must never be reused.

#include <doctest/doctest.h>

#include <string>
#include <thread>

#include "fake_http_server.hpp"
#include "protocol/http/transport.hpp"

using namespace http_test;

namespace {
http::request timed_get(const std::string& target) {
  http::request req;
  req.target = target;
  req.timeout = 3s;
  return req;
}
}  // namespace

TEST_CASE("keep-alive: the next call to the endpoint reuses the connection") {
  http::reactor reactor(2);
  auto l = listener::tcp();
  received_request first, second;
  {
    // Accepts exactly one connection: a second call on a new connection would time out.
    one_shot_server server(l, [&](int fd) {
      first = read_request(fd);
      write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
      second = read_request(fd);
      write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
    });
    auto a = call(reactor, l.endpoint(), timed_get("/a"));
    auto b = call(reactor, l.endpoint(), timed_get("/b"));
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->body == "one");
    CHECK(b->body == "two");
  }
  CHECK(first.head.rfind("GET /a ", 0) == 0);
  CHECK(second.head.rfind("GET /b ", 0) == 0);
  CHECK(lower(first.header("Connection")) != "close");
}

TEST_CASE("keep-alive: an answer with Connection: close is not kept") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  bool closed_by_client = false;
  {
    one_shot_server server(l, [&](int fd) {
      read_request(fd);
      write_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
      closed_by_client = wait_for_eof(fd);
    });
    auto r = call(reactor, l.endpoint(), timed_get("/"));
    REQUIRE(r.ok());
  }
  CHECK(closed_by_client);
}

TEST_CASE("keep-alive: a connection the server closed while idle is not reused") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  {
    one_shot_server server(l, [&](int fd) {
      read_request(fd);
      write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });  // closes its end after answering
    REQUIRE(call(reactor, l.endpoint(), timed_get("/1")).ok());
  }
  one_shot_server again(l, [&](int fd) {
    read_request(fd);
    write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh");
  });
  auto r = call(reactor, l.endpoint(), timed_get("/2"));
  REQUIRE(r.ok());
  CHECK(r->body == "fresh");
}

TEST_CASE("keep-alive: a request the server drops on a reused connection is sent again on a new one") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  received_request retried;
  std::thread server([&] {
    int fd = l.accept_one();
    REQUIRE(fd >= 0);
    read_request(fd);
    write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    read_request(fd);  // the server's idle timer fired just as this arrived: close unanswered
    ::close(fd);
    int fd2 = l.accept_one();
    REQUIRE(fd2 >= 0);
    retried = read_request(fd2);
    write_all(fd2, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nretry");
    ::close(fd2);
  });
  REQUIRE(call(reactor, l.endpoint(), timed_get("/first")).ok());
  http::request post = timed_get("/second");
  post.method = "POST";
  post.body = R"({"n":2})";
  auto r = call(reactor, l.endpoint(), post);
  server.join();
  REQUIRE(r.ok());
  CHECK(r->body == "retry");
  CHECK(retried.head.rfind("POST /second ", 0) == 0);
  CHECK(retried.body == R"({"n":2})");
}

TEST_CASE("keep-alive: an idle connection is closed once its keep time is over") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  bool closed_by_client = false;
  {
    one_shot_server server(l, [&](int fd) {
      read_request(fd);
      write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      // No further call comes: the pool must not hold the connection open indefinitely.
      closed_by_client = wait_for_eof(fd, 20s);
    });
    REQUIRE(call(reactor, l.endpoint(), timed_get("/")).ok());
  }
  CHECK(closed_by_client);
}

TEST_CASE("keep-alive: a connection used again is swept by its own keep time, not the first one's") {
  // One sweep timer per endpoint: armed by the first put, it must find the reused connection not
  // yet due, re-arm for it, and close it one keep time after its last use.
  http::reactor reactor(1);
  auto l = listener::tcp();
  const auto keep = http::detail::connection_pool::keep_time();
  std::chrono::steady_clock::time_point second_answered, closed_at;
  bool closed_by_client = false;
  {
    one_shot_server server(l, [&](int fd) {
      read_request(fd);
      write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      read_request(fd);
      write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      second_answered = std::chrono::steady_clock::now();
      closed_by_client = wait_for_eof(fd, keep * 2);
      closed_at = std::chrono::steady_clock::now();
    });
    REQUIRE(call(reactor, l.endpoint(), timed_get("/first")).ok());
    std::this_thread::sleep_for(keep / 4);  // the fake server reads with a 5 s deadline
    REQUIRE(call(reactor, l.endpoint(), timed_get("/second")).ok());
  }
  REQUIRE(closed_by_client);
  // Not at the first timer (three quarters of a keep time after the second call), but a keep
  // time after it.
  CHECK(closed_at - second_answered >= keep - std::chrono::milliseconds(200));
  CHECK(closed_at - second_answered <= keep + std::chrono::seconds(2));
}
