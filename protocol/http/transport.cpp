// The reactor (I/O threads) and what every HTTP exchange shares: connect, deadline, cancellation.

#include "protocol/http/transport.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/error.hpp>
#include <sys/socket.h>
#include <algorithm>
#include <cerrno>
#include <type_traits>

#include "common/log.hpp"
#include "common/thread_name.hpp"

namespace cssh::http {

using namespace detail;

namespace {

// stop() waits this long for cancelled operations to deliver their callbacks before it gives up
// on them (a callback that blocks must not hang shutdown forever).
constexpr std::chrono::seconds drain_timeout{10};

// Keep-alive: how long an idle connection is kept, and how many per endpoint. Servers close
// idle connections on their own schedule (Go's net/http after its IdleTimeout, nginx after
// 75 s); a short keep keeps the odds of taking a connection the peer is closing small, and a
// call that loses that race anyway retries once on a fresh connection.
constexpr std::chrono::seconds idle_keep{10};
constexpr std::size_t idle_per_endpoint = 8;

/// True while the peer has neither closed nor sent anything on an idle connection.
bool still_idle(int fd) {
  if (fd < 0) return false;
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void run_loop(reactor_core& core) {
  // A throwing callback must not take the whole reactor down with std::terminate.
  for (;;) {
    try {
      core.ioc.run();
      return;
    } catch (const std::exception& e) {
      log::error("HTTP_REACTOR_HANDLER_FAILED", std::string("an I/O callback threw: ") + e.what());
    } catch (...) {
      log::error("HTTP_REACTOR_HANDLER_FAILED", "an I/O callback threw a non-standard exception");
    }
  }
}

any_stream make_stream(strand_type& strand, const endpoint& ep) {
  if (ep.kind == endpoint::transport::unix_socket) return any_stream(any_stream::unix_socket(strand));
  if (ep.tls) return any_stream(tls_stream(any_stream::tcp_socket(strand), ep.tls_ctx, ep.host));
  return any_stream(any_stream::tcp_socket(strand));
}

}  // namespace

// --- reactor ----------------------------------------------------------------------------------

reactor::reactor(unsigned threads) : impl_(std::make_unique<impl>()) {
  impl_->guard.emplace(asio::make_work_guard(impl_->core->ioc));
  if (threads == 0) threads = 1;
  for (unsigned i = 0; i < threads; ++i) {
    // Threads hold the core themselves so a thread detached by stop() never outlives its context.
    impl_->threads.emplace_back([core = impl_->core] {
      name_this_thread("cssh-reactor");
      run_loop(*core);
    });
  }
}

reactor::~reactor() { stop(); }

reactor::impl& reactor::internals() { return *impl_; }

void reactor::stop() {
  std::lock_guard<std::mutex> lock(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  auto& core = *impl_->core;

  bool on_own_thread = false;
  for (auto& t : impl_->threads) on_own_thread = on_own_thread || t.get_id() == std::this_thread::get_id();

  {
    auto live = core.begin_stop();
    for (auto& op : live) op->cancel();
  }
  // From one of our own threads the callbacks we would wait for may need this very thread.
  if (!on_own_thread) core.wait_drained(drain_timeout);
  core.mark_stopped();
  core.pool.close_all();
  impl_->guard.reset();
  if (on_own_thread) {
    core.ioc.stop();
  }
  for (auto& t : impl_->threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else if (t.joinable()) {
      t.join();
    }
  }
  impl_->threads.clear();
}

namespace detail {

// --- any_stream -------------------------------------------------------------------------------

void any_stream::async_shutdown_send(std::function<void(error_code)> done) {
  if (auto* tls = as_tls()) return tls->async_shutdown_send(std::move(done));
  error_code ec;
  std::visit(
      [&](auto& s) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(s)>, tls_stream>) s.shutdown(asio::socket_base::shutdown_send, ec);
      },
      sock_);
  done(ec);
}

void any_stream::close() {
  std::visit(
      [](auto& s) {
        if constexpr (std::is_same_v<std::decay_t<decltype(s)>, tls_stream>) {
          s.close();
        } else {
          error_code ignored;
          s.close(ignored);
        }
      },
      sock_);
}

void any_stream::replace_with(any_stream&& other) {
  std::visit(
      [this](auto& s) {
        using socket_type = std::decay_t<decltype(s)>;
        sock_.template emplace<socket_type>(std::move(s));
      },
      other.sock_);
}

any_stream::tcp_socket* any_stream::as_tcp() {
  if (auto* tls = as_tls()) return &tls->socket();
  return std::get_if<tcp_socket>(&sock_);
}

bool any_stream::tls_refusal(const error_code& ec) const {
  const auto* tls = std::get_if<tls_stream>(&sock_);
  return tls && tls->refused_after_handshake(ec);
}

std::string any_stream::describe(const error_code& ec) const {
  if (const auto* tls = std::get_if<tls_stream>(&sock_)) return tls->describe(ec);
  return ec.message();
}

result<endpoint> with_tls_context(const endpoint& ep) {
  if (!ep.tls || ep.tls_ctx) return ep;
  auto ctx = default_tls_context();
  if (!ctx) return fail("HTTP_TLS_CONFIG_INVALID", ep.describe() + ": " + ctx.error().message);
  endpoint out = ep;
  out.tls_ctx = std::move(ctx).value();
  return out;
}

// --- reactor_core -----------------------------------------------------------------------------

std::uint64_t reactor_core::track(std::weak_ptr<cancellable> op) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || stopped_) return 0;
  auto id = next_id_++;
  ops_.emplace(id, std::move(op));
  return id;
}

