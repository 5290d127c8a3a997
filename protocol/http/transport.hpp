#pragma once
// Internal to protocol/http/*.cpp: the Asio/Beast pieces shared by plain calls and upgrades.
// Nothing else includes this header, so Beast's compile cost stays in those files.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "protocol/http/client.hpp"
#include "protocol/http/tls_stream.hpp"

namespace cssh::http::detail {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using error_code = boost::system::error_code;
using strand_type = asio::strand<asio::io_context::executor_type>;

/// Anything the reactor must be able to abort when it stops (calls in flight, attached streams).
struct cancellable {
  virtual ~cancellable() = default;
  /// The reactor is stopping. Thread-safe; the object finishes with an error on its own strand.
  virtual void cancel() = 0;
  /// The caller gave up on it (http::cancellation). Same as cancel() unless told apart.
  virtual void abandon() { cancel(); }
};

class any_stream;

/// Idle keep-alive connections, per endpoint: a call that finished with a reusable connection
/// leaves it here and the next call to the same endpoint takes it instead of connecting (and,
/// for HTTPS, instead of a new TLS handshake). Thread-safe.
class connection_pool {
 public:
  /// A connection and the strand its socket was made on (its handlers must keep running there).
  struct idle_connection;
  connection_pool();
  ~connection_pool();
  /// A live idle connection to `key`, or nothing. Connections idle too long, or that the peer
  /// closed (or sent anything unasked) while idle, are dropped here.
  std::unique_ptr<idle_connection> take(const std::string& key);
  /// What put() did: whether it kept the connection (not when the reactor is stopping: then it
  /// closed it), and the sweep timer the caller must arm for the keep time, or null.
  struct put_outcome {
    bool kept = false;
    std::shared_ptr<asio::steady_timer> arm;
  };
  /// Keeps conn for the next call to `key`. One sweep timer per endpoint at a time: when none is
  /// pending, make_timer() makes one (registered here, so close_all() cancels it: a pending
  /// timer would keep the reactor's threads running). A timer per put meant a reactor wake-up
  /// per Engine call, ten seconds later.
  put_outcome put(const std::string& key, std::unique_ptr<idle_connection> conn,
                  const std::function<std::shared_ptr<asio::steady_timer>()>& make_timer);
  /// Closes the connections to `key` that have been idle for the keep time (the sweep timer
  /// calls this, so an idle daemon holds no connections open for long). When some remain: how
  /// long until the oldest is due, to re-arm the same timer for; else nullopt (it ends).
  std::optional<std::chrono::steady_clock::duration> sweep(const std::string& key);
  /// How long a connection stays in the pool.
  static std::chrono::milliseconds keep_time();
  /// Closes every idle connection; later put()s close theirs at once (the reactor is stopping).
  void close_all();

 private:
  std::mutex mu_;
  bool closed_ = false;
  std::unordered_map<std::string, std::vector<std::unique_ptr<idle_connection>>> idle_;
  /// The pending sweep timer of each endpoint that has one.
  std::unordered_map<std::string, std::weak_ptr<asio::steady_timer>> sweepers_;
};

/// The io_context and the list of live operations. Shared (not owned by `reactor` alone) so that
/// an operation or stream outliving the reactor object never touches a destroyed io_context.
class reactor_core {
 public:
  asio::io_context ioc;
  connection_pool pool;

  /// Queues fn on ex, unless the reactor has stopped (no thread would ever run it): then false.
  template <class Executor, class Fn>
  bool post(const Executor& ex, Fn&& fn) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return false;
    asio::post(ex, std::forward<Fn>(fn));
    return true;
  }
  /// Registers an operation for stop(). Returns 0 when the reactor is stopping: the caller must
  /// then abort at once.
  std::uint64_t track(std::weak_ptr<cancellable> op);
  void untrack(std::uint64_t id);
  /// Refuses new operations and returns the live ones so stop() can cancel them.
  std::vector<std::shared_ptr<cancellable>> begin_stop();
  /// Waits until every tracked operation finished (their callbacks ran) or the timeout passed.
  void wait_drained(std::chrono::milliseconds timeout);
  void mark_stopped();

 private:
  std::mutex mu_;
  std::condition_variable drained_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<cancellable>> ops_;
};

}  // namespace cssh::http::detail

namespace cssh::http {

struct reactor::impl {
  std::shared_ptr<detail::reactor_core> core = std::make_shared<detail::reactor_core>();
  std::optional<detail::asio::executor_work_guard<detail::asio::io_context::executor_type>> guard;
  std::vector<std::thread> threads;
  std::mutex stop_mu;  // stop() may race with the destructor's stop()
  bool stopped = false;
};

}  // namespace cssh::http

namespace cssh::http::detail {

/// One socket of any transport (Unix, TCP, TLS over TCP), shaped as an Asio AsyncStream so
/// Beast and asio::async_write work on it.
class any_stream {
 public:
  using executor_type = asio::any_io_executor;
  using unix_socket = asio::local::stream_protocol::socket;
  using tcp_socket = asio::ip::tcp::socket;

