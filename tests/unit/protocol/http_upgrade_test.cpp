// http::async_upgrade: the Docker-style hijack (101 or 200), early bytes, half-close, refusals,
// deadlines, and the upgraded stream used from several threads.

#include <doctest/doctest.h>

#include <functional>
#include <future>
#include <string>
#include <thread>

#include "fake_http_server.hpp"

using namespace http_test;

namespace {

/// The Docker-like hijack conversation: header and first bytes in one send, echo, then answer
/// the client's half-close with a goodbye.
void hijack_echo_server(int fd, received_request& seen, bool& saw_eof) {
  seen = read_request(fd);
  write_all(fd, std::string(upgrade_answer) + "EARLY");  // one send: the bytes ride with the header
  auto got = read_some(fd);
  write_all(fd, got);
  saw_eof = read_some(fd).empty();  // the client's shutdown_send arrives as EOF
  write_all(fd, "bye");
}

void check_hijack_conversation(http::reactor& reactor, listener& l) {
  received_request seen;
  bool saw_eof = false;
  {
    one_shot_server server(l, [&](int fd) { hijack_echo_server(fd, seen, saw_eof); });
    http::request req;
    req.method = "POST";
    req.target = "/containers/abc/attach?stream=1&stdin=1&stdout=1&stderr=1";
    auto s = upgrade(reactor, l.endpoint(), req);
    REQUIRE(s.ok());
    auto& stream = *s.value();
    auto first = read(stream);
    REQUIRE(first.ok());
    CHECK(first.value() == "EARLY");
    REQUIRE(write(stream, "ping").ok());
    auto echoed = read(stream);
    REQUIRE(echoed.ok());
    CHECK(echoed.value() == "ping");
    stream.shutdown_send();
    std::string rest;
    for (;;) {
      auto more = read(stream);
      REQUIRE(more.ok());
      if (more.value().empty()) break;  // EOF
      rest += more.value();
    }
    CHECK(rest == "bye");
    stream.close();
  }
  CHECK(saw_eof);
  CHECK(seen.head.rfind("POST /containers/abc/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n", 0) == 0);
  CHECK(lower(seen.header("Connection")) == "upgrade");
  CHECK(seen.header("Upgrade") == "tcp");
}

}  // namespace

TEST_CASE("upgrade over TCP: early bytes first, echo, half-close seen as EOF by the server") {
  http::reactor reactor(2);
  auto l = listener::tcp();
  check_hijack_conversation(reactor, l);
}

TEST_CASE("upgrade over a Unix socket: early bytes first, echo, half-close seen as EOF by the server") {
  http::reactor reactor(2);
  auto l = listener::unix_socket();
  check_hijack_conversation(reactor, l);
}

TEST_CASE("upgrade: early bytes larger than one read are delivered in order by the first reads") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, std::string(upgrade_answer) + "0123456789");
    wait_for_eof(fd);
  });
  auto s = upgrade(reactor, l.endpoint(), http::request{});
  REQUIRE(s.ok());
  auto a = read(*s.value(), 4);
  auto b = read(*s.value(), 4);
  auto c = read(*s.value(), 4);
  REQUIRE((a.ok() && b.ok() && c.ok()));
  CHECK(a.value() == "0123");
  CHECK(b.value() == "4567");
  CHECK(c.value() == "89");
}

TEST_CASE("upgrade: a 200 answer (older engines) also hands over the stream") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\nraw");
  });
  auto s = upgrade(reactor, l.endpoint(), http::request{});
  REQUIRE(s.ok());
  std::string all;
  for (;;) {
    auto r = read(*s.value());
    REQUIRE(r.ok());
    if (r.value().empty()) break;
    all += r.value();
  }
  CHECK(all == "raw");
}

TEST_CASE("upgrade: a refusal carries the peer's message") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    std::string body = R"({"message":"No such container: abc"})";
    write_all(fd, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body);
  });
  http::request req;
  req.method = "POST";
  req.target = "/containers/abc/attach";
  auto s = upgrade(reactor, l.endpoint(), req);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == "HTTP_UPGRADE_REFUSED");
  CHECK(contains(s.error().message, "404"));
  CHECK(contains(s.error().message, "No such container: abc"));
  CHECK(contains(s.error().message, "POST /containers/abc/attach"));
}

