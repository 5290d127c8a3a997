// The reactor (I/O threads) and what every HTTP exchange shares: connect, deadline, cancellation.

#include "protocol/http_transport.hpp"

#include <boost/asio/connect.hpp>

#include "common/log.hpp"

namespace cssh::http {

using namespace detail;

namespace {

// stop() waits this long for cancelled operations to deliver their callbacks before it gives up
// on them (a callback that blocks must not hang shutdown forever).
constexpr std::chrono::seconds drain_timeout{10};

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
  return any_stream(any_stream::tcp_socket(strand));
}

}  // namespace

// --- reactor ----------------------------------------------------------------------------------

reactor::reactor(unsigned threads) : impl_(std::make_unique<impl>()) {
  impl_->guard.emplace(asio::make_work_guard(impl_->core->ioc));
  if (threads == 0) threads = 1;
  for (unsigned i = 0; i < threads; ++i) {
    // Threads hold the core themselves so a thread detached by stop() never outlives its context.
    impl_->threads.emplace_back([core = impl_->core] { run_loop(*core); });
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

// --- exchange ---------------------------------------------------------------------------------

exchange::exchange(std::shared_ptr<reactor_core> core, const endpoint& ep, request req)
    : core_(std::move(core)),
      strand_(asio::make_strand(core_->ioc)),
      stream_(make_stream(strand_, ep)),
      ep_(ep),
      req_(std::move(req)),
      resolver_(strand_),
      deadline_(strand_) {}

exchange::~exchange() { core_->untrack(track_id_); }

void exchange::cancel() {
  asio::post(strand_, [self = shared_from_this()] { self->abort(abort_reason::cancelled); });
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
                              self->on_connected();
                            });
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
  return fail(ph == phase::connect ? "HTTP_CONNECT_FAILED" : "HTTP_PROTOCOL_ERROR",
              request_line() + ": " + std::string(doing) + " failed: " + ec.message());
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
}  // namespace cssh::http
