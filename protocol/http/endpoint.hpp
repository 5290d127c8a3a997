#pragma once
// Where an HTTP peer lives: a Unix socket (Docker's default) or host:port over TCP.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace cssh::http {

class tls_context;  // protocol/http/tls.hpp

struct endpoint {
  enum class transport { unix_socket, tcp };
  transport kind = transport::tcp;
  std::string socket_path;  // unix_socket only
  std::string host;         // tcp only
  std::uint16_t port = 0;   // tcp only
  /// TLS over TCP: https:// URLs, or a Docker host given with cert/key/cacert.
  bool tls = false;
  /// The peer's TLS settings (make_tls_context); null with tls = system CAs, no client cert.
  /// Each client (the Engine, every webhook) brings its own.
  std::shared_ptr<const tls_context> tls_ctx;
  /// Path prefix of a webhook URL ("http://h:p/auth" -> "/auth"), no trailing slash.
  std::string base_path;

  /// Value for the Host header ("localhost" for Unix sockets, as Docker's client sends).
  std::string host_header() const;
  /// Human-readable form for logs and errors.
  std::string describe() const;
};

/// Docker's `host`: "unix:///path", "tcp://host:port", or the seed's bare "host:port".
result<endpoint> parse_docker_host(std::string_view text);

/// A webhook URL: "http://host[:port][/path]" or "https://...".
result<endpoint> parse_url(std::string_view text);

}  // namespace cssh::http
