#pragma once
// Asynchronous HTTP/1.1 client over Unix sockets and TCP, with hijacked (upgraded) streams
// for Docker's attach/exec. Boost.Beast lives only in http_client.cpp; callers see plain
// types and callbacks. Callbacks run on a reactor thread: they must not block and should
// only hand results over (e.g. send a CAF message).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "protocol/http_endpoint.hpp"

namespace cssh::http {

/// Owns the I/O threads (an asio io_context run by N threads).
class reactor {
 public:
  explicit reactor(unsigned threads);
  ~reactor();
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;
  /// Stops the threads; pending operations complete with an error first where possible.
  void stop();
  struct impl;
  impl& internals();

 private:
  std::unique_ptr<impl> impl_;
};

struct request {
  std::string method = "GET";
  std::string target = "/";  // path and query, already encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;           // sent with Content-Type: application/json when non-empty
  /// Deadline for the whole exchange (connect, write, read). Zero means none.
  std::chrono::milliseconds timeout{15000};
};

struct response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Case-insensitive header lookup; "" when absent.
  std::string header(std::string_view name) const;
};

using response_handler = std::function<void(result<response>)>;

/// Performs one request on a fresh connection. Errors (connect refused, timeout, malformed
/// response) arrive as failures naming the endpoint and the request line.
void async_call(reactor& r, const endpoint& ep, request req, response_handler done);

/// A raw bidirectional byte stream left after an HTTP upgrade (Docker's hijack).
class upgraded_stream {
 public:
  virtual ~upgraded_stream() = default;
  /// Reads up to max_bytes. An empty string means EOF. One read outstanding at a time.
  virtual void async_read(std::size_t max_bytes, std::function<void(result<std::string>)> done) = 0;
  /// Writes all bytes. One write outstanding at a time.
  virtual void async_write(std::string bytes, std::function<void(result<void>)> done) = 0;
  /// Half-close: the peer sees EOF on its read side; reading continues.
  virtual void shutdown_send() = 0;
  /// Closes both directions; outstanding operations complete with an error.
  virtual void close() = 0;
};

using upgrade_handler = std::function<void(result<std::shared_ptr<upgraded_stream>>)>;

/// Sends `req` with "Connection: Upgrade" / "Upgrade: tcp" and hands over the raw stream
/// on 101 (or on 200, which older engines answer for attach). Bytes that arrived with the
/// response header are delivered by the first reads. Any other status is a failure that
/// carries the response body (the Engine's error message).
void async_upgrade(reactor& r, const endpoint& ep, request req, upgrade_handler done);

}  // namespace cssh::http
