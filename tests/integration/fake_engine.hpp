// A fake Engine for what the real daemon here cannot show (old Engines, errors inside a pull, hung
// daemons): canned answers served on a fresh Unix socket, with the request heads recorded.
#pragma once

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "protocol/http/client.hpp"

namespace engine_test {

using namespace std::chrono_literals;
namespace http = cssh::http;

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

inline std::string ok_with_body(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

/// A /version answer of an Engine 17.06 (API 1.30, oldest 1.12).
inline const std::string version_answer =
    ok_with_body(R"({"Version":"17.06.2-ce","ApiVersion":"1.30","MinAPIVersion":"1.12","Os":"linux"})");

/// `text` as one chunk of a chunked body.
inline std::string chunk(const std::string& text) {
  std::ostringstream out;
  out << std::hex << text.size() << "\r\n" << text << "\r\n";
  return out.str();
}

}  // namespace engine_test
