// TLS for the HTTP client: building OpenSSL client contexts from settings, and the OpenSSL
// half of tls_stream (one attempt per call, on a non-blocking socket).

#include "protocol/http/tls.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <fstream>
#include <mutex>
#include <sstream>

#include "protocol/http/tls_stream.hpp"

namespace cssh::http {
namespace {

constexpr std::size_t max_pem_file = 1024 * 1024;
// One TLS record's worth of plaintext per SSL_write.
constexpr std::size_t write_chunk = 16 * 1024;

/// OpenSSL's queued errors as one line (and the queue emptied).
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

failure tls_failure(std::string_view field, const std::string& why) {
  return fail("HTTP_TLS_CONFIG_INVALID", std::string(field) + ": " + why);
}

struct bio_deleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

bio_ptr memory_bio(const std::string& text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

/// Adds every certificate of the PEM text to the context's trust store.
result<void> load_trusted(SSL_CTX* ctx, const std::string& pem, std::string_view field) {
  auto bio = memory_bio(pem);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    int added = X509_STORE_add_cert(store, cert);
    X509_free(cert);
    if (added != 1) return tls_failure(field, "cannot add a CA certificate: " + openssl_errors());
    ++count;
  }
  ERR_clear_error();  // the loop ends on "no start line", which is not an error here
  if (count == 0) return tls_failure(field, "no PEM certificate (-----BEGIN CERTIFICATE-----) found");
  return {};
}

/// The first certificate is ours; any following ones are the chain up to the CA.
result<void> load_certificate_chain(SSL_CTX* ctx, const std::string& pem, std::string_view field) {
  auto bio = memory_bio(pem);
  X509* leaf = PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr);
  if (!leaf) return tls_failure(field, "no PEM certificate (-----BEGIN CERTIFICATE-----) found");
  int used = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (used != 1) return tls_failure(field, "certificate not usable: " + openssl_errors());
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    // add0 takes ownership on success.
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      return tls_failure(field, "chain certificate not usable: " + openssl_errors());
    }
  }
  ERR_clear_error();
  return {};
}

result<void> load_private_key(SSL_CTX* ctx, const std::string& pem, std::string_view field) {
  auto bio = memory_bio(pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!key) {
    ERR_clear_error();
    return tls_failure(field, "no unencrypted PEM private key found (encrypted keys are not supported)");
  }
  if (X509* cert = SSL_CTX_get0_certificate(ctx); cert && X509_check_private_key(cert, key) != 1) {
    EVP_PKEY_free(key);
    ERR_clear_error();
    return tls_failure(field, "does not belong to the certificate given as cert");
  }
  int used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (used != 1) return tls_failure(field, "private key not usable: " + openssl_errors());
  return {};
}

}  // namespace

// --- PEM sources ---------------------------------------------------------------------------

bool looks_like_pem(std::string_view text) { return text.find("-----BEGIN ") != std::string_view::npos; }

