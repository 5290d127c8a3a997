#include "protocol/proxy/header_parser.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace cssh::proxy_protocol {
namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::array<unsigned char, signature_length> v2_signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                                       0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
// The shortest v1 header ("PROXY UNKNOWN\r\n") and the v2 fixed part: a reader can always take
// this many bytes before looking, without reading into the client's own data.
constexpr std::size_t min_header_length = 15;

parse_result invalid(std::string why) {
  parse_result r;
  r.status = status::invalid;
  r.error = std::move(why);
  return r;
}

bool is_v2_prefix(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size() && i < signature_length; ++i) {
    if (static_cast<unsigned char>(bytes[i]) != v2_signature[i]) return false;
  }
  return true;
}

bool is_v1_prefix(std::string_view bytes) {
  std::size_t n = std::min(bytes.size(), v1_prefix.size());
  return bytes.substr(0, n) == v1_prefix.substr(0, n);
}

/// Printable form of a few leading bytes for error messages (never more than 16).
std::string preview(std::string_view bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < 16; ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    auto space = line.find(' ', start);
    parts.push_back(line.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start));
    if (space == std::string_view::npos) return parts;
    start = space + 1;
  }
}

bool parse_port(std::string_view text, unsigned& port) {
  if (text.empty() || text.size() > 5) return false;
  if (text.size() > 1 && text[0] == '0') return false;  // the spec's decimal has no leading zeroes
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return false;
  port = value;
  return true;
}

/// Checks a textual address of the given family and returns it in canonical form.
bool parse_ip(std::string_view text, bool ipv6, std::string& out) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  std::string copy(text);
  unsigned char raw[sizeof(in6_addr)];
  int family = ipv6 ? AF_INET6 : AF_INET;
  if (inet_pton(family, copy.c_str(), raw) != 1) return false;
  char canonical[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, raw, canonical, sizeof canonical);
  out = canonical;
  return true;
}

parse_result parse_v1(std::string_view bytes) {
  auto crlf = bytes.find("\r\n");
  if (crlf == std::string_view::npos) {
    if (bytes.size() >= max_v1_length) {
      return invalid("PROXY v1 header has no CRLF within " + std::to_string(max_v1_length) + " bytes");
    }
    // A lone LF, or a CR followed by anything but LF, can never become a valid line.
    auto lf = bytes.find('\n');
    auto cr = bytes.find('\r');
    if (lf != std::string_view::npos || (cr != std::string_view::npos && cr + 1 < bytes.size())) {
      return invalid("PROXY v1 header line is not ended by CRLF");
    }
    parse_result more;
    return more;
  }
  if (crlf + 2 > max_v1_length) {
    return invalid("PROXY v1 header is longer than " + std::to_string(max_v1_length) + " bytes");
  }
  std::string_view line = bytes.substr(v1_prefix.size(), crlf - v1_prefix.size());
  if (line.find_first_of("\r\n") != std::string_view::npos) return invalid("PROXY v1 header contains a stray CR or LF");
  parse_result r;
  r.status = status::complete;
  r.header.version = 1;
  r.header.length = crlf + 2;
  auto parts = split_spaces(line);
  if (parts[0] == "UNKNOWN") return r;  // the rest of the line is to be ignored (spec 2.1)
  if (parts[0] != "TCP4" && parts[0] != "TCP6") {
    return invalid("PROXY v1 protocol \"" + preview(parts[0]) + "\" is not TCP4, TCP6 or UNKNOWN");
  }
  r.header.ipv6 = parts[0] == "TCP6";
  if (parts.size() != 5) {
    return invalid("PROXY v1 " + std::string(parts[0]) +
                   " header needs exactly: source address, destination address, source port, destination port "
                   "separated by single spaces");
  }
  const char* family = r.header.ipv6 ? "IPv6" : "IPv4";
  if (!parse_ip(parts[1], r.header.ipv6, r.header.source_ip)) {
    return invalid("PROXY v1 source address \"" + preview(parts[1]) + "\" is not an " + family + " address");
  }
  if (!parse_ip(parts[2], r.header.ipv6, r.header.destination_ip)) {
    return invalid("PROXY v1 destination address \"" + preview(parts[2]) + "\" is not an " + family + " address");
  }
  if (!parse_port(parts[3], r.header.source_port)) {
    return invalid("PROXY v1 source port \"" + preview(parts[3]) + "\" is not a number in 0-65535");
  }
  if (!parse_port(parts[4], r.header.destination_port)) {
    return invalid("PROXY v1 destination port \"" + preview(parts[4]) + "\" is not a number in 0-65535");
  }
  r.header.has_addresses = true;
  return r;
}

unsigned read_be16(const unsigned char* p) { return (static_cast<unsigned>(p[0]) << 8) | p[1]; }

