// HTTP upgrade (Docker's hijack): send the request, read only the response header, and hand the
// socket over as a raw byte stream together with whatever bytes already followed the header.

#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <deque>
#include <nlohmann/json.hpp>

#include "protocol/http/request_setup.hpp"

namespace cssh::http {

using namespace detail;

namespace {

constexpr std::uint64_t error_body_limit = 1024u * 1024u;
constexpr std::uint32_t response_header_limit = max_response_header_bytes;
// A read without a size reads this much: large reads keep the Docker stream fast.
constexpr std::size_t default_read_size = 64u * 1024u;
constexpr std::size_t max_error_text = 512;

/// The peer's explanation for refusing: {"message": ...} as Docker sends it, else the raw text.
std::string refusal_text(const std::string& body, const std::string& reason) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
    return parsed["message"].get<std::string>();
  }
  std::string text = body;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.size() > max_error_text) text = text.substr(0, max_error_text) + "...";
  return text.empty() ? reason : text;
}

/// The socket after the upgrade. Every operation hops onto the strand the socket already uses,
/// so a reader thread and a writer thread (the normal case) never touch the socket at once.
class raw_stream final : public cancellable, public std::enable_shared_from_this<raw_stream> {
 public:
  raw_stream(std::shared_ptr<reactor_core> core, strand_type strand, any_stream stream, std::string early,
             std::string what)
      : core_(std::move(core)),
        strand_(std::move(strand)),
        stream_(std::move(stream)),
        early_(std::move(early)),
        what_(std::move(what)) {}

  ~raw_stream() override { core_->untrack(track_id_); }

  /// Makes stop() close us. False when the reactor is already stopping.
  bool register_with_reactor() {
    track_id_ = core_->track(weak_from_this());
    return track_id_ != 0;
  }

  void cancel() override { close(); }

  void read(std::size_t max_bytes, std::function<void(result<std::string>)> done) {
    auto self = shared_from_this();
    if (!core_->post(strand_, [self, max_bytes, done]() mutable { self->do_read(max_bytes, std::move(done)); })) {
      done(reactor_stopped(what_));
    }
  }

  void write(std::string bytes, std::function<void(result<void>)> done) {
    auto self = shared_from_this();
    auto job = [self, bytes = std::move(bytes), done]() mutable { self->do_write(std::move(bytes), std::move(done)); };
    if (!core_->post(strand_, std::move(job))) done(reactor_stopped(what_));
  }

  void shutdown_send() {
    core_->post(strand_, [self = shared_from_this()] {
      self->shutdown_wanted_ = true;
      // Queued writes go first: the peer must see all of stdin before its EOF.
      if (!self->writing_) self->do_shutdown();
    });
  }

  /// If the reactor has stopped, stop() closed us already; nothing is left to do then.
  void close() {
    core_->post(strand_, [self = shared_from_this()] { self->close_now(); });
  }

  /// Only on the strand (or before anyone else can see the stream).
  void close_now() {
    if (closed_) return;
    closed_ = true;
    stream_.close();
    core_->untrack(track_id_);
    track_id_ = 0;
  }

 private:
  struct pending_write {
    std::string bytes;
    std::function<void(result<void>)> done;
  };

