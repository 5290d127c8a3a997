// One HTTP request/response (async_call), on a pooled keep-alive connection when one is idle.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/write.hpp>
#include <array>
#include <limits>
#include <cctype>

#include "protocol/http/request_setup.hpp"

namespace cssh::http {

using namespace detail;

namespace {

constexpr std::uint64_t response_body_limit = max_response_body_bytes;
constexpr std::uint32_t response_header_limit = max_response_header_bytes;

/// Runs the pool's sweep for `key` after `delay` (plus a little, so the oldest is surely due),
/// again for as long as idle connections remain. Holds the core weakly; a stopping reactor
/// cancels the timer (connection_pool::close_all).
void arm_pool_sweeper(const std::shared_ptr<reactor_core>& core, std::string key,
                      std::shared_ptr<asio::steady_timer> timer, std::chrono::steady_clock::duration delay) {
  timer->expires_after(delay + std::chrono::milliseconds(50));
  timer->async_wait([timer, key = std::move(key), weak = std::weak_ptr<reactor_core>(core)](const error_code& ec) {
    if (ec) return;
    auto live = weak.lock();
    if (!live) return;
    if (auto next = live->pool.sweep(key)) arm_pool_sweeper(live, key, timer, *next);
  });
}

class call_exchange final : public exchange {
 public:
  call_exchange(std::shared_ptr<reactor_core> core, const endpoint& ep, request req, response_handler done)
      : exchange(std::move(core), ep, std::move(req)), done_(std::move(done)) {}
  call_exchange(std::shared_ptr<reactor_core> core, const endpoint& ep, request req, response_handler done,
                std::unique_ptr<connection_pool::idle_connection> reused)
      : exchange(std::move(core), ep, std::move(req), std::move(reused)), done_(std::move(done)) {}

 private:
  void on_connected() override {
    // HTTP/1.1 keeps the connection open by default: after the answer it goes back to the
    // reactor's pool for the next call to this endpoint. Built once: a retry resends it.
    if (!built_) msg_ = build_message();
    built_ = true;
    auto self = std::static_pointer_cast<call_exchange>(shared_from_this());
    beast_http::async_write(stream_, msg_, [self](const error_code& ec, std::size_t) {
      if (ec) {
        if (self->peer_closed_idle(ec)) return self->reconnect();
        return self->finish(self->io_failure(phase::exchange, ec, "sending the request"));
      }
      self->read_response();
    });
  }

  /// A pooled connection that fails before any byte of the answer was closed by the peer
  /// while idle (a race the pool's check cannot rule out): worth one fresh attempt.
  bool peer_closed_idle(const error_code& ec) const {
    if (!reused() || aborted() || buf_.size() > 0) return false;
    return ec == boost::beast::http::error::end_of_stream || ec == boost::asio::error::eof ||
           ec == boost::asio::error::connection_reset || ec == boost::asio::error::broken_pipe ||
           ec == boost::asio::error::connection_aborted;
  }

  void read_response() {
    parser_.emplace();
    parser_->body_limit(response_body_limit);
    parser_->header_limit(response_header_limit);
    // A HEAD answer announces a length it does not send.
    if (req_.method == "HEAD") parser_->skip(true);
    auto self = std::static_pointer_cast<call_exchange>(shared_from_this());
    // Header first, then body: Beast 1.74 loses a Content-Length body_limit error when the
    // (eager) full-message read sees header and body bytes in one buffer, and then fails only
    // at EOF with "partial message". A header-only read reports it reliably.
    beast_http::async_read_header(stream_, buf_, *parser_, [self](const error_code& ec, std::size_t) {
      if (ec && self->peer_closed_idle(ec) && !self->parser_->got_some()) return self->reconnect();
      if (ec) return self->finish(self->read_failure(ec));
      if (self->parser_->is_done()) return self->finish(self->to_response());
      beast_http::async_read(self->stream_, self->buf_, *self->parser_, [self](const error_code& ec2, std::size_t) {
        if (ec2) return self->finish(self->read_failure(ec2));
        self->finish(self->to_response());
      });
    });
  }

  failure read_failure(const error_code& ec) const {
    if (ec == beast_http::error::body_limit) {
      return fail("HTTP_BODY_TOO_LARGE",
                  request_line() + ": response body exceeds " + std::to_string(response_body_limit) + " bytes");
    }
    return io_failure(phase::exchange, ec, "reading the response");
  }

  response to_response() {
    keep_alive_ = parser_->keep_alive();
    auto msg = parser_->release();
    response out;
    out.status = msg.result_int();
    for (const auto& field : msg) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = std::move(msg.body());
    return out;
  }

  void on_failed(failure f) override { finish(std::move(f)); }