std::string ip_text(const unsigned char* raw, bool ipv6) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, raw, text, sizeof text);
  return text;
}

/// The TLVs after the addresses must tile the rest of the header exactly.
bool tlvs_well_formed(const unsigned char* p, std::size_t size) {
  std::size_t at = 0;
  while (at < size) {
    if (size - at < 3) return false;
    std::size_t value_length = read_be16(p + at + 1);
    if (size - at - 3 < value_length) return false;
    at += 3 + value_length;
  }
  return true;
}

parse_result parse_v2(std::string_view bytes) {
  if (bytes.size() < v2_fixed_length) return {};
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  unsigned version = p[12] >> 4;
  unsigned command = p[12] & 0x0F;
  unsigned family = p[13] >> 4;
  unsigned transport = p[13] & 0x0F;
  std::size_t payload = read_be16(p + 14);
  if (version != 2) return invalid("PROXY v2 header has version " + std::to_string(version) + ", expected 2");
  if (command > 1) return invalid("PROXY v2 command " + std::to_string(command) + " is neither LOCAL nor PROXY");
  if (payload > max_v2_payload) {
    return invalid("PROXY v2 header announces " + std::to_string(payload) + " bytes of addresses and TLVs (at most " +
                   std::to_string(max_v2_payload) + " accepted)");
  }
  if (bytes.size() < v2_fixed_length + payload) return {};
  parse_result r;
  r.status = status::complete;
  r.header.version = 2;
  r.header.length = v2_fixed_length + payload;
  if (family > 3) return invalid("PROXY v2 address family " + std::to_string(family) + " is unknown");
  if (transport > 2) return invalid("PROXY v2 transport " + std::to_string(transport) + " is unknown");
  if (command == 0) return r;  // LOCAL: the balancer speaking for itself (a health check)
  if (transport == 2) return invalid("PROXY v2 header is for a datagram (UDP) connection, not a stream");
  const unsigned char* body = p + v2_fixed_length;
  std::size_t address_length = 0;
  if (family == 1 || family == 2) {
    if (transport != 1) return invalid("PROXY v2 header has an IP family with an unspecified transport");
    r.header.ipv6 = family == 2;
    address_length = r.header.ipv6 ? 36 : 12;
    if (payload < address_length) {
      return invalid(std::string("PROXY v2 ") + (r.header.ipv6 ? "TCP6" : "TCP4") + " header is " +
                     std::to_string(payload) + " bytes long, shorter than its addresses (" +
                     std::to_string(address_length) + ")");
    }
    std::size_t ip_size = r.header.ipv6 ? 16 : 4;
    r.header.source_ip = ip_text(body, r.header.ipv6);
    r.header.destination_ip = ip_text(body + ip_size, r.header.ipv6);
    r.header.source_port = read_be16(body + 2 * ip_size);
    r.header.destination_port = read_be16(body + 2 * ip_size + 2);
    r.header.has_addresses = true;
  } else if (family == 3) {
    // UNIX sockets: two 108-byte paths; nothing a client address can be made of.
    address_length = 216;
    if (payload < address_length) return invalid("PROXY v2 UNIX header is shorter than its addresses (216)");
  }
  // UNSPEC (family 0): no addresses; everything in the payload is TLVs.
  if (!tlvs_well_formed(body + address_length, payload - address_length)) {
    return invalid("PROXY v2 header's TLVs do not fit its announced length");
  }
  return r;
}

}  // namespace

parse_result parse(std::string_view bytes) {
  if (bytes.empty()) return {};
  if (is_v2_prefix(bytes)) {
    if (bytes.size() < signature_length) return {};
    return parse_v2(bytes);
  }
  if (is_v1_prefix(bytes)) {
    if (bytes.size() < v1_prefix.size()) return {};
    return parse_v1(bytes);
  }
  return invalid("no PROXY protocol header: the connection starts with \"" + preview(bytes) + "\"");
}

std::size_t bytes_wanted(std::string_view bytes) {
  if (bytes.size() < min_header_length) return min_header_length - bytes.size();
  if (is_v2_prefix(bytes)) {
    if (bytes.size() < v2_fixed_length) return v2_fixed_length - bytes.size();
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t total = v2_fixed_length + read_be16(p + 14);
    return total > bytes.size() ? total - bytes.size() : 0;
  }
  // v1: the line's end is only known once seen, so one byte at a time (at most 107 in all).
  return 1;
}

std::string describe_source(const header& h) {
  return h.ipv6 ? "[" + h.source_ip + "]:" + std::to_string(h.source_port)
                : h.source_ip + ":" + std::to_string(h.source_port);
}

std::string describe_destination(const header& h) {
  return h.ipv6 ? "[" + h.destination_ip + "]:" + std::to_string(h.destination_port)
                : h.destination_ip + ":" + std::to_string(h.destination_port);
}

}  // namespace cssh::proxy_protocol
