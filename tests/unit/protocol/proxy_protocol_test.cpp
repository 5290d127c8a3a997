#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/proxy/header_parser.hpp"

namespace pp = cssh::proxy_protocol;

namespace {

const std::string v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);

/// A v2 header: signature, version/command, family/transport, length, then `payload`.
std::string v2(unsigned char ver_cmd, unsigned char family, const std::string& payload) {
  std::string h = v2_signature;
  h += static_cast<char>(ver_cmd);
  h += static_cast<char>(family);
  h += static_cast<char>((payload.size() >> 8) & 0xFF);
  h += static_cast<char>(payload.size() & 0xFF);
  return h + payload;
}

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out += static_cast<char>(v);
  return out;
}

const std::string tcp4_addresses = bytes({192, 0, 2, 7, 10, 0, 0, 1, 0xC8, 0x12, 0x00, 0x16});  // :51218 -> :22

}  // namespace

TEST_CASE("v1 TCP4 header: addresses, ports, and the length that leaves the SSH bytes unread") {
  std::string header = "PROXY TCP4 192.0.2.7 10.0.0.1 51218 22\r\n";
  auto r = pp::parse(header + "SSH-2.0-OpenSSH_9.2\r\n");
  REQUIRE(r.status == pp::status::complete);
  CHECK(r.header.version == 1);
  CHECK(r.header.length == header.size());
  CHECK(r.header.has_addresses);
  CHECK_FALSE(r.header.ipv6);
  CHECK(r.header.source_ip == "192.0.2.7");
  CHECK(r.header.source_port == 51218);
  CHECK(r.header.destination_ip == "10.0.0.1");
  CHECK(r.header.destination_port == 22);
  CHECK(pp::describe_source(r.header) == "192.0.2.7:51218");
  CHECK(pp::describe_destination(r.header) == "10.0.0.1:22");
}

TEST_CASE("v1 TCP6 header is bracketed when described, and addresses are canonical") {
  auto r = pp::parse("PROXY TCP6 2001:DB8:0:0::7 ::1 65535 2222\r\n");
  REQUIRE(r.status == pp::status::complete);
  CHECK(r.header.ipv6);
  CHECK(r.header.source_ip == "2001:db8::7");
  CHECK(pp::describe_source(r.header) == "[2001:db8::7]:65535");
  CHECK(pp::describe_destination(r.header) == "[::1]:2222");
}

TEST_CASE("v1 UNKNOWN carries no address, with or without the rest of the line") {
  for (std::string h : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"}) {
    auto r = pp::parse(h);
    REQUIRE(r.status == pp::status::complete);
    CHECK_FALSE(r.header.has_addresses);
    CHECK(r.header.length == h.size());
  }
}

TEST_CASE("v1 prefixes ask for more bytes, byte by byte") {
  std::string header = "PROXY TCP4 192.0.2.7 10.0.0.1 51218 22\r\n";
  for (std::size_t n = 1; n < header.size(); ++n) {
    auto r = pp::parse(header.substr(0, n));
    INFO("prefix length " << n);
    CHECK(r.status == pp::status::need_more);
    CHECK(pp::bytes_wanted(header.substr(0, n)) >= 1);
  }
  // Before 15 bytes the reader may take the rest of the shortest header at once.
  CHECK(pp::bytes_wanted("PROX") == 11);
  CHECK(pp::bytes_wanted(header.substr(0, 20)) == 1);
}

TEST_CASE("malformed v1 headers are refused with the reason") {
  struct bad_case {
    std::string bytes;
    std::string mentions;
  };
  for (const auto& c : std::initializer_list<bad_case>{
           {"PROXY TCP4 192.0.2.7 10.0.0.1 51218\r\n", "separated by single spaces"},
           {"PROXY TCP4 192.0.2.7  10.0.0.1 51218 22\r\n", "single spaces"},
           {"PROXY TCP4 192.0.2.7 10.0.0.1 51218 22 \r\n", "single spaces"},
           {"PROXY TCP4 ::1 10.0.0.1 1 22\r\n", "source address"},
           {"PROXY TCP6 192.0.2.7 ::1 1 22\r\n", "not an IPv6 address"},
           {"PROXY TCP4 192.0.2.7 10.0.0.300 1 22\r\n", "destination address"},
           {"PROXY TCP4 192.0.2.7 10.0.0.1 65536 22\r\n", "source port"},
           {"PROXY TCP4 192.0.2.7 10.0.0.1 022 22\r\n", "source port"},
           {"PROXY TCP4 192.0.2.7 10.0.0.1 1 -2\r\n", "destination port"},
           {"PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n", "not TCP4, TCP6 or UNKNOWN"},
           {"PROXY TCP4 192.0.2.7 10.0.0.1 1 2\n", "CRLF"},
           {"PROXY TCP4 192.0.2.7\r10.0.0.1 1 2\r\n", "stray CR"},
           {"PROXY " + std::string(120, 'A'), "no CRLF within 107 bytes"},
           {"PROXY UNKNOWN " + std::string(92, 'A') + "\r\n", "longer than 107"},
           {"SSH-2.0-OpenSSH_9.2\r\n", "starts with \"SSH-2.0-OpenSSH_\""},
           {"GET / HTTP/1.1\r\n", "no PROXY protocol header"},
           {"proxy TCP4 192.0.2.7 10.0.0.1 1 2\r\n", "no PROXY protocol header"},
       }) {
    auto r = pp::parse(c.bytes);
    INFO("input: " << c.bytes);
    CHECK(r.status == pp::status::invalid);
    CHECK(r.error.find(c.mentions) != std::string::npos);
  }
}

