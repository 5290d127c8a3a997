// The HTTP client over TLS against an in-process OpenSSL server, with certificates made by the
// test itself: server verification (CA, name, IP), client certificates, refusals worded for
// people, the one-way close_notify of a hijacked stream, and the settings' validation.

#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "protocol/http/client.hpp"
#include "protocol/http/tls.hpp"

#include "fake_http_server.hpp"

using namespace std::chrono_literals;
using cssh::result;
using http_test::listener;
using http_test::one_shot_server;
using test_text::contains;
namespace http = cssh::http;

namespace {

// --- certificates --------------------------------------------------------------------------------

struct pem_pair {
  std::string cert;
  std::string key;
};

/// A key and certificate kept as OpenSSL objects too, so they can sign others.
struct identity {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  identity() = default;
  identity(const identity&) = delete;
  identity& operator=(const identity&) = delete;
  ~identity() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  pem_pair pem() const {
    pem_pair out;
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, cert);
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    out.cert.assign(data, static_cast<std::size_t>(n));
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    n = BIO_get_mem_data(b, &data);
    out.key.assign(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return out;
  }
};

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

/// A certificate for `cn`, signed by `issuer` (self-signed when null). `san` like
/// "IP:127.0.0.1,DNS:localhost"; `eku` like "serverAuth".
std::unique_ptr<identity> make_identity(const std::string& cn, const identity* issuer, bool ca, const std::string& san,
                                        const std::string& eku) {
  static long serial = 1;
  auto id = std::make_unique<identity>();
  id->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  REQUIRE(id->key != nullptr);
  X509* x = X509_new();
  id->cert = x;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, id->key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer->cert : x, x, nullptr, nullptr, 0);
  add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  add_ext(x, &ctx, NID_subject_key_identifier, "hash");
  if (ca) add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (!san.empty()) add_ext(x, &ctx, NID_subject_alt_name, san);
  if (!eku.empty()) add_ext(x, &ctx, NID_ext_key_usage, eku);
  REQUIRE(X509_sign(x, issuer ? issuer->key : id->key, EVP_sha256()) > 0);
  return id;
}

/// One CA with a server certificate (for 127.0.0.1 and localhost) and a client certificate.
/// Each CA has its own name, as real ones do (OpenSSL finds issuers by name).
struct pki {
  static inline int count = 0;
  std::unique_ptr<identity> ca = make_identity("cssh test CA " + std::to_string(++count), nullptr, true, "", "");
  std::unique_ptr<identity> server = make_identity("cssh test server", ca.get(), false, "IP:127.0.0.1,DNS:localhost", "serverAuth");
  std::unique_ptr<identity> client = make_identity("cssh test client", ca.get(), false, "", "clientAuth");
};

// --- a blocking TLS server -------------------------------------------------------------------------

struct server_options {
  pem_pair identity;
  std::string client_ca;  // non-empty: a client certificate signed by it is required
};

/// Listens on 127.0.0.1:0 (an http_test::listener), accepts one connection on its own thread, runs the TLS handshake
/// and then `handle` (which may be empty when the test only cares about the handshake).
class tls_server {
 public:
  tls_server(server_options opts, std::function<void(SSL*)> handle) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    BIO* cb = BIO_new_mem_buf(opts.identity.cert.data(), static_cast<int>(opts.identity.cert.size()));
    X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO_free(cb);
    BIO* kb = BIO_new_mem_buf(opts.identity.key.data(), static_cast<int>(opts.identity.key.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    BIO_free(kb);
    REQUIRE(SSL_CTX_use_certificate(ctx_, cert) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(ctx_, key) == 1);
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!opts.client_ca.empty()) {
      BIO* ab = BIO_new_mem_buf(opts.client_ca.data(), static_cast<int>(opts.client_ca.size()));
      X509* ca = PEM_read_bio_X509(ab, nullptr, nullptr, nullptr);
      BIO_free(ab);
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), ca);
      X509_free(ca);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    thread_ = std::thread([this, handle = std::move(handle)] { serve(handle); });
  }
  ~tls_server() {
    if (thread_.joinable()) thread_.join();
    SSL_CTX_free(ctx_);
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  http::endpoint endpoint(std::shared_ptr<const http::tls_context> ctx) const {
    http::endpoint ep = listener_.endpoint();
    ep.tls = true;
    ep.tls_ctx = std::move(ctx);
    return ep;
  }
  /// Valid after join(): the handshake's outcome on the server side.
  bool handshake_ok = false;
  std::string client_subject;

 private:
  void serve(const std::function<void(SSL*)>& handle) {
    int conn = listener_.accept_one(10s);
    if (conn < 0) return;
    timeval tv{10, 0};
    ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, conn);
    if (SSL_accept(ssl) == 1) {
      handshake_ok = true;
      if (X509* peer = SSL_get1_peer_certificate(ssl)) {
        char buf[256];
        X509_NAME_oneline(X509_get_subject_name(peer), buf, sizeof buf);
        client_subject = buf;
        X509_free(peer);
      }
      if (handle) handle(ssl);
    } else {
      // Let the alert reach the client before the socket goes.
      ERR_clear_error();
    }
    SSL_free(ssl);
    ::close(conn);
  }

  listener listener_ = listener::tcp();
  SSL_CTX* ctx_ = nullptr;
  std::thread thread_;
};