result<std::string> read_pem_source(std::string_view text, std::string_view field) {
  if (looks_like_pem(text)) return std::string(text);
  std::string path(text);
  std::ifstream in(path, std::ios::binary);
  if (!in) return tls_failure(field, "is neither PEM text nor a readable file: " + path + ": " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  std::string pem = content.str();
  if (pem.size() > max_pem_file) return tls_failure(field, "file " + path + " is larger than 1 MiB");
  if (!looks_like_pem(pem)) return tls_failure(field, "file " + path + " holds no PEM block (-----BEGIN ...)");
  return pem;
}

// --- contexts --------------------------------------------------------------------------------

tls_context::tls_context(ssl_ctx_st* ctx, std::string server_name, bool has_client_cert)
    : ctx_(ctx), server_name_(std::move(server_name)), has_client_cert_(has_client_cert) {}

tls_context::~tls_context() { SSL_CTX_free(ctx_); }

result<std::shared_ptr<const tls_context>> make_tls_context(const tls_settings& settings) {
  if (settings.cert.empty() != settings.key.empty()) {
    return tls_failure(settings.cert.empty() ? "cert" : "key",
                       settings.cert.empty() ? "required when key is given" : "required when cert is given");
  }
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (!raw) return fail("HTTP_TLS_CONFIG_INVALID", "cannot create a TLS context: " + openssl_errors());
  // Owned by the context object from here on, so every early return frees it.
  std::shared_ptr<const tls_context> ctx(new tls_context(raw, settings.server_name, !settings.cert.empty()));

  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  // A peer that closes the socket without close_notify ends the stream like a clean close:
  // HTTP framing (Content-Length, chunked) still detects truncated messages, and Docker may
  // drop an attach connection that way.
  SSL_CTX_set_options(raw, SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Writes behave like socket writes (partial), and a retried write may come from another
  // buffer holding the same bytes.
  SSL_CTX_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);

  if (settings.cacert.empty()) {
    if (SSL_CTX_set_default_verify_paths(raw) != 1) {
      return tls_failure("cacert", "not given, and the system's CA store cannot be loaded: " + openssl_errors());
    }
  } else {
    auto pem = read_pem_source(settings.cacert, "cacert");
    if (!pem) return pem.error();
    if (auto ok = load_trusted(raw, *pem, "cacert"); !ok) return ok.error();
  }
  if (!settings.cert.empty()) {
    auto cert = read_pem_source(settings.cert, "cert");
    if (!cert) return cert.error();
    auto key = read_pem_source(settings.key, "key");
    if (!key) return key.error();
    if (auto ok = load_certificate_chain(raw, *cert, "cert"); !ok) return ok.error();
    if (auto ok = load_private_key(raw, *key, "key"); !ok) return ok.error();
  }
  return ctx;
}

result<std::shared_ptr<const tls_context>> default_tls_context() {
  static std::mutex mu;
  static std::shared_ptr<const tls_context> made;
  std::lock_guard<std::mutex> lock(mu);
  if (made) return made;
  auto ctx = make_tls_context({});
  if (ctx) made = ctx.value();
  return ctx;
}

}  // namespace cssh::http

// --- the OpenSSL half of a connection ------------------------------------------------------------

namespace cssh::http::detail {
namespace {

/// A BIO on a socket descriptor that never raises SIGPIPE (send with MSG_NOSIGNAL) and that
/// can be cut off from the descriptor once the socket is closed (the number may be reused).
struct fd_holder {
  int fd = -1;
};

int fd_bio_write(BIO* bio, const char* data, int size) {
  auto* holder = static_cast<fd_holder*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (holder->fd < 0) {
    errno = EBADF;
    return -1;
  }
  ssize_t n = ::send(holder->fd, data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_write(bio);
  return static_cast<int>(n);
}

int fd_bio_read(BIO* bio, char* data, int size) {
  auto* holder = static_cast<fd_holder*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (holder->fd < 0) {
    errno = EBADF;
    return -1;
  }
  ssize_t n = ::recv(holder->fd, data, static_cast<std::size_t>(size), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(bio);
  return static_cast<int>(n);
}

long fd_bio_ctrl(BIO*, int cmd, long, void*) {
  // OpenSSL flushes after each handshake flight; our writes go straight to the socket.
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int fd_bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* fd_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cssh socket");
    BIO_meth_set_write(m, fd_bio_write);
    BIO_meth_set_read(m, fd_bio_read);
    BIO_meth_set_ctrl(m, fd_bio_ctrl);
    BIO_meth_set_create(m, fd_bio_create);
    return m;
  }();
  return method;
}

/// The words for an alert the server sent instead of talking to us.
std::string alert_meaning(int reason, bool has_client_cert) {
  switch (reason) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      return has_client_cert ? "the server refused the handshake (does it accept our client certificate?)"
                             : "the server requires a client certificate, and none is configured (cert/key)";
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
      return has_client_cert ? "the server did not accept our client certificate (is it signed by a CA the server trusts?)"
                             : "the server requires a client certificate, and none is configured (cert/key)";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      return "the server says our client certificate has expired";
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_UNSUPPORTED_PROTOCOL:
      return "no TLS version in common (we require TLS 1.2 or newer)";
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
      return "the peer does not speak TLS (plain HTTP on this port?)";
    default:
      return "";
  }
}

}  // namespace

class tls_session {
 public:
  tls_session(SSL* ssl, std::unique_ptr<fd_holder> holder, bool has_client_cert)
      : ssl_(ssl), holder_(std::move(holder)), has_client_cert_(has_client_cert) {}
  ~tls_session() { SSL_free(ssl_); }

