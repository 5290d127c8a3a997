#pragma once
// The signal names RFC 4254 (6.9, 6.10) defines, without the "SIG" prefix, and their numbers
// on Linux — for `signal` requests in and `exit-signal` reports out.

#include <optional>
#include <string>
#include <string_view>

namespace cssh::ssh {

bool is_rfc4254_signal(std::string_view name);
/// Linux signal number for an RFC 4254 name ("TERM" -> 15).
std::optional<int> signal_number(std::string_view name);
/// RFC 4254 name for a Linux signal number, if it has one.
std::optional<std::string> signal_name(int number);

}  // namespace cssh::ssh
