#pragma once
// TLS client settings for one HTTP peer (the Docker Engine, a webhook): which CA to trust,
// which client certificate to present, which name the server's certificate must carry.
// make_tls_context() parses everything once; every connection to that peer shares the result.
//
// Policy (the same for every peer): TLS 1.2 is the minimum version. ContainerSSH requires 1.3,
// but Docker Engines before 18.x (Go < 1.12) and many webhook proxies stop at 1.2, and 1.2 with
// OpenSSL 3's default cipher list is still sound. The server's certificate is always verified,
// including its name: a DNS name is checked (and sent as SNI), an IP address is checked against
// the certificate's IP subjectAltNames, as Go (Docker's own client) does.

#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX, kept out of this header

namespace cssh::http {

struct tls_settings {
  /// CA certificate(s) to verify the server against: PEM text or a file path. Empty: the
  /// system's trusted CAs.
  std::string cacert;
  /// Client certificate (chain) to present: PEM text or a file path. Empty: none.
  std::string cert;
  /// The client certificate's private key: PEM text or a file path. Required with cert.
  std::string key;
  /// The name or IP the server certificate must carry. Empty: the host we connect to.
  std::string server_name;
};

/// A ready OpenSSL client context. Immutable once made; safe to share between threads.
class tls_context {
 public:
  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  ssl_ctx_st* native_handle() const { return ctx_; }
  /// The configured server_name override ("" = verify the host connected to).
  const std::string& server_name() const { return server_name_; }
  /// True when a client certificate is configured (used to word refusals).
  bool has_client_certificate() const { return has_client_cert_; }

 private:
  friend result<std::shared_ptr<const tls_context>> make_tls_context(const tls_settings& settings);
  tls_context(ssl_ctx_st* ctx, std::string server_name, bool has_client_cert);
  ssl_ctx_st* ctx_;
  std::string server_name_;
  bool has_client_cert_;
};

/// Builds the context. Failures name the field ("cacert", "cert", "key") and what was wrong
/// with it (unreadable file, no PEM certificate, key does not match the certificate, ...).
result<std::shared_ptr<const tls_context>> make_tls_context(const tls_settings& settings);

/// The context for an https:// peer configured without any TLS settings: system CAs, no
/// client certificate. Made once per process.
result<std::shared_ptr<const tls_context>> default_tls_context();

/// True when the text is PEM itself rather than a path to a file holding it.
bool looks_like_pem(std::string_view text);

/// The PEM text of a "PEM or file path" setting; `field` names it in the failure.
result<std::string> read_pem_source(std::string_view text, std::string_view field);

}  // namespace cssh::http