  explicit any_stream(unix_socket s) : sock_(std::move(s)) {}
  explicit any_stream(tcp_socket s) : sock_(std::move(s)) {}
  explicit any_stream(tls_stream s) : sock_(std::move(s)) {}

  executor_type get_executor() {
    return std::visit([](auto& s) -> executor_type { return s.get_executor(); }, sock_);
  }
  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    std::visit([&](auto& s) { s.async_read_some(buffers, std::forward<Handler>(handler)); }, sock_);
  }
  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    std::visit([&](auto& s) { s.async_write_some(buffers, std::forward<Handler>(handler)); }, sock_);
  }
  /// Half-close: a socket shuts down its sending side, TLS sends close_notify. Reading goes on.
  /// `done` may run before this returns (plain sockets) or later on the strand (TLS).
  void async_shutdown_send(std::function<void(error_code)> done);
  void close();
  /// Becomes `other` (a fresh socket for a retry); TLS streams cannot be move-assigned.
  void replace_with(any_stream&& other);
  /// The socket to connect: the TCP socket itself or the one under TLS.
  tcp_socket* as_tcp();
  unix_socket* as_unix() { return std::get_if<unix_socket>(&sock_); }
  tls_stream* as_tls() { return std::get_if<tls_stream>(&sock_); }
  /// An I/O error in words; for TLS with what OpenSSL found (certificate, alert).
  std::string describe(const error_code& ec) const;
  /// True when the error is the TLS peer refusing us (see tls_stream::refused_after_handshake).
  bool tls_refusal(const error_code& ec) const;

 private:
  std::variant<unix_socket, tcp_socket, tls_stream> sock_;
};

struct connection_pool::idle_connection {
  strand_type strand;
  any_stream stream;
  std::chrono::steady_clock::time_point since;
};

/// The pool key of an endpoint: its address and, for TLS, its settings (a connection made with
/// one client certificate must not serve a client configured with another).
std::string pool_key(const endpoint& ep);

/// What an exchange was doing when an I/O error struck; picks the failure code.
enum class phase { connect, tls_handshake, exchange };

/// The endpoint with its TLS context filled in (https:// without settings gets the system
/// CAs). Fails only when that default context cannot be built.
result<endpoint> with_tls_context(const endpoint& ep);

/// The failure every entry point reports once the reactor no longer runs anything.
failure reactor_stopped(const std::string& what);

/// The common half of a call and an upgrade: strand, socket, deadline, connect, and the wording
/// of failures ("<endpoint>: <METHOD target>: <what happened>"). Subclasses continue in
/// on_connected() and must call finish_io() exactly when they deliver their outcome.
class exchange : public cancellable, public std::enable_shared_from_this<exchange> {
 public:
  ~exchange() override;
  void cancel() override;
  void abandon() override;
  /// Runs on the strand: registers with the reactor, arms the deadline, connects (and runs
  /// the TLS handshake for https endpoints).
  void start();
  /// The reactor refused to queue start(): reports HTTP_CANCELLED through on_failed() without
  /// ever having touched the network.
  void refuse() { on_failed(reactor_stopped(request_line())); }
  strand_type& strand() { return strand_; }

 protected:
  exchange(std::shared_ptr<reactor_core> core, const endpoint& ep, request req);
  /// Continues on an idle keep-alive connection instead of connecting (see connection_pool).
  exchange(std::shared_ptr<reactor_core> core, const endpoint& ep, request req,
           std::unique_ptr<connection_pool::idle_connection> reused);
  virtual void on_connected() = 0;
  /// True while the exchange runs on a connection taken from the pool.
  bool reused() const { return reused_; }
  /// The pooled connection failed before any answer (the peer had closed it meanwhile): drop
  /// it and connect afresh, once. The deadline keeps running.
  void reconnect();
  virtual void on_failed(failure f) = 0;

  /// "<endpoint>: <METHOD target>"
  std::string request_line() const;
  failure io_failure(phase ph, const error_code& ec, std::string_view doing) const;
  /// True once the deadline fired or stop() cancelled us (the socket is closed then).
  bool aborted() const { return aborted_ != abort_reason::none; }
  /// Stops the deadline and forgets the registration; returns false if already finished.
  bool finish_io();
  /// The request as Beast sends it (Host, User-Agent, Content-Type, caller's headers).
  /// Moves the body out of req_ (call once).
  beast_http::request<beast_http::string_body> build_message();

  std::shared_ptr<reactor_core> core_;
  strand_type strand_;
  any_stream stream_;
  endpoint ep_;
  request req_;
  bool finished_ = false;

 private:
  enum class abort_reason { none, timeout, cancelled, abandoned };
  void abort(abort_reason why);
  void arm_deadline();
  void connect();
  void after_connect();

  bool reused_ = false;

  asio::ip::tcp::resolver resolver_;
  asio::steady_timer deadline_;
  abort_reason aborted_ = abort_reason::none;
  std::uint64_t track_id_ = 0;
};

}  // namespace cssh::http::detail
