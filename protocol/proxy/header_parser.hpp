#pragma once
// The PROXY protocol (HAProxy's, versions 1 and 2): the header a load balancer puts in front of
// a TCP stream to say which client it relays. A pure parser of bytes, no sockets: the listener
// feeds it what it has read so far and learns whether the header is complete, how long it was,
// and which addresses it carries.
//
// Accepted: v1 "PROXY TCP4|TCP6|UNKNOWN ...\r\n" (at most 107 bytes, the spec's limit), v2
// binary headers with the PROXY or LOCAL command over TCP/IPv4, TCP/IPv6, UNSPEC or UNIX
// (the last two carry no address we can use). Everything else (UDP, unknown versions or
// commands, bad addresses, oversized headers) is an error naming what is wrong.

#include <cstddef>
#include <string>
#include <string_view>

namespace cssh::proxy_protocol {

/// The longest v1 header, CRLF included (spec section 2.1).
inline constexpr std::size_t max_v1_length = 107;
/// v2: the fixed part, and the most address + TLV bytes we accept after it. The spec allows up
/// to 65535; load balancers send 12 or 36 bytes of addresses plus a few TLVs, and a peer that
/// sends kilobytes is not a load balancer we want to wait for.
inline constexpr std::size_t v2_fixed_length = 16;
inline constexpr std::size_t max_v2_payload = 1024;
/// Enough bytes to tell a v2 signature from a v1 "PROXY " and from anything else.
inline constexpr std::size_t signature_length = 12;

enum class status {
  need_more,  // a valid prefix so far: read more (up to the limits above)
  complete,   // `header` is filled in
  invalid     // not a PROXY header, or a malformed one: `error` says why
};

struct header {
  int version = 0;            // 1 or 2
  std::size_t length = 0;     // bytes the header occupies at the start of the stream
  /// True when the header carries client addresses (v1 TCP4/TCP6, v2 PROXY over TCP). False for
  /// v1 UNKNOWN, v2 LOCAL (the balancer's own health check) and v2 UNSPEC/UNIX: the connection
  /// is then described by the socket's own addresses.
  bool has_addresses = false;
  bool ipv6 = false;
  std::string source_ip;  // textual, e.g. "192.0.2.7" or "2001:db8::1"
  unsigned source_port = 0;
  std::string destination_ip;
  unsigned destination_port = 0;
};

struct parse_result {
  proxy_protocol::status status = status::need_more;
  proxy_protocol::header header;
  std::string error;
};

/// Parses the start of `bytes`, which holds everything read from the stream so far. Bytes past
/// the header (the client's own data) are left alone: `header.length` says where they begin.
parse_result parse(std::string_view bytes);

/// How many more bytes may still be needed at most, given what is read so far (for reading
/// without ever consuming past the header). Only meaningful while parse() says need_more.
std::size_t bytes_wanted(std::string_view bytes);

/// "ip:port" for IPv4, "[ip]:port" for IPv6 (the form the rest of the server uses).
std::string describe_source(const header& h);
std::string describe_destination(const header& h);

}  // namespace cssh::proxy_protocol
