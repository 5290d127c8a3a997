// One HTTP request/response on a fresh connection (async_call).

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>

#include "protocol/http_transport.hpp"

namespace cssh::http {

using namespace detail;

namespace {

// Engine answers (container lists, inspect output) are small; anything this big is a
// misbehaving peer, and we would rather fail than buffer without bound.
constexpr std::uint64_t response_body_limit = 16u * 1024u * 1024u;
constexpr std::uint32_t response_header_limit = 64u * 1024u;

class call_exchange final : public exchange {
 public:
  call_exchange(std::shared_ptr<reactor_core> core, const endpoint& ep, request req, response_handler done)
      : exchange(std::move(core), ep, std::move(req)), done_(std::move(done)) {}

  /// The reactor refused to queue us: report without ever having touched the network.
  void refuse() { finish(reactor_stopped(request_line())); }

 private:
  void on_connected() override {
    msg_ = build_message();
    // Every call uses its own connection; say so, so the peer closes instead of lingering.
    msg_.set(beast_http::field::connection, "close");
    auto self = std::static_pointer_cast<call_exchange>(shared_from_this());
    beast_http::async_write(stream_, msg_, [self](const error_code& ec, std::size_t) {
      if (ec) return self->finish(self->io_failure(phase::exchange, ec, "sending the request"));
      self->read_response();
    });
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
    auto msg = parser_->release();
    response out;
    out.status = msg.result_int();
    for (const auto& field : msg) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = std::move(msg.body());
    return out;
  }

  void on_failed(failure f) override { finish(std::move(f)); }

  void finish(result<response> outcome) {
    if (!finish_io()) return;
    stream_.close();
    auto done = std::move(done_);
    done(std::move(outcome));
  }

  response_handler done_;
  beast_http::request<beast_http::string_body> msg_;
  boost::beast::flat_buffer buf_;
  std::optional<beast_http::response_parser<beast_http::string_body>> parser_;
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
  if (ep.tls) {
    auto report = [done = std::move(done), what = ep.describe() + ": " + req.method + " " + req.target] {
      done(fail("HTTP_TLS_UNSUPPORTED", what + ": TLS (https) endpoints are not supported yet"));
    };
    // Callbacks belong on a reactor thread; only a stopped reactor forces us to answer inline.
    if (!core->post(core->ioc.get_executor(), report)) report();
    return;
  }
  auto op = std::make_shared<call_exchange>(core, ep, std::move(req), std::move(done));
  if (!core->post(op->strand(), [op] { op->start(); })) op->refuse();
}

}  // namespace cssh::http