/// Reads until the blank line ending an HTTP head; "" on error.
std::string read_head(SSL* ssl) {
  std::string data;
  char buf[4096];
  while (data.find("\r\n\r\n") == std::string::npos) {
    int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) return "";
    data.append(buf, static_cast<std::size_t>(n));
  }
  return data;
}

void ssl_write_all(SSL* ssl, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    int n = SSL_write(ssl, bytes.data() + done, static_cast<int>(bytes.size() - done));
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

void answer_ok(SSL* ssl) {
  if (read_head(ssl).empty()) return;
  ssl_write_all(ssl, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nApi-Version: 1.41\r\n\r\nOK");
}

// --- the client side ----------------------------------------------------------------------------------

template <class T>
result<T> wait_for(std::function<void(std::function<void(result<T>)>)> start, std::chrono::seconds limit = 15s) {
  auto p = std::make_shared<std::promise<result<T>>>();
  auto f = p->get_future();
  start([p](result<T> r) { p->set_value(std::move(r)); });
  if (f.wait_for(limit) != std::future_status::ready) return cssh::fail("TEST_TIMEOUT", "no callback");
  return f.get();
}

result<http::response> call(http::reactor& r, const http::endpoint& ep, std::chrono::milliseconds timeout = 5s) {
  http::request req;
  req.target = "/_ping";
  req.timeout = timeout;
  return wait_for<http::response>([&](auto cb) { http::async_call(r, ep, req, cb); });
}

std::shared_ptr<const http::tls_context> context(const http::tls_settings& s) {
  auto ctx = http::make_tls_context(s);
  REQUIRE_MESSAGE(ctx.ok(), (ctx.ok() ? "" : ctx.error().message));
  return ctx.value();
}

/// A TLS endpoint, trusting p's CA, for a peer on a plain listener that misbehaves.
http::endpoint tls_endpoint(const listener& l, const pki& p) {
  http::endpoint ep = l.endpoint();
  ep.tls = true;
  ep.tls_ctx = context({p.ca->pem().cert, "", "", ""});
  return ep;
}


std::string temp_file(const std::string& name, const std::string& content) {
  std::string path = "/tmp/cssh-tls-test-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream(path) << content;
  return path;
}

}  // namespace

TEST_CASE("TLS: the server is verified by CA and IP, and our client certificate is accepted") {
  pki p;
  tls_server server({p.server->pem(), p.ca->pem().cert}, answer_ok);
  http::reactor reactor(1);
  auto r = call(reactor, server.endpoint(context({p.ca->pem().cert, p.client->pem().cert, p.client->pem().key, ""})));
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  CHECK(r->status == 200);
  CHECK(r->body == "OK");
  server.join();
  CHECK(server.handshake_ok);
  CHECK(contains(server.client_subject, "cssh test client"));
}

TEST_CASE("TLS: cacert, cert and key given as file paths work like inline PEM") {
  pki p;
  tls_server server({p.server->pem(), p.ca->pem().cert}, answer_ok);
  auto ca = temp_file("ca.pem", p.ca->pem().cert);
  auto cert = temp_file("cert.pem", p.client->pem().cert);
  auto key = temp_file("key.pem", p.client->pem().key);
  http::reactor reactor(1);
  auto r = call(reactor, server.endpoint(context({ca, cert, key, ""})));
  ::unlink(ca.c_str());
  ::unlink(cert.c_str());
  ::unlink(key.c_str());
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  CHECK(r->status == 200);
}

TEST_CASE("TLS: a server signed by another CA is refused, saying so") {
  pki p;
  pki other;
  tls_server server({p.server->pem(), ""}, answer_ok);
  http::reactor reactor(1);
  auto r = call(reactor, server.endpoint(context({other.ca->pem().cert, "", "", ""})));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_TLS_FAILED");
  CHECK(contains(r.error().message, "https://127.0.0.1:"));
  CHECK(contains(r.error().message, "TLS handshake failed"));
  CHECK(contains(r.error().message, "certificate verify failed"));
  CHECK(contains(r.error().message, "not signed by the configured CA certificate"));
}

TEST_CASE("TLS: the certificate must name the host: IP, DNS name, or the server_name override") {
  pki p;
  // Names only "localhost": connecting to 127.0.0.1 must fail the IP check.
  auto dns_only = make_identity("dns only", p.ca.get(), false, "DNS:localhost", "serverAuth");
  {
    tls_server server({dns_only->pem(), ""}, answer_ok);
    http::reactor reactor(1);
    auto r = call(reactor, server.endpoint(context({p.ca->pem().cert, "", "", ""})));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "HTTP_TLS_FAILED");
    CHECK(contains(r.error().message, "does not name the host we connected to"));
  }
  {
    // The operator says which name to expect: accepted.
    tls_server server({dns_only->pem(), ""}, answer_ok);
    http::reactor reactor(1);
    auto r = call(reactor, server.endpoint(context({p.ca->pem().cert, "", "", "localhost"})));
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  }
  {
    // The same override with a name the certificate lacks: refused.
    tls_server server({dns_only->pem(), ""}, answer_ok);
    http::reactor reactor(1);
    auto r = call(reactor, server.endpoint(context({p.ca->pem().cert, "", "", "docker.example"})));
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "does not name the host"));
  }
}