void reactor_core::untrack(std::uint64_t id) {
  if (id == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  ops_.erase(id);
  if (ops_.empty()) drained_.notify_all();
}

std::vector<std::shared_ptr<cancellable>> reactor_core::begin_stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  std::vector<std::shared_ptr<cancellable>> live;
  for (auto& [id, weak] : ops_) {
    if (auto op = weak.lock()) live.push_back(std::move(op));
  }
  return live;
}

void reactor_core::wait_drained(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!drained_.wait_for(lock, timeout, [&] { return ops_.empty(); })) {
    log::warning("HTTP_REACTOR_STOP_SLOW",
                 std::to_string(ops_.size()) + " HTTP operation(s) did not finish after cancellation; stopping anyway");
    ioc.stop();
  }
}

void reactor_core::mark_stopped() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
}

failure reactor_stopped(const std::string& what) {
  return fail("HTTP_CANCELLED", what + ": cancelled because the HTTP reactor is stopping");
}

// --- connection_pool --------------------------------------------------------------------------

connection_pool::connection_pool() = default;
connection_pool::~connection_pool() = default;

std::unique_ptr<connection_pool::idle_connection> connection_pool::take(const std::string& key) {
  std::vector<std::unique_ptr<idle_connection>> stale;
  std::unique_ptr<idle_connection> found;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& list = it->second;
    const auto now = std::chrono::steady_clock::now();
    while (!list.empty() && !found) {
      auto conn = std::move(list.back());  // the most recently used is the likeliest alive
      list.pop_back();
      auto* sock = conn->stream.as_unix();
      int fd = sock ? sock->native_handle() : (conn->stream.as_tcp() ? conn->stream.as_tcp()->native_handle() : -1);
      if (now - conn->since < idle_keep && still_idle(fd)) {
        found = std::move(conn);
      } else {
        stale.push_back(std::move(conn));
      }
    }
    if (list.empty()) idle_.erase(it);
  }
  for (auto& conn : stale) conn->stream.close();
  return found;
}

connection_pool::put_outcome connection_pool::put(const std::string& key, std::unique_ptr<idle_connection> conn,
                                                  const std::function<std::shared_ptr<asio::steady_timer>()>& make_timer) {
  conn->since = std::chrono::steady_clock::now();
  std::unique_ptr<idle_connection> evicted;
  put_outcome outcome;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) {
      outcome.kept = true;
      auto& list = idle_[key];
      if (list.size() >= idle_per_endpoint) {
        evicted = std::move(list.front());
        list.erase(list.begin());
      }
      list.push_back(std::move(conn));
      auto& sweeper = sweepers_[key];
      if (sweeper.expired()) {
        outcome.arm = make_timer();
        sweeper = outcome.arm;
      }
    } else {
      evicted = std::move(conn);
    }
  }
  if (evicted) evicted->stream.close();
  return outcome;
}

std::optional<std::chrono::steady_clock::duration> connection_pool::sweep(const std::string& key) {
  std::vector<std::unique_ptr<idle_connection>> expired;
  std::optional<std::chrono::steady_clock::duration> next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(key);
    const auto now = std::chrono::steady_clock::now();
    if (it != idle_.end()) {
      auto& list = it->second;
      for (auto conn = list.begin(); conn != list.end();) {
        if (now - (*conn)->since >= idle_keep) {
          expired.push_back(std::move(*conn));
          conn = list.erase(conn);
        } else {
          ++conn;
        }
      }
      // The list is oldest first: its front is the next one due.
      if (list.empty()) {
        idle_.erase(it);
      } else {
        next = list.front()->since + idle_keep - now;
      }
    }
    if (!next) sweepers_.erase(key);  // the next put() arms a new one
  }
  for (auto& conn : expired) conn->stream.close();
  return next;
}