TEST_CASE("upgrade: the header deadline fires, and no deadline applies after the upgrade") {
  http::reactor reactor(1);
  SUBCASE("silent server") {
    auto l = listener::tcp();
    one_shot_server server(l, [&](int fd) {
      read_request(fd);
      wait_for_eof(fd);
    });
    http::request req;
    req.timeout = 150ms;
    auto s = upgrade(reactor, l.endpoint(), req);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == "HTTP_TIMEOUT");
  }
  SUBCASE("upgraded stream outlives the header deadline") {
    auto l = listener::tcp();
    one_shot_server server(l, [&](int fd) {
      read_request(fd);
      write_all(fd, upgrade_answer);
      std::this_thread::sleep_for(400ms);
      write_all(fd, "late");
      wait_for_eof(fd);
    });
    http::request req;
    req.timeout = 100ms;
    auto s = upgrade(reactor, l.endpoint(), req);
    REQUIRE(s.ok());
    auto r = read(*s.value());
    REQUIRE(r.ok());
    CHECK(r.value() == "late");
  }
}

TEST_CASE("upgrade: a reader and a writer on different threads at once") {
  http::reactor reactor(4);
  auto l = listener::tcp();
  constexpr std::size_t total = 4u * 1024u * 1024u;
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, upgrade_answer);
    // Echo everything back until the client half-closes.
    for (;;) {
      auto got = read_some(fd);
      if (got.empty()) break;
      write_all(fd, got);
    }
  });
  auto s = upgrade(reactor, l.endpoint(), http::request{});
  REQUIRE(s.ok());
  auto stream = s.value();

  std::string sent;
  sent.reserve(total);
  for (std::size_t i = 0; sent.size() < total; ++i) sent += "block " + std::to_string(i) + ";";

  // Writer: a chain of writes from reactor threads, each issued by the previous one's callback,
  // while the reader chain runs on the same stream from whatever thread its callbacks land on.
  std::promise<bool> wrote_all;
  std::function<void(std::size_t)> write_from = [&](std::size_t pos) {
    if (pos >= sent.size()) {
      stream->shutdown_send();
      wrote_all.set_value(true);
      return;
    }
    auto piece = sent.substr(pos, 10000);
    stream->async_write(piece, [&, next = pos + piece.size()](result<void> r) {
      if (!r.ok()) {
        wrote_all.set_value(false);
        return;
      }
      write_from(next);
    });
  };
  std::string received;
  std::promise<bool> read_all;
  std::function<void()> read_next = [&] {
    stream->async_read(65536, [&](result<std::string> r) {
      if (!r.ok()) return read_all.set_value(false);
      if (r.value().empty()) return read_all.set_value(true);
      received += r.value();
      read_next();
    });
  };
  std::thread writer([&] { write_from(0); });
  std::thread reader([&] { read_next(); });
  writer.join();
  reader.join();
  auto wf = wrote_all.get_future();
  auto rf = read_all.get_future();
  REQUIRE(wf.wait_for(20s) == std::future_status::ready);
  REQUIRE(rf.wait_for(20s) == std::future_status::ready);
  CHECK(wf.get());
  CHECK(rf.get());
  CHECK(received.size() == sent.size());
  CHECK(received == sent);
}

TEST_CASE("upgrade: dropping the last reference closes the connection") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  bool closed = false;
  {
    one_shot_server server(l, [&](int fd) {
      read_request(fd);
      write_all(fd, upgrade_answer);
      closed = wait_for_eof(fd);
    });
    auto s = upgrade(reactor, l.endpoint(), http::request{});
    REQUIRE(s.ok());
  }
  CHECK(closed);
}

TEST_CASE("upgrade: close() from another thread ends an outstanding read") {
  http::reactor reactor(1);
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, upgrade_answer);
    wait_for_eof(fd);
  });
  auto s = upgrade(reactor, l.endpoint(), http::request{});
  REQUIRE(s.ok());
  waiter<std::string> pending;
  s.value()->async_read(1024, pending.handler());
  std::this_thread::sleep_for(50ms);
  s.value()->close();
  auto r = pending.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_STREAM_CLOSED");
}
