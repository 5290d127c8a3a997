#pragma once
// Internal to protocol/http/*.cpp: a TLS client stream on a TCP socket, shaped as an Asio
// AsyncStream so Beast can read and write HTTP over it.
//
// Why not asio::ssl::stream: a hijacked Docker attach stream must be able to send TLS
// close_notify (the container's stdin EOF) while a read is outstanding and keep reading
// afterwards, as Docker's own client does (tls.Conn.CloseWrite). asio::ssl::stream's
// async_shutdown insists on reading the peer's close_notify, which would swallow the output.
// Here OpenSSL works directly on the non-blocking socket: each operation tries once and waits
// for readiness only when OpenSSL asks for it, so reads, writes and the one-way shutdown
// interleave freely on the socket's strand.

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "protocol/http/tls.hpp"

namespace cssh::http::detail {

namespace tls_asio = boost::asio;
using tls_error_code = boost::system::error_code;

/// What one attempt of an OpenSSL operation needs next.
enum class tls_step { done, want_read, want_write, eof, failed };

/// The OpenSSL half of one connection: the SSL object and a BIO on the socket's descriptor.
class tls_session;

class tls_stream {
 public:
  using executor_type = tls_asio::any_io_executor;
  using tcp_socket = tls_asio::ip::tcp::socket;

  tls_stream(tcp_socket socket, std::shared_ptr<const tls_context> ctx, std::string peer_host);
  tls_stream(tls_stream&&) noexcept;
  tls_stream& operator=(tls_stream&&) = delete;
  ~tls_stream();

  executor_type get_executor() { return socket_.get_executor(); }
  tcp_socket& socket() { return socket_; }

  /// After the TCP connect: sets up OpenSSL and runs the client handshake, which verifies
  /// the server's certificate and name.
  void async_handshake(std::function<void(tls_error_code)> done);

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    return tls_asio::async_compose<Handler, void(tls_error_code, std::size_t)>(read_op<MutableBuffers>{this, buffers},
                                                                                 handler, socket_);
  }
  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    return tls_asio::async_compose<Handler, void(tls_error_code, std::size_t)>(write_op<ConstBuffers>{this, buffers},
                                                                                 handler, socket_);
  }

  /// Sends close_notify and nothing else: the peer reads EOF, our reads continue.
  void async_shutdown_send(std::function<void(tls_error_code)> done);
  /// Closes the socket without close_notify (aborts); pending operations complete with errors.
  void close();

  /// The words for a failure of this stream: OpenSSL's reason plus what it means here (the
  /// certificate check that failed, the alert the server sent).
  std::string describe(const tls_error_code& ec) const;
  /// True for a connection the server dropped after our handshake before sending anything: how
  /// a refused client certificate looks under TLS 1.3 when the server's alert is lost.
  bool refused_after_handshake(const tls_error_code& ec) const;

 private:
  // One attempt each; the composed operations below call them on the socket's strand.
  tls_step read_step(void* data, std::size_t size, std::size_t& got, tls_error_code& ec);
  tls_step write_step(std::size_t size, std::size_t& put, tls_error_code& ec);
  /// Runs `attempt` until it is done, waiting for the readiness it asks for in between.
  void drive(std::function<tls_step(tls_error_code&)> attempt, std::function<void(tls_error_code)> done);

  /// Read and write share the shape: try, wait for what OpenSSL wants, try again.
  template <class Derived>
  struct op_base {
    tls_stream* s;
    bool started = false;

    template <class Self>
    void operator()(Self& self, tls_error_code ec = {}) {
      // The first attempt is posted: a handler must never run inside the initiating call.
      if (!started) {
        started = true;
        return tls_asio::post(s->get_executor(), std::move(self));
      }
      if (ec) return self.complete(ec, 0);
      std::size_t n = 0;
      switch (static_cast<Derived*>(this)->attempt(n, ec)) {
        case tls_step::done:
          return self.complete({}, n);
        case tls_step::eof:
          return self.complete(tls_asio::error::eof, 0);
        case tls_step::failed:
          return self.complete(ec, 0);
        case tls_step::want_read:
          return s->socket_.async_wait(tcp_socket::wait_read, std::move(self));
        case tls_step::want_write:
          return s->socket_.async_wait(tcp_socket::wait_write, std::move(self));
      }
    }
  };

  template <class MutableBuffers>
  struct read_op : op_base<read_op<MutableBuffers>> {
    MutableBuffers buffers;
    read_op(tls_stream* stream, const MutableBuffers& b) : op_base<read_op>{stream}, buffers(b) {}
    tls_step attempt(std::size_t& n, tls_error_code& ec) {
      // Like a socket read: fill the first non-empty buffer, report what arrived.
      for (auto it = tls_asio::buffer_sequence_begin(buffers); it != tls_asio::buffer_sequence_end(buffers); ++it) {
        tls_asio::mutable_buffer b(*it);
        if (b.size() > 0) return this->s->read_step(b.data(), b.size(), n, ec);
      }
      return tls_step::done;
    }
  };

  template <class ConstBuffers>
  struct write_op : op_base<write_op<ConstBuffers>> {
    ConstBuffers buffers;
    write_op(tls_stream* stream, const ConstBuffers& b) : op_base<write_op>{stream}, buffers(b) {}
    tls_step attempt(std::size_t& n, tls_error_code& ec) {
      // Gathers Beast's many small header buffers into one TLS record. A retry copies the
      // same bytes again, which is what OpenSSL requires after a want_write.
      std::size_t size = tls_asio::buffer_copy(tls_asio::buffer(this->s->write_scratch_), buffers);
      if (size == 0) return tls_step::done;
      return this->s->write_step(size, n, ec);
    }
  };

  tcp_socket socket_;
  std::shared_ptr<const tls_context> ctx_;
  std::string peer_host_;
  std::unique_ptr<tls_session> session_;
  std::vector<char> write_scratch_;
  /// Why the session could not even be set up (reported instead of an OpenSSL reason).
  std::string setup_error_;
  bool handshake_done_ = false;
  bool received_any_ = false;
};

}  // namespace cssh::http::detail