std::chrono::milliseconds connection_pool::keep_time() { return idle_keep; }

void connection_pool::close_all() {
  std::unordered_map<std::string, std::vector<std::unique_ptr<idle_connection>>> all;
  std::unordered_map<std::string, std::weak_ptr<asio::steady_timer>> timers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    all.swap(idle_);
    timers.swap(sweepers_);
  }
  // On the timer's own strand: its async_wait was issued there, so the cancel comes after it.
  for (auto& [key, weak] : timers) {
    if (auto timer = weak.lock()) asio::post(timer->get_executor(), [timer] { timer->cancel(); });
  }
  for (auto& [key, list] : all) {
    for (auto& conn : list) conn->stream.close();
  }
}

std::string pool_key(const endpoint& ep) {
  std::string key = ep.describe();
  if (ep.tls) key += "|tls@" + std::to_string(reinterpret_cast<std::uintptr_t>(ep.tls_ctx.get()));
  return key;
}

// --- exchange ---------------------------------------------------------------------------------

exchange::exchange(std::shared_ptr<reactor_core> core, const endpoint& ep, request req)
    : core_(std::move(core)),
      strand_(asio::make_strand(core_->ioc)),
      stream_(make_stream(strand_, ep)),
      ep_(ep),
      req_(std::move(req)),
      resolver_(strand_),
      deadline_(strand_) {}

exchange::exchange(std::shared_ptr<reactor_core> core, const endpoint& ep, request req,
                   std::unique_ptr<connection_pool::idle_connection> reused)
    : core_(std::move(core)),
      strand_(reused->strand),
      stream_(std::move(reused->stream)),
      ep_(ep),
      req_(std::move(req)),
      resolver_(strand_),
      deadline_(strand_) {
  reused_ = true;
}

exchange::~exchange() { core_->untrack(track_id_); }

void exchange::cancel() {
  asio::post(strand_, [self = shared_from_this()] { self->abort(abort_reason::cancelled); });
}

void exchange::abandon() {
  asio::post(strand_, [self = shared_from_this()] { self->abort(abort_reason::abandoned); });
}

std::string exchange::request_line() const { return ep_.describe() + ": " + req_.method + " " + req_.target; }

void exchange::abort(abort_reason why) {
  if (finished_ || aborted_ != abort_reason::none) return;
  aborted_ = why;
  // Closing makes whatever is pending (resolve, connect, read, write) complete with an error;
  // the pending handler then reports, with the reason recorded here.
  resolver_.cancel();
  stream_.close();
  deadline_.cancel();
}

void exchange::arm_deadline() {
  if (req_.timeout.count() <= 0) return;
  deadline_.expires_after(req_.timeout);
  deadline_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->finished_) return;
    self->abort(abort_reason::timeout);
  });
}

void exchange::start() {
  track_id_ = core_->track(weak_from_this());
  if (track_id_ == 0) {
    aborted_ = abort_reason::cancelled;
    on_failed(reactor_stopped(request_line()));
    return;
  }
  arm_deadline();
  if (req_.cancel) req_.cancel->attach(weak_from_this());
  if (reused_) return on_connected();
  connect();
}

void exchange::reconnect() {
  reused_ = false;
  stream_.close();
  stream_.replace_with(make_stream(strand_, ep_));
  if (aborted()) return on_failed(io_failure(phase::connect, asio::error::operation_aborted, "connect"));
  connect();
}

void exchange::connect() {
  auto self = shared_from_this();
  if (auto* sock = stream_.as_unix()) {
    sock->async_connect(asio::local::stream_protocol::endpoint(ep_.socket_path), [self](const error_code& ec) {
      if (ec) return self->on_failed(self->io_failure(phase::connect, ec, "connect"));
      self->on_connected();
    });
    return;
  }
  resolver_.async_resolve(
      ep_.host, std::to_string(ep_.port),
      [self](const error_code& ec, const asio::ip::tcp::resolver::results_type& results) {
        if (ec) return self->on_failed(self->io_failure(phase::connect, ec, "resolve " + self->ep_.host));
        // The deadline may have fired after the resolve finished: connecting now would open a
        // fresh socket that nothing times out any more.
        if (self->aborted()) {
          return self->on_failed(self->io_failure(phase::connect, asio::error::operation_aborted, "connect"));
        }
        asio::async_connect(*self->stream_.as_tcp(), results,
                            [self](const error_code& ec2, const asio::ip::tcp::endpoint&) {
                              if (ec2) return self->on_failed(self->io_failure(phase::connect, ec2, "connect"));
                              self->after_connect();
                            });
      });
}

