// The HTTP client against tiny in-process servers written with plain POSIX sockets (so the
// server side shares no code with the client under test).

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "protocol/http_client.hpp"

using namespace std::chrono_literals;
using cssh::result;
namespace http = cssh::http;

namespace {

// --- a minimal blocking test server ----------------------------------------------------------

/// A listening socket on 127.0.0.1:0 or on a fresh Unix socket path under /tmp.
class listener {
 public:
  static listener tcp() {
    listener l;
    l.fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(l.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(l.fd_, 16) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(l.fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    l.ep_.kind = http::endpoint::transport::tcp;
    l.ep_.host = "127.0.0.1";
    l.ep_.port = ntohs(addr.sin_port);
    return l;
  }

  static listener unix_socket() {
    static std::atomic<int> counter{0};
    listener l;
    l.path_ = "/tmp/cssh-http-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".sock";
    ::unlink(l.path_.c_str());
    l.fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", l.path_.c_str());
    REQUIRE(::bind(l.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(l.fd_, 16) == 0);
    l.ep_.kind = http::endpoint::transport::unix_socket;
    l.ep_.socket_path = l.path_;
    return l;
  }

  listener(listener&& o) noexcept : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)), ep_(o.ep_) {
    o.path_.clear();
  }
  ~listener() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  const http::endpoint& endpoint() const { return ep_; }

  /// Accepts one connection, or -1 after the timeout.
  int accept_one(std::chrono::milliseconds timeout = 5s) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
    return ::accept(fd_, nullptr, nullptr);
  }

 private:
  listener() = default;
  int fd_ = -1;
  std::string path_;
  http::endpoint ep_;
};

/// Runs `handle(fd)` for one accepted connection on its own thread; joins on destruction.
class one_shot_server {
 public:
  one_shot_server(listener& l, std::function<void(int)> handle)
      : thread_([&l, handle = std::move(handle)] {
          int fd = l.accept_one();
          if (fd < 0) return;
          handle(fd);
          ::close(fd);
        }) {}
  ~one_shot_server() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

/// Reads whatever arrives within the timeout; "" on EOF or timeout.
std::string read_some(int fd, std::chrono::milliseconds timeout = 5s) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "";
  char buf[65536];
  auto n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

struct received_request {
  std::string head;  // request line and headers, as sent
  std::string body;
  /// Value of a header ("" if absent), case-insensitive name.
  std::string header(const std::string& name) const {
    auto lhead = lower(head);
    auto pos = lhead.find("\r\n" + lower(name) + ":");
    if (pos == std::string::npos) return "";
    auto start = pos + 2 + name.size() + 1;
    auto end = head.find("\r\n", start);
    auto value = head.substr(start, end - start);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    return value;
  }
};

/// Reads one request: head up to the blank line, then Content-Length bytes of body.
received_request read_request(int fd) {
  std::string data;
  std::size_t head_end;
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    auto chunk = read_some(fd);
    if (chunk.empty()) return {data, ""};
    data += chunk;
  }
  received_request req{data.substr(0, head_end + 2), data.substr(head_end + 4)};
  auto length_text = req.header("Content-Length");
  std::size_t length = length_text.empty() ? 0 : std::stoul(length_text);
  while (req.body.size() < length) {
    auto chunk = read_some(fd);
    if (chunk.empty()) break;
    req.body += chunk;
  }
  return req;
}

/// Waits until the peer closes (or the timeout passes); true if it closed.
bool wait_for_eof(int fd, std::chrono::milliseconds timeout = 5s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) == 1) {
      char buf[4096];
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
  }
  return false;
}

// --- waiting for callbacks -------------------------------------------------------------------

template <class T>
struct waiter {
  std::shared_ptr<std::promise<result<T>>> promise = std::make_shared<std::promise<result<T>>>();
  std::future<result<T>> future = promise->get_future();

  std::function<void(result<T>)> handler() {
    return [p = promise](result<T> r) { p->set_value(std::move(r)); };
  }
  result<T> get(std::chrono::milliseconds timeout = 10s) {
    if (future.wait_for(timeout) != std::future_status::ready) {
      FAIL_CHECK("callback did not arrive");
      return cssh::fail("TEST_TIMEOUT", "callback did not arrive");
    }
    return future.get();
  }
};

result<http::response> call(http::reactor& r, const http::endpoint& ep, http::request req) {
  waiter<http::response> w;
  http::async_call(r, ep, std::move(req), w.handler());
  return w.get();
}

result<std::shared_ptr<http::upgraded_stream>> upgrade(http::reactor& r, const http::endpoint& ep, http::request req) {
  waiter<std::shared_ptr<http::upgraded_stream>> w;
  http::async_upgrade(r, ep, std::move(req), w.handler());
  return w.get();
}

result<std::string> read(http::upgraded_stream& s, std::size_t max = 65536) {
  waiter<std::string> w;
  s.async_read(max, w.handler());
  return w.get();
}

result<void> write(http::upgraded_stream& s, std::string bytes) {
  auto p = std::make_shared<std::promise<result<void>>>();
  auto f = p->get_future();
  s.async_write(std::move(bytes), [p](result<void> r) { p->set_value(std::move(r)); });
  if (f.wait_for(10s) != std::future_status::ready) return cssh::fail("TEST_TIMEOUT", "write did not complete");
  return f.get();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

const char* upgrade_answer =
    "HTTP/1.1 101 UPGRADED\r\n"
    "Content-Type: application/vnd.docker.raw-stream\r\n"
    "Connection: Upgrade\r\n"
    "Upgrade: tcp\r\n"
    "\r\n";

}  // namespace

