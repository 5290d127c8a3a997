#pragma once
// Reads a PROXY protocol header from a freshly accepted socket, and not one byte more: what
// follows belongs to libssh. Blocking with a deadline, so it runs on a thread of its own (see
// listener.cpp), never on the accept thread.

#include <chrono>
#include <string>

#include "common/result.hpp"
#include "protocol/proxy/header_parser.hpp"

namespace cssh::ssh {

/// Why no header could be had; each has its own log code (docs/codes.md).
enum class proxy_read_failure {
  missing,  // the stream starts like SSH ("SSH-"): a client that bypassed the balancer (PROXY_HEADER_MISSING)
  invalid,  // malformed or unsupported header (PROXY_HEADER_INVALID)
  timeout,  // not complete within the deadline (PROXY_HEADER_TIMEOUT)
  closed    // the peer closed first; nothing at all sent is a plain TCP health check (PROXY_HEADER_CLOSED)
};

struct proxy_read_error {
  proxy_read_failure kind;
  std::string message;
  std::size_t bytes_read = 0;
};

struct proxy_read_outcome {
  bool ok = false;
  proxy_protocol::header header;  // when ok
  proxy_read_error error;         // when not
};

/// Reads the header from `fd` within `timeout`.
proxy_read_outcome read_proxy_header(int fd, std::chrono::milliseconds timeout);

/// The log code for a failure kind.
const char* code_of(proxy_read_failure kind);
/// The `reason` label of cssh_proxy_protocol_rejected_total for a failure kind.
const char* metric_reason_of(proxy_read_failure kind);

}  // namespace cssh::ssh