void exchange::after_connect() {
  auto* tls = stream_.as_tls();
  if (!tls) return on_connected();
  tls->async_handshake([self = shared_from_this()](const error_code& ec) {
    if (ec) return self->on_failed(self->io_failure(phase::tls_handshake, ec, "TLS handshake"));
    // The deadline may have closed the socket just as the handshake finished.
    if (self->aborted()) {
      return self->on_failed(self->io_failure(phase::tls_handshake, asio::error::operation_aborted, "TLS handshake"));
    }
    self->on_connected();
  });
}

bool exchange::finish_io() {
  if (finished_) return false;
  finished_ = true;
  deadline_.cancel();
  core_->untrack(track_id_);
  track_id_ = 0;
  return true;
}

failure exchange::io_failure(phase ph, const error_code& ec, std::string_view doing) const {
  if (aborted_ == abort_reason::timeout) {
    return fail("HTTP_TIMEOUT", request_line() + ": no complete answer within " + std::to_string(req_.timeout.count()) +
                                    " ms (timed out during " + std::string(doing) + ")");
  }
  if (aborted_ == abort_reason::cancelled) return reactor_stopped(request_line());
  if (aborted_ == abort_reason::abandoned) return fail("HTTP_CANCELLED", request_line() + ": cancelled by its caller");
  // TLS trouble gets its own code wherever it struck: a server refusing our client
  // certificate under TLS 1.3 only shows on the first read after the handshake.
  bool tls_trouble = ph == phase::tls_handshake || ec.category() == asio::error::get_ssl_category() ||
                     stream_.tls_refusal(ec);
  const char* code = tls_trouble ? "HTTP_TLS_FAILED" : ph == phase::connect ? "HTTP_CONNECT_FAILED" : "HTTP_PROTOCOL_ERROR";
  return fail(code, request_line() + ": " + std::string(doing) + " failed: " + stream_.describe(ec));
}

beast_http::request<beast_http::string_body> exchange::build_message() {
  beast_http::request<beast_http::string_body> msg;
  auto verb = beast_http::string_to_verb(req_.method);
  if (verb == beast_http::verb::unknown) {
    msg.method_string(req_.method);
  } else {
    msg.method(verb);
  }
  msg.target(req_.target);
  msg.version(11);
  msg.set(beast_http::field::host, ep_.host_header());
  msg.set(beast_http::field::user_agent, "containerssh-cpp");
  if (!req_.body.empty()) msg.set(beast_http::field::content_type, "application/json");
  // Caller's headers last so they may override the defaults above.
  for (const auto& [name, value] : req_.headers) msg.set(name, value);
  msg.body() = std::move(req_.body);
  msg.prepare_payload();
  return msg;
}

}  // namespace detail

// --- cancellation -------------------------------------------------------------------------------

void cancellation::cancel() {
  std::shared_ptr<detail::cancellable> op;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    op = op_.lock();
  }
  if (op) op->abandon();
}

void cancellation::attach(std::weak_ptr<detail::cancellable> op) {
  bool already = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    op_ = op;
    already = cancelled_;
  }
  if (!already) return;
  if (auto live = op.lock()) live->abandon();
}

// --- async_delay --------------------------------------------------------------------------------

namespace {

class delay_op final : public cancellable, public std::enable_shared_from_this<delay_op> {
 public:
  delay_op(std::shared_ptr<reactor_core> core, std::function<void(bool)> done)
      : core_(std::move(core)), strand_(asio::make_strand(core_->ioc)), timer_(strand_), done_(std::move(done)) {}
  ~delay_op() override { core_->untrack(track_id_); }

  void start(std::chrono::milliseconds delay) {
    track_id_ = core_->track(weak_from_this());
    if (track_id_ == 0) return finish(false);
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->finish(!ec && !self->cancelled_); });
  }
  void cancel() override {
    asio::post(strand_, [self = shared_from_this()] {
      self->cancelled_ = true;
      self->timer_.cancel();
    });
  }
  void finish(bool fired) {
    if (!done_) return;
    core_->untrack(track_id_);
    track_id_ = 0;
    auto done = std::move(done_);
    done_ = nullptr;
    done(fired);
  }
  strand_type& strand() { return strand_; }

 private:
  std::shared_ptr<reactor_core> core_;
  strand_type strand_;
  asio::steady_timer timer_;
  std::function<void(bool)> done_;
  std::uint64_t track_id_ = 0;
  bool cancelled_ = false;
};

}  // namespace

void async_delay(reactor& r, std::chrono::milliseconds delay, std::function<void(bool fired)> done) {
  auto core = r.internals().core;
  auto op = std::make_shared<delay_op>(core, std::move(done));
  if (!core->post(op->strand(), [op, delay] { op->start(delay); })) op->finish(false);
}

}  // namespace cssh::http