// --- plain calls -----------------------------------------------------------------------------

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

TEST_CASE("call_streamed: a chunked 2xx body arrives in pieces; the response has no body") {
  auto l = listener::tcp();
  std::string expected;
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; ++i) {
      std::string line = "{\"status\":\"step " + std::to_string(i) + "\"}\n";
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", line.size());
      write_all(fd, std::string(size) + line + "\r\n");
      std::this_thread::sleep_for(20ms);  // separate pieces on the wire
    }
    write_all(fd, "0\r\n\r\n");
  });
  for (int i = 0; i < 5; ++i) expected += "{\"status\":\"step " + std::to_string(i) + "\"}\n";
  http::reactor reactor(1);
  auto pieces = std::make_shared<std::vector<std::string>>();
  waiter<http::response> w;
  http::async_call_streamed(reactor, l.endpoint(), http::request{}, [pieces](std::string_view p) { pieces->emplace_back(p); },
                            w.handler());
  auto r = w.get();
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  CHECK(r->status == 200);
  CHECK(r->body.empty());
  std::string joined;
  for (const auto& p : *pieces) joined += p;
  CHECK(joined == expected);
  CHECK(pieces->size() >= 2);  // it streamed, it did not collect
}

TEST_CASE("call_streamed: a Content-Length 2xx body and an error status collected whole") {
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world");
  });
  http::reactor reactor(1);
  std::string got;
  waiter<http::response> w;
  http::async_call_streamed(reactor, l.endpoint(), http::request{}, [&got](std::string_view p) { got += p; }, w.handler());
  auto r = w.get();
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  CHECK(got == "hello world");
  server.join();

  auto l2 = listener::tcp();
  one_shot_server refusing(l2, [&](int fd) {
    read_request(fd);
    write_all(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 27\r\n\r\n{\"message\":\"no such image\"}");
  });
  bool streamed = false;
  waiter<http::response> w2;
  http::async_call_streamed(reactor, l2.endpoint(), http::request{}, [&streamed](std::string_view) { streamed = true; },
                            w2.handler());
  auto r2 = w2.get();
  REQUIRE(r2.ok());
  CHECK(r2->status == 404);
  CHECK(r2->body == "{\"message\":\"no such image\"}");
  CHECK_FALSE(streamed);
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

TEST_CASE("async_delay fires after the delay, and reports false when the reactor stops first") {
  auto reactor = std::make_unique<http::reactor>(1);
  auto fired = std::make_shared<std::promise<bool>>();
  auto started = std::chrono::steady_clock::now();
  http::async_delay(*reactor, 150ms, [fired](bool f) { fired->set_value(f); });
  auto f = fired->get_future();
  REQUIRE(f.wait_for(5s) == std::future_status::ready);
  CHECK(f.get());
  CHECK(std::chrono::steady_clock::now() - started >= 140ms);

  auto stopped = std::make_shared<std::promise<bool>>();
  http::async_delay(*reactor, 60s, [stopped](bool f2) { stopped->set_value(f2); });
  std::this_thread::sleep_for(50ms);
  reactor->stop();
  auto s = stopped->get_future();
  REQUIRE(s.wait_for(5s) == std::future_status::ready);
  CHECK_FALSE(s.get());
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

// --- upgrades --------------------------------------------------------------------------------

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

// --- reactor ---------------------------------------------------------------------------------

TEST_CASE("reactor: stop() completes pending calls and streams with an error, then refuses new ones") {
  auto reactor = std::make_unique<http::reactor>(2);
  auto l = listener::tcp();
  std::thread server([&] {
    int a = l.accept_one();  // the call that never gets an answer
    int b = l.accept_one();  // the upgraded stream
    if (b >= 0) {
      read_request(b);
      write_all(b, upgrade_answer);
    }
    if (a >= 0) wait_for_eof(a);
    if (b >= 0) wait_for_eof(b);
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  });
  http::request slow;
  slow.timeout = 0ms;  // no deadline: only stop() can end it
  waiter<http::response> pending_call;
  http::async_call(*reactor, l.endpoint(), slow, pending_call.handler());
  std::this_thread::sleep_for(50ms);  // make sure the first connection is accepted first
  auto s = upgrade(*reactor, l.endpoint(), http::request{});
  REQUIRE(s.ok());
  waiter<std::string> pending_read;
  s.value()->async_read(1024, pending_read.handler());

  reactor->stop();
  auto c = pending_call.get(1s);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == "HTTP_CANCELLED");
  auto rd = pending_read.get(1s);
  REQUIRE_FALSE(rd.ok());
  CHECK(rd.error().code == "HTTP_STREAM_CLOSED");

  // After stop nothing runs any more: calls fail at once instead of hanging.
  waiter<http::response> late;
  http::async_call(*reactor, l.endpoint(), http::request{}, late.handler());
  auto lr = late.get(1s);
  REQUIRE_FALSE(lr.ok());
  CHECK(lr.error().code == "HTTP_CANCELLED");
  waiter<std::string> late_read;
  s.value()->async_read(1024, late_read.handler());
  CHECK_FALSE(late_read.get(1s).ok());

  s.value().reset();
  reactor.reset();  // the destructor after stop() is harmless
  server.join();
}

// --- keep-alive -----------------------------------------------------------------------------------

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