TEST_CASE("the longest legal v1 header (107 bytes) is accepted") {
  std::string h = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
  REQUIRE(h.size() == 104);
  auto r = pp::parse(h);
  CHECK(r.status == pp::status::complete);
  std::string longest = "PROXY UNKNOWN " + std::string(91, 'x') + "\r\n";
  REQUIRE(longest.size() == 107);
  CHECK(pp::parse(longest).status == pp::status::complete);
}

TEST_CASE("v2 PROXY over TCP4") {
  std::string header = v2(0x21, 0x11, tcp4_addresses);
  auto r = pp::parse(header + "SSH-2.0-x\r\n");
  REQUIRE(r.status == pp::status::complete);
  CHECK(r.header.version == 2);
  CHECK(r.header.length == 28);
  CHECK(r.header.has_addresses);
  CHECK(pp::describe_source(r.header) == "192.0.2.7:51218");
  CHECK(pp::describe_destination(r.header) == "10.0.0.1:22");
}

TEST_CASE("v2 PROXY over TCP6, followed by well-formed TLVs (as HAProxy may send)") {
  std::string addresses(16, '\0');
  addresses[0] = '\x20';
  addresses[1] = '\x01';
  addresses[2] = '\x0d';
  addresses[3] = '\xb8';
  addresses[15] = '\x07';
  std::string destination(16, '\0');
  destination[15] = '\x01';
  std::string tlvs = bytes({0x01, 0x00, 0x02, 'h', '2'}) + bytes({0x04, 0x00, 0x00});  // ALPN, NOOP
  auto r = pp::parse(v2(0x21, 0x21, addresses + destination + bytes({0x01, 0xBB, 0x08, 0xAE}) + tlvs));
  REQUIRE(r.status == pp::status::complete);
  CHECK(r.header.ipv6);
  CHECK(r.header.length == 16 + 36 + tlvs.size());
  CHECK(pp::describe_source(r.header) == "[2001:db8::7]:443");
  CHECK(pp::describe_destination(r.header) == "[::1]:2222");
}

TEST_CASE("v2 LOCAL (a balancer's own connection) and UNSPEC carry no address") {
  auto local = pp::parse(v2(0x20, 0x00, ""));
  REQUIRE(local.status == pp::status::complete);
  CHECK_FALSE(local.header.has_addresses);
  CHECK(local.header.length == 16);
  // LOCAL ignores whatever address block follows.
  auto local_with_block = pp::parse(v2(0x20, 0x11, tcp4_addresses));
  REQUIRE(local_with_block.status == pp::status::complete);
  CHECK_FALSE(local_with_block.header.has_addresses);
  CHECK(local_with_block.header.length == 28);
  auto unspec = pp::parse(v2(0x21, 0x00, ""));
  REQUIRE(unspec.status == pp::status::complete);
  CHECK_FALSE(unspec.header.has_addresses);
  auto unix_socket = pp::parse(v2(0x21, 0x31, std::string(216, '\0')));
  REQUIRE(unix_socket.status == pp::status::complete);
  CHECK_FALSE(unix_socket.header.has_addresses);
}

TEST_CASE("v2 prefixes ask for exactly the missing bytes") {
  std::string header = v2(0x21, 0x11, tcp4_addresses);
  for (std::size_t n = 1; n < header.size(); ++n) {
    INFO("prefix length " << n);
    CHECK(pp::parse(header.substr(0, n)).status == pp::status::need_more);
  }
  CHECK(pp::bytes_wanted(header.substr(0, 3)) == 12);
  CHECK(pp::bytes_wanted(header.substr(0, 15)) == 1);
  CHECK(pp::bytes_wanted(header.substr(0, 16)) == 12);
  CHECK(pp::bytes_wanted(header.substr(0, 20)) == 8);
}

