#include "protocol/proxy/header_reader.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace cssh::ssh {
namespace {

proxy_read_outcome failed(proxy_read_failure kind, std::string message, std::size_t bytes_read) {
  proxy_read_outcome out;
  out.error = {kind, std::move(message), bytes_read};
  return out;
}

}  // namespace

const char* code_of(proxy_read_failure kind) {
  switch (kind) {
    case proxy_read_failure::missing: return "PROXY_HEADER_MISSING";
    case proxy_read_failure::invalid: return "PROXY_HEADER_INVALID";
    case proxy_read_failure::timeout: return "PROXY_HEADER_TIMEOUT";
    case proxy_read_failure::closed: return "PROXY_HEADER_CLOSED";
  }
  return "PROXY_HEADER_INVALID";
}

const char* metric_reason_of(proxy_read_failure kind) {
  switch (kind) {
    case proxy_read_failure::missing: return "missing";
    case proxy_read_failure::invalid: return "invalid";
    case proxy_read_failure::timeout: return "timeout";
    case proxy_read_failure::closed: return "closed";
  }
  return "invalid";
}

proxy_read_outcome read_proxy_header(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string bytes;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return failed(proxy_read_failure::timeout,
                    "no complete PROXY header within " + std::to_string(timeout.count()) + "ms (" +
                        std::to_string(bytes.size()) + " bytes received)",
                    bytes.size());
    }
    pollfd pfd{fd, POLLIN, 0};
    int rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (rc < 0) {
      if (errno == EINTR) continue;
      return failed(proxy_read_failure::closed, std::string("poll failed: ") + std::strerror(errno), bytes.size());
    }
    if (rc == 0) continue;  // the deadline check above reports it
    // Only as many bytes as are surely still header, so the SSH stream behind it stays unread.
    std::size_t want = proxy_protocol::bytes_wanted(bytes);
    char chunk[proxy_protocol::v2_fixed_length + proxy_protocol::max_v2_payload];
    if (want > sizeof chunk) want = sizeof chunk;
    ssize_t n = ::recv(fd, chunk, want, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return failed(proxy_read_failure::closed,
                    std::string("reading the PROXY header failed: ") + std::strerror(errno), bytes.size());
    }
    if (n == 0) {
      return failed(proxy_read_failure::closed,
                    bytes.empty() ? "the peer closed the connection without sending anything"
                                  : "the peer closed the connection after " + std::to_string(bytes.size()) +
                                        " bytes of an incomplete PROXY header",
                    bytes.size());
    }
    bytes.append(chunk, static_cast<std::size_t>(n));
    auto parsed = proxy_protocol::parse(bytes);
    if (parsed.status == proxy_protocol::status::complete) {
      proxy_read_outcome out;
      out.ok = true;
      out.header = std::move(parsed.header);
      return out;
    }
    if (parsed.status == proxy_protocol::status::invalid) {
      const std::string_view ssh_start = "SSH-";
      bool looks_like_ssh = bytes.starts_with(ssh_start) || ssh_start.starts_with(bytes);
      return failed(looks_like_ssh ? proxy_read_failure::missing : proxy_read_failure::invalid,
                    looks_like_ssh ? "the connection speaks SSH without a PROXY header first" : parsed.error,
                    bytes.size());
    }
  }
}

}  // namespace cssh::ssh