  void do_read(std::size_t max_bytes, std::function<void(result<std::string>)> done) {
    if (max_bytes == 0) max_bytes = default_read_size;
    if (reading_) return done(fail("HTTP_STREAM_BUSY", what_ + ": a read is already outstanding"));
    if (early_pos_ < early_.size()) {
      // Bytes that came in with the response header are the stream's first bytes.
      auto n = std::min(max_bytes, early_.size() - early_pos_);
      std::string out = early_.substr(early_pos_, n);
      early_pos_ += n;
      if (early_pos_ == early_.size()) {
        early_.clear();
        early_.shrink_to_fit();
        early_pos_ = 0;
      }
      // Through the queue, as a socket read would complete, so callers never see re-entrancy.
      asio::post(strand_, [done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
      return;
    }
    if (closed_) return done(fail("HTTP_STREAM_CLOSED", what_ + ": stream is closed"));
    reading_ = true;
    // The buffer stays between reads: a fresh one per read was allocated and zero-filled at its
    // full size, while a read usually returns one Engine frame; now only the bytes read are copied.
    if (read_buf_.size() < max_bytes) read_buf_.resize(max_bytes);
    stream_.async_read_some(asio::buffer(read_buf_.data(), max_bytes),
                            [self = shared_from_this(), done = std::move(done)](const error_code& ec, std::size_t n) {
                              self->reading_ = false;
                              if (ec == asio::error::eof) return done(std::string());
                              if (ec) return done(self->stream_failure("read", ec));
                              done(std::string(self->read_buf_.data(), n));
                            });
  }

  void do_write(std::string bytes, std::function<void(result<void>)> done) {
    if (closed_) return done(fail("HTTP_STREAM_CLOSED", what_ + ": stream is closed"));
    if (shutdown_wanted_) return done(fail("HTTP_STREAM_CLOSED", what_ + ": write after shutdown_send"));
    writes_.push_back(pending_write{std::move(bytes), std::move(done)});
    if (!writing_) write_next();
  }

  void write_next() {
    if (writes_.empty()) {
      writing_ = false;
      if (shutdown_wanted_) do_shutdown();
      return;
    }
    writing_ = true;
    // deque::push_back keeps references to existing elements valid, so the buffer stays put.
    asio::async_write(stream_, asio::buffer(writes_.front().bytes),
                      [self = shared_from_this()](const error_code& ec, std::size_t) {
                        auto finished = std::move(self->writes_.front());
                        self->writes_.pop_front();
                        self->write_next();
                        if (ec) {
                          finished.done(self->stream_failure("write", ec));
                        } else {
                          finished.done({});
                        }
                      });
  }

  void do_shutdown() {
    if (shut_ || closed_) return;
    shut_ = true;
    // Over TLS this sends close_notify, possibly after waiting for the socket to take it.
    // Errors are ignored: the peer may already be gone, and reading will tell the caller.
    stream_.async_shutdown_send([self = shared_from_this()](const error_code&) {});
  }

  failure stream_failure(std::string_view doing, const error_code& ec) const {
    if (closed_ || ec == asio::error::operation_aborted) return fail("HTTP_STREAM_CLOSED", what_ + ": stream is closed");
    return fail("HTTP_STREAM_ERROR", what_ + ": " + std::string(doing) + " failed: " + stream_.describe(ec));
  }

  std::shared_ptr<reactor_core> core_;
  strand_type strand_;
  any_stream stream_;
  std::string early_;
  std::size_t early_pos_ = 0;
  std::string what_;
  std::string read_buf_;
  std::deque<pending_write> writes_;
  std::uint64_t track_id_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool shutdown_wanted_ = false;
  bool shut_ = false;
  bool closed_ = false;
};

/// What callers hold. Dropping the last reference closes the socket, so a forgotten stream
/// cannot keep a container's attach (and the reactor) busy forever.
class stream_handle final : public upgraded_stream {
 public:
  explicit stream_handle(std::shared_ptr<raw_stream> s) : s_(std::move(s)) {}
  ~stream_handle() override { s_->close(); }
  void async_read(std::size_t max_bytes, std::function<void(result<std::string>)> done) override {
    s_->read(max_bytes, std::move(done));
  }
  void async_write(std::string bytes, std::function<void(result<void>)> done) override {
    s_->write(std::move(bytes), std::move(done));
  }
  void shutdown_send() override { s_->shutdown_send(); }
  void close() override { s_->close(); }

 private:
  std::shared_ptr<raw_stream> s_;
};

class upgrade_exchange final : public exchange {
 public:
  upgrade_exchange(std::shared_ptr<reactor_core> core, const endpoint& ep, request req, upgrade_handler done)
      : exchange(std::move(core), ep, std::move(req)), done_(std::move(done)) {}

 private:
  void on_connected() override {
    msg_ = build_message();
    msg_.set(beast_http::field::connection, "Upgrade");
    msg_.set(beast_http::field::upgrade, "tcp");
    auto self = std::static_pointer_cast<upgrade_exchange>(shared_from_this());
    beast_http::async_write(stream_, msg_, [self](const error_code& ec, std::size_t) {
      if (ec) return self->finish(self->io_failure(phase::exchange, ec, "sending the request"));
      self->read_header();
    });
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(response_header_limit);
    parser_->body_limit(error_body_limit);
    auto self = std::static_pointer_cast<upgrade_exchange>(shared_from_this());
    beast_http::async_read_header(stream_, buf_, *parser_, [self](const error_code& ec, std::size_t) {
      if (ec) return self->finish(self->io_failure(phase::exchange, ec, "reading the response header"));
      // The header made it just as the deadline closed the socket: too late to hand it over.
      if (self->aborted()) {
        return self->finish(self->io_failure(phase::exchange, asio::error::operation_aborted, "reading the response header"));
      }
      unsigned status = self->parser_->get().result_int();
      // 200 is what engines answer when they hijack without the Upgrade dance.
      if (status == 101 || status == 200) return self->hand_over();
      self->read_refusal(status);
    });
  }

  void read_refusal(unsigned status) {
    auto self = std::static_pointer_cast<upgrade_exchange>(shared_from_this());
    beast_http::async_read(stream_, buf_, *parser_, [self, status](const error_code&, std::size_t) {
      // Even a failed body read leaves the status worth reporting; use what arrived.
      const auto& msg = self->parser_->get();
      self->finish(fail("HTTP_UPGRADE_REFUSED",
                        self->request_line() + ": answered " + std::to_string(status) + " instead of upgrading: " +
                            refusal_text(msg.body(), std::string(msg.reason()))));
    });
  }

  void hand_over() {
    if (!finish_io()) return;  // no deadline from here on: the stream lives as long as its user wants
    std::string early = boost::beast::buffers_to_string(buf_.data());
    buf_.consume(buf_.size());
    auto raw = std::make_shared<raw_stream>(core_, strand_, std::move(stream_), std::move(early), request_line());
    auto done = std::move(done_);
    if (!raw->register_with_reactor()) {
      raw->close_now();
      return done(reactor_stopped(request_line()));
    }
    done(std::shared_ptr<upgraded_stream>(std::make_shared<stream_handle>(std::move(raw))));
  }

  void on_failed(failure f) override { finish(std::move(f)); }

  void finish(failure f) {
    if (!finish_io()) return;
    stream_.close();
    auto done = std::move(done_);
    done(std::move(f));
  }

  upgrade_handler done_;
  beast_http::request<beast_http::string_body> msg_;
  boost::beast::flat_buffer buf_;
  std::optional<beast_http::response_parser<beast_http::string_body>> parser_;
};

}  // namespace

void async_upgrade(reactor& r, const endpoint& ep, request req, upgrade_handler done) {
  auto core = r.internals().core;
  auto prepared = prepare_endpoint(*core, ep, req, done);
  if (!prepared) return;
  launch(*core, std::make_shared<upgrade_exchange>(core, *prepared, std::move(req), std::move(done)));
}

}  // namespace cssh::http