TEST_CASE("malformed v2 headers are refused with the reason") {
  struct bad_case {
    std::string bytes;
    std::string mentions;
  };
  std::string too_long = v2_signature + bytes({0x21, 0x11, 0x04, 0x01});  // 1025 bytes announced
  for (const auto& c : std::initializer_list<bad_case>{
           {v2(0x11, 0x11, tcp4_addresses), "version 1, expected 2"},
           {v2(0x22, 0x11, tcp4_addresses), "command 2"},
           {too_long, "announces 1025 bytes"},
           {v2(0x21, 0x11, tcp4_addresses.substr(0, 11)), "shorter than its addresses (12)"},
           {v2(0x21, 0x21, std::string(35, '\0')), "shorter than its addresses (36)"},
           {v2(0x21, 0x12, tcp4_addresses), "datagram"},
           {v2(0x21, 0x22, std::string(36, '\0')), "datagram"},
           {v2(0x21, 0x41, tcp4_addresses), "family 4"},
           {v2(0x21, 0x13, tcp4_addresses), "transport 3"},
           {v2(0x21, 0x10, tcp4_addresses), "unspecified transport"},
           {v2(0x21, 0x31, std::string(100, '\0')), "UNIX"},
           {v2(0x21, 0x11, tcp4_addresses + bytes({0x01, 0x00, 0x05, 'a'})), "TLVs"},
           {v2(0x21, 0x11, tcp4_addresses + bytes({0x01, 0x00})), "TLVs"},
           {std::string("\r\n\r\n\0\r\nQUIX\n", 12), "no PROXY protocol header"},
       }) {
    auto r = pp::parse(c.bytes);
    INFO("expected: " << c.mentions << ", got: " << r.error);
    CHECK(r.status == pp::status::invalid);
    CHECK(r.error.find(c.mentions) != std::string::npos);
  }
}

TEST_CASE("binary garbage is described printably in the error") {
  auto r = pp::parse(bytes({0x16, 0x03, 0x01, 0x02, 0x00}));  // a TLS ClientHello
  REQUIRE(r.status == pp::status::invalid);
  CHECK(r.error.find("\\x16\\x03\\x01") != std::string::npos);
  CHECK(pp::parse("").status == pp::status::need_more);
}

TEST_CASE("mutated headers never confuse the parser (fixed seed)") {
  // Valid headers with bytes flipped, cut or appended: whatever the verdict, a complete header
  // never claims more bytes than were given, and an incomplete one always asks for more.
  std::vector<std::string> seeds = {"PROXY TCP4 192.0.2.7 10.0.0.1 51218 22\r\n",
                                    "PROXY TCP6 2001:db8::7 ::1 443 2222\r\n", "PROXY UNKNOWN\r\n",
                                    v2(0x21, 0x11, tcp4_addresses), v2(0x20, 0x00, ""),
                                    v2(0x21, 0x21, std::string(36, '\x01') + bytes({0x04, 0x00, 0x01, 0x00}))};
  std::uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1103515245u + 12345u;
    return state >> 8;
  };
  int complete = 0, invalid = 0, more = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string input = seeds[next() % seeds.size()] + "SSH-2.0-x\r\n";
    int edits = 1 + static_cast<int>(next() % 3);
    for (int e = 0; e < edits && !input.empty(); ++e) {
      std::size_t at = next() % input.size();
      switch (next() % 3) {
        case 0: input[at] = static_cast<char>(next() & 0xFF); break;
        case 1: input.resize(at); break;
        default: input.insert(at, 1, static_cast<char>(next() & 0xFF)); break;
      }
    }
    auto r = pp::parse(input);
    if (r.status == pp::status::complete) {
      ++complete;
      CHECK(r.header.length <= input.size());
      CHECK(r.header.length >= 15);
      if (r.header.has_addresses) CHECK_FALSE(r.header.source_ip.empty());
    } else if (r.status == pp::status::invalid) {
      ++invalid;
      CHECK_FALSE(r.error.empty());
    } else {
      ++more;
      CHECK(pp::bytes_wanted(input) >= 1);
      CHECK(input.size() < pp::v2_fixed_length + pp::max_v2_payload);
    }
  }
  // The mutations reach all three outcomes.
  CHECK(complete > 0);
  CHECK(invalid > 0);
  CHECK(more > 0);
}
