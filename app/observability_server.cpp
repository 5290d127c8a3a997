// /metrics and the health endpoint over HTTP/1.1 (Boost.Beast), on one thread of their own.
#include "app/observability_server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "common/log.hpp"
#include "common/prometheus_text.hpp"

namespace cssh::app {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

enum class role { metrics, health };

// Scrapers and probes send tiny requests; anything bigger or slower is not one of them.
constexpr std::uint32_t header_limit = 8 * 1024;
constexpr std::uint64_t body_limit = 4 * 1024;
constexpr std::chrono::seconds request_deadline{10};
constexpr int max_connections = 64;

/// Lets other threads (the HTTP reactor answering a Docker ping) hand work to our thread, and
/// turns that into a no-op once the server stopped.
struct poster {
  std::mutex mutex;
  net::io_context* io = nullptr;
  void post(std::function<void()> work) {
    std::lock_guard<std::mutex> guard(mutex);
    if (io) net::post(*io, std::move(work));
  }
  void close() {
    std::lock_guard<std::mutex> guard(mutex);
    io = nullptr;
  }
};

/// "host:port" or "[v6]:port" resolved to one endpoint to bind.
result<tcp::endpoint> resolve_listen(net::io_context& io, const std::string& listen) {
  std::string host;
  std::string port;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':')
      return fail("HTTP_LISTEN_INVALID", listen + ": expected \"address:port\"");
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) return fail("HTTP_LISTEN_INVALID", listen + ": expected \"address:port\"");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) return fail("HTTP_LISTEN_INVALID", listen + ": cannot resolve: " + ec.message());
  return results.begin()->endpoint();
}

}  // namespace

// Member order matters for destruction: the acceptors go before the io_context, and the
// io_context (whose queued handlers hold sessions) before the connection count they update.
struct observability_server::impl {
  observability_options options;
  std::atomic<int> connections{0};
  net::io_context io{1};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::shared_ptr<poster> to_us = std::make_shared<poster>();
  std::optional<tcp::acceptor> metrics_acceptor;
  std::optional<tcp::acceptor> health_acceptor;
  unsigned metrics_port = 0;
  unsigned health_port = 0;
  std::thread thread;
  bool stopped = false;

  result<void> listen(role r, const std::string& address);
  void accept(role r);
};

namespace {

class session : public std::enable_shared_from_this<session> {
 public:
  session(observability_server::impl& server, role r, tcp::socket socket)
      : server_(server), role_(r), stream_(std::move(socket)) {
    ++server_.connections;
  }
  ~session() { --server_.connections; }

  void read() {
    parser_.emplace();
    parser_->header_limit(header_limit);
    parser_->body_limit(body_limit);
    stream_.expires_after(request_deadline);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](const error_code& ec, std::size_t) { self->on_request(ec); });
  }

 private:
  void on_request(const error_code& ec) {
    if (ec) return close();  // the client left, sent garbage, or took too long
    request_ = parser_->release();
    if (request_.method() != bhttp::verb::get && request_.method() != bhttp::verb::head)
      return respond(bhttp::status::method_not_allowed, "only GET and HEAD are served here\n", "text/plain");
    if (role_ == role::metrics) return serve_metrics();
    serve_health();
  }

  void serve_metrics() {
    auto target = std::string_view(request_.target().data(), request_.target().size());
    auto path = target.substr(0, target.find('?'));
    if (path != server_.options.metrics_path)
      return respond(bhttp::status::not_found, "not found; the metrics are at " + server_.options.metrics_path + "\n",
                     "text/plain");
    respond(bhttp::status::ok, server_.options.render_metrics(), prometheus_text::content_type);
  }

  void serve_health() {
    // The check completes on another thread; its answer comes back to ours through `to_us`.
    auto to_us = server_.to_us;
    auto self = shared_from_this();
    server_.options.check_health([to_us, self](bool healthy, std::string) {
      to_us->post([self, healthy] {
        // The reason goes to the log (by the check), not to whoever can reach this port.
        self->respond(healthy ? bhttp::status::ok : bhttp::status::service_unavailable, healthy ? "ok" : "not ok",
                      "text/plain");
      });
    });
  }

  void respond(bhttp::status status, std::string body, std::string_view content_type) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(status, request_.version());
    res->set(bhttp::field::server, "containerssh");
    res->set(bhttp::field::content_type, beast::string_view(content_type.data(), content_type.size()));
    res->set(bhttp::field::cache_control, "no-store");
    if (status == bhttp::status::method_not_allowed) res->set(bhttp::field::allow, "GET, HEAD");
    res->keep_alive(request_.keep_alive());
    if (request_.method() == bhttp::verb::head) {
      res->content_length(body.size());  // what a GET would carry, without it
    } else {
      res->body() = std::move(body);
      res->prepare_payload();
    }
    stream_.expires_after(request_deadline);
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res](const error_code& ec, std::size_t) {
      if (ec || !res->keep_alive()) return self->close();
      self->read();
    });
  }

  void close() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  observability_server::impl& server_;
  role role_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::request<bhttp::string_body> request_;
};

}  // namespace

result<void> observability_server::impl::listen(role r, const std::string& address) {
  const char* what = r == role::metrics ? "metrics.listen" : "health.listen";
  const char* code = r == role::metrics ? "METRICS_LISTEN_FAILED" : "HEALTH_LISTEN_FAILED";
  auto ep = resolve_listen(io, address);
  if (!ep) return fail(code, std::string(what) + " " + ep.error().message);
  auto& acceptor = (r == role::metrics ? metrics_acceptor : health_acceptor).emplace(io);
  error_code ec;
  acceptor.open(ep->protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*ep, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail(code, std::string(what) + " " + address + ": cannot listen: " + ec.message());
  (r == role::metrics ? metrics_port : health_port) = acceptor.local_endpoint().port();
  return {};
}

void observability_server::impl::accept(role r) {
  auto& acceptor = r == role::metrics ? *metrics_acceptor : *health_acceptor;
  acceptor.async_accept([this, r](const error_code& ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || stopped) return;
    if (!ec) {
      if (connections.load() >= max_connections) {
        error_code ignored;
        socket.close(ignored);  // more than any scraper or probe needs: shed, do not queue
      } else {
        std::make_shared<session>(*this, r, std::move(socket))->read();
      }
    }
    accept(r);
  });
}

result<std::unique_ptr<observability_server>> observability_server::start(observability_options options) {
  auto p = std::make_unique<impl>();
  p->options = std::move(options);
  if (p->options.metrics) {
    if (auto ok = p->listen(role::metrics, p->options.metrics_listen); !ok) return ok.error();
  }
  if (p->options.health) {
    if (auto ok = p->listen(role::health, p->options.health_listen); !ok) return ok.error();
  }
  p->to_us->io = &p->io;
  p->work.emplace(p->io.get_executor());
  if (p->options.metrics) p->accept(role::metrics);
  if (p->options.health) p->accept(role::health);
  auto* raw = p.get();
  p->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<observability_server>(new observability_server(std::move(p)));
}

observability_server::observability_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

observability_server::~observability_server() { stop(); }

unsigned observability_server::metrics_port() const { return impl_->metrics_port; }
unsigned observability_server::health_port() const { return impl_->health_port; }

void observability_server::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->to_us->close();  // late health answers find nobody to post to
  net::post(impl_->io, [p = impl_.get()] {
    p->stopped = true;
    error_code ignored;
    if (p->metrics_acceptor) p->metrics_acceptor->close(ignored);
    if (p->health_acceptor) p->health_acceptor->close(ignored);
  });
  impl_->work.reset();
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->stopped = true;
}

}  // namespace cssh::app
