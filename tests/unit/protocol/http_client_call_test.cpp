// http::async_call against the fake server: what is sent, every way an answer can be framed,
// and every way a call can fail (deadline, refusal, size limit, malformed answer, cancellation).

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "fake_http_server.hpp"

using namespace http_test;

TEST_CASE("call: Content-Length response and the request as sent") {
  http::reactor reactor(2);
  auto l = listener::tcp();
  received_request seen;
  {
    one_shot_server server(l, [&](int fd) {
      seen = read_request(fd);
      write_all(fd, "HTTP/1.1 201 Created\r\nContent-Length: 11\r\nX-Test: yes\r\n\r\n{\"Id\":\"x\"}\n");
    });
    http::request req;
    req.method = "POST";
    req.target = "/v1.41/containers/create?name=a%20b";
    req.body = R"({"Image":"busybox"})";
    req.headers.emplace_back("X-Registry-Auth", "abc");
    auto r = call(reactor, l.endpoint(), req);
    REQUIRE(r.ok());
    CHECK(r->status == 201);
    CHECK(r->body == "{\"Id\":\"x\"}\n");
    CHECK(r->header("x-test") == "yes");
    CHECK(r->header("X-TEST") == "yes");
    CHECK(r->header("absent") == "");
  }
  CHECK(seen.head.rfind("POST /v1.41/containers/create?name=a%20b HTTP/1.1\r\n", 0) == 0);
  CHECK(seen.header("Host") == "127.0.0.1:" + std::to_string(l.endpoint().port));
  CHECK(seen.header("User-Agent") == "containerssh-cpp");
  CHECK(seen.header("Content-Type") == "application/json");
  CHECK(seen.header("X-Registry-Auth") == "abc");
  CHECK(seen.body == R"({"Image":"busybox"})");
}

TEST_CASE("call: no Content-Type without a body") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  received_request seen;
  {
    one_shot_server server(l, [&](int fd) {
      seen = read_request(fd);
      write_all(fd, "HTTP/1.1 204 No Content\r\n\r\n");
    });
    auto r = call(reactor, l.endpoint(), http::request{});
    REQUIRE(r.ok());
    CHECK(r->status == 204);
    CHECK(r->body.empty());
  }
  CHECK(seen.head.rfind("GET / HTTP/1.1\r\n", 0) == 0);
  CHECK(seen.header("Content-Type") == "");
}

TEST_CASE("call: chunked response body") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    std::this_thread::sleep_for(20ms);  // the body arrives in pieces
    write_all(fd, "7\r\n, world\r\n0\r\n\r\n");
  });
  auto r = call(reactor, l.endpoint(), http::request{});
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == "hello, world");
}

TEST_CASE("call: body delimited by the connection closing") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, "HTTP/1.1 200 OK\r\n\r\nuntil the end");
  });
  auto r = call(reactor, l.endpoint(), http::request{});
  REQUIRE(r.ok());
  CHECK(r->body == "until the end");
}

TEST_CASE("call: over a Unix socket, Host is localhost") {
  http::reactor reactor(1);
  auto l = listener::unix_socket();
  received_request seen;
  {
    one_shot_server server(l, [&](int fd) {
      seen = read_request(fd);
      write_all(fd, "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK");
    });
    http::request req;
    req.target = "/_ping";
    auto r = call(reactor, l.endpoint(), req);
    REQUIRE(r.ok());
    CHECK(r->body == "OK");
    CHECK(r->header("api-version") == "1.41");
  }
  CHECK(seen.header("Host") == "localhost");
}

TEST_CASE("call: the deadline fires against a server that never answers") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  bool client_closed = false;
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    client_closed = wait_for_eof(fd);  // the client must hang up when its deadline passes
  });
  http::request req;
  req.target = "/slow";
  req.timeout = 200ms;
  auto started = std::chrono::steady_clock::now();
  auto r = call(reactor, l.endpoint(), req);
  auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_TIMEOUT");
  CHECK(contains(r.error().message, l.endpoint().describe()));
  CHECK(contains(r.error().message, "GET /slow"));
  CHECK(took >= 190ms);
  CHECK(took < 3s);
  server.join();
  CHECK(client_closed);
}

TEST_CASE("call: connection refused names the endpoint and the request") {
  http::reactor reactor(1);
  http::endpoint ep;
  {
    auto l = listener::tcp();
    ep = l.endpoint();
  }  // closed: nothing listens on that port any more
  http::request req;
  req.method = "DELETE";
  req.target = "/containers/abc";
  auto r = call(reactor, ep, req);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_CONNECT_FAILED");
  CHECK(contains(r.error().message, "http://127.0.0.1:" + std::to_string(ep.port)));
  CHECK(contains(r.error().message, "DELETE /containers/abc"));
  CHECK(contains(lower(r.error().message), "refused"));
}

