#include "common/cidr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace cssh {
namespace {

struct ip_bytes {
  bool ipv6 = false;
  std::array<std::uint8_t, 16> bytes{};
};

bool parse_ip(const std::string& text, ip_bytes& out) {
  if (inet_pton(AF_INET, text.c_str(), out.bytes.data()) == 1) {
    out.ipv6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), out.bytes.data()) == 1) {
    out.ipv6 = true;
    return true;
  }
  return false;
}

/// ::ffff:a.b.c.d -> a.b.c.d
void unmap_ipv4(ip_bytes& ip) {
  static const std::uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (!ip.ipv6 || std::memcmp(ip.bytes.data(), mapped_prefix, 12) != 0) return;
  std::memmove(ip.bytes.data(), ip.bytes.data() + 12, 4);
  std::memset(ip.bytes.data() + 4, 0, 12);
  ip.ipv6 = false;
}

}  // namespace

result<cidr> cidr::parse(const std::string& text) {
  auto slash = text.find('/');
  std::string address = text.substr(0, slash);
  ip_bytes ip;
  if (!parse_ip(address, ip)) {
    return fail("CIDR_INVALID", "\"" + text + "\" is not an IP address or CIDR range (e.g. 10.0.0.0/8, 2001:db8::/32)");
  }
  unsigned max_prefix = ip.ipv6 ? 128 : 32;
  unsigned prefix = max_prefix;
  if (slash != std::string::npos) {
    std::string digits = text.substr(slash + 1);
    bool ok = !digits.empty() && digits.size() <= 3;
    unsigned value = 0;
    for (char c : digits) {
      ok = ok && c >= '0' && c <= '9';
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (!ok || value > max_prefix) {
      return fail("CIDR_INVALID", "\"" + text + "\": the prefix length must be a number from 0 to " +
                                      std::to_string(max_prefix));
    }
    prefix = value;
  }
  cidr c;
  c.ipv6_ = ip.ipv6;
  c.bytes_ = ip.bytes;
  c.prefix_ = prefix;
  c.text_ = text;
  // Host bits set in the range's address ("10.1.2.3/8") are ignored, as everyone does.
  for (unsigned bit = prefix; bit < max_prefix; ++bit) c.bytes_[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  return c;
}

bool cidr::contains(const std::string& address) const {
  ip_bytes ip;
  if (!parse_ip(address, ip)) return false;
  if (!ipv6_) unmap_ipv4(ip);
  if (ip.ipv6 != ipv6_) return false;
  unsigned full = prefix_ / 8;
  if (std::memcmp(ip.bytes.data(), bytes_.data(), full) != 0) return false;
  unsigned rest = prefix_ % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xFF00u >> rest);
  return (ip.bytes[full] & mask) == (bytes_[full] & mask);
}

bool any_contains(const std::vector<cidr>& ranges, const std::string& address) {
  for (const auto& range : ranges) {
    if (range.contains(address)) return true;
  }
  return false;
}

}  // namespace cssh
