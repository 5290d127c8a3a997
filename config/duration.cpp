#include "config/duration.hpp"

#include <cstdint>
#include <limits>
#include <string>

namespace cssh::config {
namespace {

using nanos_t = std::int64_t;

constexpr nanos_t ns_per_ms = 1'000'000;

failure bad(std::string_view text, std::string_view why) {
  return fail("CONFIG_INVALID", "invalid duration \"" + std::string(text) + "\": " + std::string(why));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// Nanoseconds per unit, as Go's time.ParseDuration spells them; 0 for an unknown unit.
nanos_t unit_nanos(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return 1'000;  // u, micro sign, greek mu
  if (unit == "ms") return 1'000'000;
  if (unit == "s") return 1'000'000'000;
  if (unit == "m") return 60LL * 1'000'000'000;
  if (unit == "h") return 3600LL * 1'000'000'000;
  return 0;
}

/// Rounds up so a configured timeout never fires earlier than asked (and "500us" is not 0).
std::chrono::milliseconds to_millis(nanos_t ns) {
  return std::chrono::milliseconds(ns / ns_per_ms + (ns % ns_per_ms != 0 ? 1 : 0));
}

}  // namespace

result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::string_view rest = text;
  if (rest.empty()) return bad(text, "empty");
  if (rest.front() == '-') return bad(text, "must not be negative");
  if (rest.front() == '+') rest.remove_prefix(1);
  if (rest.empty()) return bad(text, "no number");

  // A bare integer is nanoseconds: that is what Go's yaml decoder makes of `timeout: 60000000000`.
  bool all_digits = true;
  for (char c : rest) all_digits = all_digits && is_digit(c);
  if (all_digits) {
    nanos_t ns = 0;
    for (char c : rest) {
      if (ns > (std::numeric_limits<nanos_t>::max() - (c - '0')) / 10) return bad(text, "too large");
      ns = ns * 10 + (c - '0');
    }
    return to_millis(ns);
  }

  // Otherwise one or more <number><unit> groups, e.g. "1h2m3.5s".
  unsigned __int128 total = 0;
  constexpr unsigned __int128 limit = static_cast<unsigned __int128>(std::numeric_limits<nanos_t>::max());
  while (!rest.empty()) {
    unsigned __int128 whole = 0;
    unsigned __int128 frac = 0;
    unsigned __int128 frac_scale = 1;
    std::size_t digits = 0;
    std::size_t i = 0;
    for (; i < rest.size() && is_digit(rest[i]); ++i, ++digits) {
      whole = whole * 10 + static_cast<unsigned>(rest[i] - '0');
      if (whole > limit) return bad(text, "too large");
    }
    if (i < rest.size() && rest[i] == '.') {
      ++i;
      for (; i < rest.size() && is_digit(rest[i]); ++i, ++digits) {
        // Digits past nanosecond precision of the largest unit cannot change the result.
        if (frac_scale < 1'000'000'000'000'000'000ULL) {
          frac = frac * 10 + static_cast<unsigned>(rest[i] - '0');
          frac_scale *= 10;
        }
      }
    }
    if (digits == 0) return bad(text, "expected a number before \"" + std::string(rest) + "\"");
    std::size_t unit_end = i;
    while (unit_end < rest.size() && !is_digit(rest[unit_end]) && rest[unit_end] != '.') ++unit_end;
    std::string_view unit = rest.substr(i, unit_end - i);
    if (unit.empty()) return bad(text, "missing unit (use ns, us, ms, s, m or h)");
    nanos_t per_unit = unit_nanos(unit);
    if (per_unit == 0) return bad(text, "unknown unit \"" + std::string(unit) + "\" (use ns, us, ms, s, m or h)");
    total += whole * static_cast<unsigned __int128>(per_unit) +
             frac * static_cast<unsigned __int128>(per_unit) / frac_scale;
    if (total > limit) return bad(text, "too large");
    rest.remove_prefix(unit_end);
  }
  return to_millis(static_cast<nanos_t>(total));
}

}  // namespace cssh::config
