#include <doctest/doctest.h>

#include "common/cidr.hpp"

using cssh::cidr;

TEST_CASE("IPv4 ranges match addresses inside them only") {
  auto r = cidr::parse("10.1.0.0/16");
  REQUIRE(r.ok());
  CHECK(r->contains("10.1.0.0"));
  CHECK(r->contains("10.1.255.254"));
  CHECK_FALSE(r->contains("10.2.0.1"));
  CHECK_FALSE(r->contains("::1"));
  CHECK_FALSE(r->contains("not an address"));
  auto odd = cidr::parse("192.168.4.0/22");
  REQUIRE(odd.ok());
  CHECK(odd->contains("192.168.7.9"));
  CHECK_FALSE(odd->contains("192.168.8.1"));
}

TEST_CASE("a bare address is a single host; host bits in a range are ignored") {
  auto host = cidr::parse("127.0.0.1");
  REQUIRE(host.ok());
  CHECK(host->contains("127.0.0.1"));
  CHECK_FALSE(host->contains("127.0.0.2"));
  auto sloppy = cidr::parse("10.9.9.9/8");
  REQUIRE(sloppy.ok());
  CHECK(sloppy->contains("10.0.0.1"));
}

TEST_CASE("everything and nothing") {
  auto all4 = cidr::parse("0.0.0.0/0");
  REQUIRE(all4.ok());
  CHECK(all4->contains("203.0.113.5"));
  CHECK_FALSE(all4->contains("2001:db8::1"));
  auto all6 = cidr::parse("::/0");
  REQUIRE(all6.ok());
  CHECK(all6->contains("2001:db8::1"));
}

TEST_CASE("IPv6 ranges, and IPv4-mapped addresses against IPv4 ranges") {
  auto r = cidr::parse("2001:db8::/33");
  REQUIRE(r.ok());
  CHECK(r->contains("2001:db8:7fff::1"));
  CHECK_FALSE(r->contains("2001:db8:8000::1"));
  auto v4 = cidr::parse("127.0.0.0/8");
  REQUIRE(v4.ok());
  CHECK(v4->contains("::ffff:127.0.0.1"));
  CHECK_FALSE(v4->contains("::ffff:128.0.0.1"));
  CHECK(cssh::any_contains({*cidr::parse("10.0.0.0/8"), *v4}, "127.3.2.1"));
  CHECK_FALSE(cssh::any_contains({}, "127.3.2.1"));
}

TEST_CASE("bad notation names the problem") {
  for (const char* text : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "10.0.0/8", "example.com", ""}) {
    auto r = cidr::parse(text);
    INFO(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(std::string("\"") + text + "\"") != std::string::npos);
  }
}