TEST_CASE("TLS: a server requiring a client certificate refuses us without one, and we say why") {
  pki p;
  tls_server server({p.server->pem(), p.ca->pem().cert}, answer_ok);
  http::reactor reactor(1);
  auto r = call(reactor, server.endpoint(context({p.ca->pem().cert, "", "", ""})));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_TLS_FAILED");
  // The server's alert, or (when the server hangs up before it reaches us) our reading of it.
  CHECK(contains(r.error().message, "client certificate, and none is configured (cert/key)"));
  server.join();
  CHECK_FALSE(server.handshake_ok);
}

TEST_CASE("TLS: a client certificate from an untrusted CA is refused by the server, and we say so") {
  pki p;
  pki other;
  tls_server server({p.server->pem(), p.ca->pem().cert}, answer_ok);
  http::reactor reactor(1);
  auto r = call(reactor, server.endpoint(context({p.ca->pem().cert, other.client->pem().cert, other.client->pem().key, ""})));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_TLS_FAILED");
  CHECK(contains(r.error().message, "accept our client certificate"));
}

TEST_CASE("TLS: a plain-HTTP peer is named as such") {
  auto l = listener::tcp();
  one_shot_server plain(l, [](int conn) {
    char buf[1024];
    (void)::recv(conn, buf, sizeof buf, 0);
    const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    (void)::send(conn, answer, sizeof answer - 1, MSG_NOSIGNAL);
  });
  pki p;
  http::reactor reactor(1);
  auto r = call(reactor, tls_endpoint(l, p));
  plain.join();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_TLS_FAILED");
  CHECK(contains(r.error().message, "does not speak TLS"));
}

TEST_CASE("TLS: a peer that hangs up during the handshake is named as such") {
  auto l = listener::tcp();
  one_shot_server rude(l, [](int conn) {
    char buf[1024];
    (void)::recv(conn, buf, sizeof buf, 0);  // the ClientHello, then silence and a close
  });
  pki p;
  http::reactor reactor(1);
  auto r = call(reactor, tls_endpoint(l, p));
  rude.join();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_TLS_FAILED");
  CHECK(contains(r.error().message, "the peer closed the connection during the TLS handshake"));
}

TEST_CASE("TLS: the deadline covers a handshake the server never answers") {
  auto l = listener::tcp();  // the kernel completes the TCP handshake; nobody speaks TLS
  pki p;
  http::reactor reactor(1);
  auto started = std::chrono::steady_clock::now();
  auto r = call(reactor, tls_endpoint(l, p), 300ms);
  auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "HTTP_TIMEOUT");
  CHECK(contains(r.error().message, "TLS handshake"));
  CHECK(took < 3s);
}

