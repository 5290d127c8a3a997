#include <doctest/doctest.h>

#include "config/duration.hpp"

using cssh::config::parse_duration;
using std::chrono::milliseconds;

namespace {

milliseconds ok(std::string_view text) {
  auto r = parse_duration(text);
  INFO("parsing ", std::string(text));
  REQUIRE(r.ok());
  return *r;
}

std::string bad(std::string_view text) {
  auto r = parse_duration(text);
  INFO("parsing ", std::string(text));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "CONFIG_INVALID");
  return r.error().message;
}

}  // namespace

TEST_CASE("Go duration strings") {
  CHECK(ok("60s") == milliseconds(60000));
  CHECK(ok("1m30s") == milliseconds(90000));
  CHECK(ok("500ms") == milliseconds(500));
  CHECK(ok("2h") == milliseconds(7200000));
  CHECK(ok("1.5s") == milliseconds(1500));
  CHECK(ok("1h2m3s4ms") == milliseconds(3723004));
  CHECK(ok(".5s") == milliseconds(500));
  CHECK(ok("+5s") == milliseconds(5000));
  CHECK(ok("0s") == milliseconds(0));
  CHECK(ok("0") == milliseconds(0));
}

TEST_CASE("sub-millisecond values round up so a timeout is never shorter than asked") {
  CHECK(ok("100us") == milliseconds(1));
  CHECK(ok("100\xC2\xB5s") == milliseconds(1));  // micro sign
  CHECK(ok("10ns") == milliseconds(1));
  CHECK(ok("1500us") == milliseconds(2));
  CHECK(ok("1000us") == milliseconds(1));
}

TEST_CASE("a bare integer is nanoseconds") {
  CHECK(ok("60000000000") == milliseconds(60000));
  CHECK(ok("1") == milliseconds(1));
  CHECK(ok("2000000") == milliseconds(2));
}

TEST_CASE("bad durations name the text and the problem") {
  CHECK(bad("").find("empty") != std::string::npos);
  CHECK(bad("abc").find("\"abc\"") != std::string::npos);
  CHECK(bad("5x").find("unknown unit \"x\"") != std::string::npos);
  CHECK(bad("1.5").find("missing unit") != std::string::npos);
  CHECK(bad("1s5").find("missing unit") != std::string::npos);
  CHECK(bad("-5s").find("negative") != std::string::npos);
  CHECK(bad("s").find("expected a number") != std::string::npos);
  CHECK(bad("1 s").find("\"1 s\"") != std::string::npos);
  CHECK(bad("+").find("no number") != std::string::npos);
}

TEST_CASE("durations beyond Go's range are refused, not wrapped") {
  CHECK(bad("99999999999999999999").find("too large") != std::string::npos);
  CHECK(bad("3000000h").find("too large") != std::string::npos);
  CHECK(ok("2562047h") == milliseconds(2562047LL * 3600 * 1000));  // just inside int64 nanoseconds
}