  /// SSL_connect, SSL_read_ex, ... once; the step says what to wait for before trying again.
  template <class Call>
  tls_step attempt(Call&& call, tls_error_code& ec) {
    if (holder_->fd < 0) {
      ec = tls_asio::error::bad_descriptor;
      return tls_step::failed;
    }
    ERR_clear_error();
    errno = 0;
    int r = call();
    if (r > 0) return tls_step::done;
    int err = SSL_get_error(ssl_, r);
    switch (err) {
      case SSL_ERROR_WANT_READ:
        return tls_step::want_read;
      case SSL_ERROR_WANT_WRITE:
        return tls_step::want_write;
      case SSL_ERROR_ZERO_RETURN:
        return tls_step::eof;
      case SSL_ERROR_SYSCALL: {
        int saved = errno;
        unsigned long queued = ERR_peek_last_error();
        if (queued != 0) {
          ec = tls_error_code(static_cast<int>(queued), tls_asio::error::get_ssl_category());
          ERR_clear_error();
        } else if (saved != 0) {
          ec = tls_error_code(saved, boost::system::system_category());
        } else {
          return tls_step::eof;
        }
        return tls_step::failed;
      }
      default: {
        // The last error is the SSL layer's verdict ("certificate verify failed"); earlier
        // ones are the details that led to it (an EVP signature check, ...).
        unsigned long e = ERR_peek_last_error();
        ERR_clear_error();
        last_reason_ = ERR_GET_REASON(e);
        ec = tls_error_code(static_cast<int>(e), tls_asio::error::get_ssl_category());
        return tls_step::failed;
      }
    }
  }

  SSL* ssl() const { return ssl_; }
  void detach_fd() { holder_->fd = -1; }

  std::string describe(const tls_error_code& ec) const {
    if (ec.category() != tls_asio::error::get_ssl_category()) return ec.message();
    std::string text = "TLS: " + ec.message();
    long verified = SSL_get_verify_result(ssl_);
    if (verified != X509_V_OK) {
      text += ": the server's certificate was not accepted: ";
      text += X509_verify_cert_error_string(verified);
      if (verified == X509_V_ERR_HOSTNAME_MISMATCH || verified == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        text += " (the certificate does not name the host we connected to)";
      } else if (verified == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                 verified == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT || verified == X509_V_ERR_CERT_SIGNATURE_FAILURE ||
                 verified == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || verified == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN) {
        text += " (it is not signed by the configured CA certificate)";
      }
      return text;
    }
    auto meaning = alert_meaning(last_reason_, has_client_cert_);
    if (!meaning.empty()) text += " (" + meaning + ")";
    return text;
  }

 private:
  SSL* ssl_;
  std::unique_ptr<fd_holder> holder_;
  bool has_client_cert_;
  int last_reason_ = 0;
};

namespace {

result<std::unique_ptr<tls_session>> make_session(const tls_context& ctx, int fd, const std::string& peer_host) {
  SSL* ssl = SSL_new(ctx.native_handle());
  if (!ssl) return fail("HTTP_TLS_ERROR", "cannot create a TLS session: " + openssl_errors());
  auto holder = std::make_unique<fd_holder>();
  holder->fd = fd;
  BIO* bio = BIO_new(fd_bio_method());
  if (!bio) {
    SSL_free(ssl);
    return fail("HTTP_TLS_ERROR", "cannot create a TLS socket BIO: " + openssl_errors());
  }
  BIO_set_data(bio, holder.get());
  SSL_set_bio(ssl, bio, bio);  // the SSL owns the BIO now
  auto session = std::make_unique<tls_session>(ssl, std::move(holder), ctx.has_client_certificate());
  SSL_set_connect_state(ssl);

  const std::string& name = ctx.server_name().empty() ? peer_host : ctx.server_name();
  boost::system::error_code not_ip;
  boost::asio::ip::make_address(name, not_ip);
  if (!not_ip) {
    // An address is checked against the certificate's IP subjectAltNames; SNI has no IPs.
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) != 1) {
      return fail("HTTP_TLS_ERROR", "cannot verify against address " + name + ": " + openssl_errors());
    }
  } else {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, name.c_str()) != 1 || SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
      return fail("HTTP_TLS_ERROR", "cannot verify against host name " + name + ": " + openssl_errors());
    }
  }
  return session;
}

}  // namespace

// --- tls_stream ------------------------------------------------------------------------------------

tls_stream::tls_stream(tcp_socket socket, std::shared_ptr<const tls_context> ctx, std::string peer_host)
    : socket_(std::move(socket)), ctx_(std::move(ctx)), peer_host_(std::move(peer_host)), write_scratch_(write_chunk) {}

tls_stream::tls_stream(tls_stream&&) noexcept = default;

tls_stream::~tls_stream() = default;

