// The HTTP client tests' side of the wire: a tiny blocking server written with plain POSIX
// sockets (so it shares no code with the client under test), and helpers that wait for the
// client's callbacks.
#pragma once

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
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "../test_text.hpp"
#include "protocol/http/client.hpp"

namespace http_test {

using namespace std::chrono_literals;
using cssh::result;
namespace http = cssh::http;

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

inline void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

/// Reads whatever arrives within the timeout; "" on EOF or timeout.
inline std::string read_some(int fd, std::chrono::milliseconds timeout = 5s) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "";
  char buf[65536];
  auto n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

inline std::string lower(std::string s) {
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
inline received_request read_request(int fd) {
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
inline bool wait_for_eof(int fd, std::chrono::milliseconds timeout = 5s) {
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

inline result<http::response> call(http::reactor& r, const http::endpoint& ep, http::request req) {
  waiter<http::response> w;
  http::async_call(r, ep, std::move(req), w.handler());
  return w.get();
}

inline result<std::shared_ptr<http::upgraded_stream>> upgrade(http::reactor& r, const http::endpoint& ep, http::request req) {
  waiter<std::shared_ptr<http::upgraded_stream>> w;
  http::async_upgrade(r, ep, std::move(req), w.handler());
  return w.get();
}

inline result<std::string> read(http::upgraded_stream& s, std::size_t max = 65536) {
  waiter<std::string> w;
  s.async_read(max, w.handler());
  return w.get();
}

inline result<void> write(http::upgraded_stream& s, std::string bytes) {
  auto p = std::make_shared<std::promise<result<void>>>();
  auto f = p->get_future();
  s.async_write(std::move(bytes), [p](result<void> r) { p->set_value(std::move(r)); });
  if (f.wait_for(10s) != std::future_status::ready) return cssh::fail("TEST_TIMEOUT", "write did not complete");
  return f.get();
}

using test_text::contains;

inline const char* const upgrade_answer =
    "HTTP/1.1 101 UPGRADED\r\n"
    "Content-Type: application/vnd.docker.raw-stream\r\n"
    "Connection: Upgrade\r\n"
    "Upgrade: tcp\r\n"
    "\r\n";

}  // namespace http_test
