#pragma once
// Asynchronous HTTP/1.1 client over Unix sockets and TCP, with hijacked (upgraded) streams
// for Docker's attach/exec. Boost.Beast lives only in protocol/http/*.cpp (and transport.hpp,
// which only they include); callers see plain types and callbacks. Callbacks run on a reactor
// thread: they must not block and should only hand results over (e.g. send a CAF message).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "protocol/http/endpoint.hpp"

namespace cssh::http {

namespace detail {
struct cancellable;
}

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

/// Lets a caller abort one request it no longer needs (e.g. a wait without deadline whose
/// Engine stopped answering). Thread-safe; cancelling before the request started works too.
class cancellation {
 public:
  /// The request completes with HTTP_CANCELLED ("cancelled by its caller").
  void cancel();
  /// Internal: the transport registers the running request here.
  void attach(std::weak_ptr<detail::cancellable> op);

 private:
  std::mutex mu_;
  bool cancelled_ = false;
  std::weak_ptr<detail::cancellable> op_;
};

struct request {
  std::string method = "GET";
  std::string target = "/";  // path and query, already encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;           // sent with Content-Type: application/json when non-empty
  /// Deadline for the whole exchange (connect, write, read). Zero means none.
  std::chrono::milliseconds timeout{15000};
  /// Optional: lets the caller abort the request.
  std::shared_ptr<cancellation> cancel;
};

/// What a peer may send us at most: a response header of 64 KiB, and (for async_call, whose
/// answers are Engine lists and inspections) a body of 16 MiB; anything bigger is a misbehaving
/// peer, and we would rather fail than buffer without bound. The fuzzers use the same limits.
inline constexpr std::uint32_t max_response_header_bytes = 64u * 1024u;
inline constexpr std::uint64_t max_response_body_bytes = 16u * 1024u * 1024u;

struct response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Case-insensitive header lookup; "" when absent.
  std::string header(std::string_view name) const;
};

using response_handler = std::function<void(result<response>)>;

/// Performs one request, on an idle keep-alive connection to the same endpoint when the
/// reactor has one (HTTP/1.1; the answer decides whether the connection is kept), else on a
/// fresh one. Errors (connect refused, timeout, malformed response) arrive as failures naming the endpoint and the request line.
void async_call(reactor& r, const endpoint& ep, request req, response_handler done);

/// Receives a response body piece by piece as it arrives (on a reactor thread).
using body_handler = std::function<void(std::string_view piece)>;

/// Like async_call, for answers that stream for a long time (Docker's pull progress): a 2xx
/// body goes to `on_body` as it arrives, and the final response carries no body. Any other
/// status is collected whole into the response (the Engine's error message), as async_call does.
void async_call_streamed(reactor& r, const endpoint& ep, request req, body_handler on_body, response_handler done);

/// Calls done(true) after `delay` on a reactor thread, or done(false) if the reactor stops first.
void async_delay(reactor& r, std::chrono::milliseconds delay, std::function<void(bool fired)> done);

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