void tls_stream::drive(std::function<tls_step(tls_error_code&)> attempt, std::function<void(tls_error_code)> done) {
  tls_error_code ec;
  tls_step step = attempt(ec);
  switch (step) {
    case tls_step::done:
      return done({});
    case tls_step::eof:
      return done(tls_asio::error::eof);
    case tls_step::failed:
      return done(ec);
    case tls_step::want_read:
    case tls_step::want_write:
      break;
  }
  // `this` stays valid: whoever started the operation keeps the stream alive until `done` ran.
  socket_.async_wait(step == tls_step::want_read ? tcp_socket::wait_read : tcp_socket::wait_write,
                     [this, attempt = std::move(attempt), done = std::move(done)](const tls_error_code& waited) mutable {
                       if (waited) return done(waited);
                       drive(std::move(attempt), std::move(done));
                     });
}

void tls_stream::async_handshake(std::function<void(tls_error_code)> done) {
  if (!session_) {
    tls_error_code ec;
    socket_.non_blocking(true, ec);
    if (ec) return done(ec);
    auto made = make_session(*ctx_, socket_.native_handle(), peer_host_);
    if (!made) {
      setup_error_ = made.error().message;
      return done(tls_error_code(EPROTO, boost::system::system_category()));
    }
    session_ = std::move(made).value();
  }
  drive([this](tls_error_code& ec) { return session_->attempt([this] { return SSL_connect(session_->ssl()); }, ec); },
        [this, done = std::move(done)](tls_error_code ec) {
          if (!ec) handshake_done_ = true;
          done(ec);
        });
}

tls_step tls_stream::read_step(void* data, std::size_t size, std::size_t& got, tls_error_code& ec) {
  if (!session_ || !socket_.is_open()) {
    ec = tls_asio::error::bad_descriptor;
    return tls_step::failed;
  }
  auto step = session_->attempt([&] { return SSL_read_ex(session_->ssl(), data, size, &got); }, ec);
  if (step == tls_step::done && got > 0) received_any_ = true;
  return step;
}

bool tls_stream::refused_after_handshake(const tls_error_code& ec) const {
  if (!handshake_done_ || received_any_) return false;
  return ec == tls_asio::error::connection_reset || ec == tls_asio::error::eof ||
         ec == boost::beast::http::error::end_of_stream || ec == tls_asio::error::broken_pipe;
}

tls_step tls_stream::write_step(std::size_t size, std::size_t& put, tls_error_code& ec) {
  if (!session_ || !socket_.is_open()) {
    ec = tls_asio::error::bad_descriptor;
    return tls_step::failed;
  }
  return session_->attempt([&] { return SSL_write_ex(session_->ssl(), write_scratch_.data(), size, &put); }, ec);
}

void tls_stream::async_shutdown_send(std::function<void(tls_error_code)> done) {
  if (!session_ || !socket_.is_open()) return done(tls_asio::error::bad_descriptor);
  // SSL_shutdown's first call only sends close_notify (0: sent, peer's not seen yet; 1: the
  // peer had closed already). It never reads, so an outstanding read is undisturbed and goes
  // on receiving the container's output until the Engine ends it.
  drive(
      [this](tls_error_code& ec) {
        return session_->attempt(
            [this] {
              int r = SSL_shutdown(session_->ssl());
              return r >= 0 ? 1 : r;
            },
            ec);
      },
      std::move(done));
}

void tls_stream::close() {
  if (session_) session_->detach_fd();
  tls_error_code ignored;
  socket_.close(ignored);
}

std::string tls_stream::describe(const tls_error_code& ec) const {
  if (!setup_error_.empty()) return setup_error_;
  if (ec == tls_asio::error::eof && !handshake_done_) {
    return "the peer closed the connection during the TLS handshake (is it a TLS server? does it require a "
           "client certificate?)";
  }
  if (refused_after_handshake(ec)) {
    // Under TLS 1.3 a server checks our certificate after the handshake completed on our side;
    // its refusal is an alert, but a server that closes at once may reset the connection
    // before the alert reaches us. Say what that most likely means.
    return "TLS: the server closed the connection right after the handshake (" + ec.message() + "): " +
           (ctx_->has_client_certificate() ? "it may not accept our client certificate (is it signed by a CA the server trusts?)"
                                           : "it may require a client certificate, and none is configured (cert/key)");
  }
  if (!session_) return ec.message();
  return session_->describe(ec);
}

}  // namespace cssh::http::detail