TEST_CASE("call: a missing Unix socket fails to connect") {
  http::reactor reactor(1);
  http::endpoint ep;
  ep.kind = http::endpoint::transport::unix_socket;
  ep.socket_path = "/tmp/cssh-http-test-does-not-exist.sock";
  auto r = call(reactor, ep, http::request{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_CONNECT_FAILED");
  CHECK(contains(r.error().message, "unix:///tmp/cssh-http-test-does-not-exist.sock: GET /"));
}

TEST_CASE("call: an unresolvable host fails to connect") {
  http::reactor reactor(1);
  http::endpoint ep;
  ep.host = "no-such-host.invalid";
  ep.port = 80;
  waiter<http::response> w;
  http::async_call(reactor, ep, http::request{}, w.handler());
  auto r = w.get(40s);  // a resolver with an unreachable DNS server takes its time to give up
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_CONNECT_FAILED");
  CHECK(contains(r.error().message, "no-such-host.invalid"));
}

TEST_CASE("call: a body over 16 MiB is refused") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 17000000\r\n\r\n");
    write_all(fd, std::string(65536, 'x'));
  });
  auto r = call(reactor, l.endpoint(), http::request{});
  REQUIRE_FALSE(r.ok());
  CAPTURE(r.error().message);
  CHECK(r.error().code == "HTTP_BODY_TOO_LARGE");
  CHECK(contains(r.error().message, "GET /"));
}

TEST_CASE("call: a chunked body growing over 16 MiB is refused") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    std::string chunk = "100000\r\n" + std::string(0x100000, 'y') + "\r\n";  // 1 MiB per chunk
    for (int i = 0; i < 17; ++i) write_all(fd, chunk);
  });
  auto r = call(reactor, l.endpoint(), http::request{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_BODY_TOO_LARGE");
}

TEST_CASE("call: a malformed answer is a protocol error") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
  });
  http::request req;
  req.target = "/_ping";
  auto r = call(reactor, l.endpoint(), req);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_PROTOCOL_ERROR");
  CHECK(contains(r.error().message, "GET /_ping"));
}

TEST_CASE("call: the peer closing before answering is a protocol error") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) { read_request(fd); });
  auto r = call(reactor, l.endpoint(), http::request{});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_PROTOCOL_ERROR");
}

TEST_CASE("call: a cancellation ends a call without deadline, before or while it runs") {
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    wait_for_eof(fd, 5s);  // never answers; sees our close
  });
  http::reactor reactor(1);
  http::request req;
  req.timeout = 0ms;
  req.cancel = std::make_shared<http::cancellation>();
  auto cancel = req.cancel;
  waiter<http::response> w;
  auto started = std::chrono::steady_clock::now();
  http::async_call(reactor, l.endpoint(), std::move(req), w.handler());
  std::this_thread::sleep_for(200ms);
  cancel->cancel();
  auto r = w.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_CANCELLED");
  CHECK(contains(r.error().message, "cancelled by its caller"));
  CHECK(std::chrono::steady_clock::now() - started < 3s);

  http::request early;
  early.cancel = std::make_shared<http::cancellation>();
  early.cancel->cancel();
  auto r2 = call(reactor, l.endpoint(), std::move(early));
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().code == "HTTP_CANCELLED");
}

TEST_CASE("call: many calls in parallel on a multi-threaded reactor") {
  http::reactor reactor(3);
  auto l = listener::tcp();
  constexpr int n = 20;
  std::thread server([&] {
    std::vector<std::thread> conns;
    for (int i = 0; i < n; ++i) {
      int fd = l.accept_one();
      if (fd < 0) break;
      conns.emplace_back([fd] {
        auto req = read_request(fd);
        auto body = req.head.substr(0, req.head.find("\r\n"));
        write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
        ::close(fd);
      });
    }
    for (auto& t : conns) t.join();
  });
  std::vector<waiter<http::response>> waiters(n);
  for (int i = 0; i < n; ++i) {
    http::request req;
    req.target = "/item/" + std::to_string(i);
    http::async_call(reactor, l.endpoint(), req, waiters[static_cast<std::size_t>(i)].handler());
  }
  for (int i = 0; i < n; ++i) {
    auto r = waiters[static_cast<std::size_t>(i)].get();
    REQUIRE(r.ok());
    CHECK(r->body == "GET /item/" + std::to_string(i) + " HTTP/1.1");
  }
  server.join();
}