TEST_CASE("TLS upgrade: early bytes first; shutdown_send is a close_notify the server sees while we keep reading") {
  pki p;
  const std::string early = "EARLY-BYTES";
  std::string input;
  for (int i = 0; i < 20000; ++i) input += "line " + std::to_string(i) + "\n";  // ~190 KB, many records
  std::promise<std::string> server_saw;
  tls_server server({p.server->pem(), p.ca->pem().cert}, [&](SSL* ssl) {
    if (read_head(ssl).empty()) return server_saw.set_value("no request");
    // The answer and the stream's first bytes in one record, as an Engine may send them.
    ssl_write_all(ssl, "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + early);
    std::string got;
    char buf[16384];
    for (;;) {
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n > 0) {
        got.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      // Only a close_notify counts as the client's EOF (a dropped socket would be SYSCALL).
      got += SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN ? "|close_notify" : "|broken";
      break;
    }
    server_saw.set_value(got);
    // The other direction is still open: answer after the client's EOF, then close properly.
    ssl_write_all(ssl, "echo:" + std::to_string(got.size()) + "|after-eof");
    SSL_shutdown(ssl);
  });
  http::reactor reactor(2);
  http::request req;
  req.method = "POST";
  req.target = "/containers/x/attach";
  auto stream = wait_for<std::shared_ptr<http::upgraded_stream>>([&](auto cb) {
    http::async_upgrade(reactor, server.endpoint(context({p.ca->pem().cert, p.client->pem().cert, p.client->pem().key, ""})),
                        req, cb);
  });
  REQUIRE_MESSAGE(stream.ok(), (stream.ok() ? "" : stream.error().message));
  auto s = stream.value();
  auto first = wait_for<std::string>([&](auto cb) { s->async_read(65536, cb); });
  REQUIRE(first.ok());
  CHECK(first.value() == early);
  // A read stays outstanding while we write and half-close, as the docker_io_actor does.
  auto rest = std::make_shared<std::promise<std::string>>();
  std::function<void(std::shared_ptr<std::string>)> read_on = [&, rest](std::shared_ptr<std::string> acc) {
    s->async_read(65536, [&, rest, acc](result<std::string> r) {
      if (!r.ok() || r.value().empty()) return rest->set_value(*acc + (r.ok() ? "" : "|error:" + r.error().message));
      *acc += r.value();
      read_on(acc);
    });
  };
  read_on(std::make_shared<std::string>());
  auto wrote = wait_for<void>([&](auto cb) { s->async_write(input, cb); });
  REQUIRE_MESSAGE(wrote.ok(), (wrote.ok() ? "" : wrote.error().message));
  s->shutdown_send();
  auto seen = server_saw.get_future();
  REQUIRE(seen.wait_for(10s) == std::future_status::ready);
  CHECK(seen.get() == input + "|close_notify");
  auto back = rest->get_future();
  REQUIRE(back.wait_for(10s) == std::future_status::ready);
  CHECK(back.get() == "echo:" + std::to_string(input.size() + std::string("|close_notify").size()) + "|after-eof");
}

TEST_CASE("TLS settings: each mistake names its field") {
  pki p;
  auto pem = p.client->pem();
  auto failure_of = [](const http::tls_settings& s) {
    auto ctx = http::make_tls_context(s);
    REQUIRE_FALSE(ctx.ok());
    CHECK(ctx.error().code == "HTTP_TLS_CONFIG_INVALID");
    return ctx.error().message;
  };
  CHECK(failure_of({"", pem.cert, "", ""}) == "key: required when cert is given");
  CHECK(failure_of({"", "", pem.key, ""}) == "cert: required when key is given");
  CHECK(contains(failure_of({"/nonexistent/ca.pem", "", "", ""}), "cacert: is neither PEM text nor a readable file: /nonexistent/ca.pem"));
  auto garbage = temp_file("garbage.pem", "not a certificate\n");
  CHECK(contains(failure_of({garbage, "", "", ""}), "cacert: file " + garbage + " holds no PEM block"));
  ::unlink(garbage.c_str());
  CHECK(contains(failure_of({"-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n", "", "", ""}),
                 "cacert: no PEM certificate"));
  auto other_key = p.server->pem().key;
  CHECK(failure_of({"", pem.cert, other_key, ""}) == "key: does not belong to the certificate given as cert");
  CHECK(contains(failure_of({"", pem.cert, pem.cert, ""}), "key: no unencrypted PEM private key found"));
  // And the right ones pass, with no CA at all (the system's store).
  CHECK(http::make_tls_context({"", pem.cert, pem.key, ""}).ok());
  CHECK(http::looks_like_pem(pem.cert));
  CHECK_FALSE(http::looks_like_pem("/etc/docker/ca.pem"));
}
