#pragma once
// IP address ranges in CIDR notation ("10.0.0.0/8", "2001:db8::/32", or a bare address), and
// whether an address falls in one. Used for ssh.proxyProtocol.allowedSources: config checks the
// notation, the listener matches accepted connections' addresses.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace cssh {

class cidr {
 public:
  /// "a.b.c.d/n" (n 0-32), "v6addr/n" (n 0-128), or an address alone (a single host).
  static result<cidr> parse(const std::string& text);
  /// `address` is textual ("192.0.2.1", "::1"); an IPv4-mapped IPv6 address ("::ffff:192.0.2.1",
  /// what a dual-stack listener sees for IPv4 clients) matches IPv4 ranges.
  bool contains(const std::string& address) const;
  const std::string& text() const { return text_; }

 private:
  bool ipv6_ = false;
  std::array<std::uint8_t, 16> bytes_{};
  unsigned prefix_ = 0;
  std::string text_;
};

/// True when `address` is in any of `ranges`.
bool any_contains(const std::vector<cidr>& ranges, const std::string& address);

}  // namespace cssh