  void finish(result<response> outcome) {
    bool aborted_before = aborted();
    if (!finish_io()) return;
    if (outcome.ok() && keep_alive_ && !aborted_before && buf_.size() == 0) {
      std::string key = pool_key(ep_);
      auto outcome = core_->pool.put(
          key, std::unique_ptr<connection_pool::idle_connection>(
                   new connection_pool::idle_connection{strand_, std::move(stream_), {}}),
          [this] { return std::make_shared<asio::steady_timer>(strand_); });
      if (outcome.arm) arm_pool_sweeper(core_, key, outcome.arm, connection_pool::keep_time());
    } else {
      stream_.close();
    }
    auto done = std::move(done_);
    done(std::move(outcome));
  }

  response_handler done_;
  bool built_ = false;
  bool keep_alive_ = false;  // the answer allows another request on this connection
  beast_http::request<beast_http::string_body> msg_;
  boost::beast::flat_buffer buf_;
  std::optional<beast_http::response_parser<beast_http::string_body>> parser_;
};

/// A call whose 2xx body is handed on piece by piece instead of collected (async_call_streamed).
class streamed_exchange final : public exchange {
 public:
  streamed_exchange(std::shared_ptr<reactor_core> core, const endpoint& ep, request req, body_handler on_body,
                    response_handler done)
      : exchange(std::move(core), ep, std::move(req)), on_body_(std::move(on_body)), done_(std::move(done)) {}

 private:
  static constexpr std::size_t piece_size = 64u * 1024u;

  void on_connected() override {
    msg_ = build_message();
    msg_.set(beast_http::field::connection, "close");
    auto self = std::static_pointer_cast<streamed_exchange>(shared_from_this());
    beast_http::async_write(stream_, msg_, [self](const error_code& ec, std::size_t) {
      if (ec) return self->finish(self->io_failure(phase::exchange, ec, "sending the request"));
      self->parser_.emplace();
      // Bounded by the deadline, not by size. (Beast 1.74 treats boost::none, "no limit", as a
      // limit below every Content-Length, so give the largest number instead.)
      self->parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
      self->parser_->header_limit(response_header_limit);
      beast_http::async_read_header(self->stream_, self->buf_, *self->parser_, [self](const error_code& ec2, std::size_t) {
        if (ec2) return self->finish(self->io_failure(phase::exchange, ec2, "reading the response header"));
        const auto& head = self->parser_->get();
        self->out_.status = head.result_int();
        for (const auto& field : head) {
          self->out_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        }
        self->streaming_ = self->out_.status / 100 == 2;
        self->read_piece();
      });
    });
  }

  void read_piece() {
    if (parser_->is_done()) return finish(std::move(out_));
    auto& body = parser_->get().body();
    body.data = piece_.data();
    body.size = piece_.size();
    auto self = std::static_pointer_cast<streamed_exchange>(shared_from_this());
    beast_http::async_read_some(stream_, buf_, *parser_, [self](error_code ec, std::size_t) {
      // need_buffer only says our piece is full: hand it on and continue.
      if (ec == beast_http::error::need_buffer) ec = {};
      if (ec) return self->finish(self->io_failure(phase::exchange, ec, "reading the response body"));
      std::size_t got = self->piece_.size() - self->parser_->get().body().size;
      std::string_view piece(self->piece_.data(), got);
      if (self->streaming_) {
        if (got > 0) self->on_body_(piece);
      } else if (self->out_.body.size() < error_body_limit) {
        self->out_.body.append(piece.substr(0, error_body_limit - self->out_.body.size()));
      }
      self->read_piece();
    });
  }

  void on_failed(failure f) override { finish(std::move(f)); }

  void finish(result<response> outcome) {
    if (!finish_io()) return;
    stream_.close();
    auto done = std::move(done_);
    on_body_ = nullptr;
    done(std::move(outcome));
  }

  static constexpr std::size_t error_body_limit = 1024u * 1024u;
  body_handler on_body_;
  response_handler done_;
  beast_http::request<beast_http::string_body> msg_;
  boost::beast::flat_buffer buf_;
  std::optional<beast_http::response_parser<beast_http::buffer_body>> parser_;
  std::array<char, piece_size> piece_{};
  response out_;
  bool streaming_ = false;
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

std::string response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return "";
}

void async_call(reactor& r, const endpoint& ep, request req, response_handler done) {
  auto core = r.internals().core;
  auto prepared = prepare_endpoint(*core, ep, req, done);
  if (!prepared) return;
  std::shared_ptr<call_exchange> op;
  if (auto idle = core->pool.take(pool_key(*prepared))) {
    op = std::make_shared<call_exchange>(core, *prepared, std::move(req), std::move(done), std::move(idle));
  } else {
    op = std::make_shared<call_exchange>(core, *prepared, std::move(req), std::move(done));
  }
  launch(*core, op);
}

void async_call_streamed(reactor& r, const endpoint& ep, request req, body_handler on_body, response_handler done) {
  auto core = r.internals().core;
  auto prepared = prepare_endpoint(*core, ep, req, done);
  if (!prepared) return;
  launch(*core, std::make_shared<streamed_exchange>(core, *prepared, std::move(req), std::move(on_body), std::move(done)));
}

}  // namespace cssh::http
