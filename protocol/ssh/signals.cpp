#include "protocol/ssh/signals.hpp"

#include <array>
#include <utility>

namespace cssh::ssh {
namespace {

constexpr std::array<std::pair<std::string_view, int>, 13> signals{{
    {"ABRT", 6}, {"ALRM", 14}, {"FPE", 8}, {"HUP", 1}, {"ILL", 4}, {"INT", 2}, {"KILL", 9},
    {"PIPE", 13}, {"QUIT", 3}, {"SEGV", 11}, {"TERM", 15}, {"USR1", 10}, {"USR2", 12},
}};

}  // namespace

bool is_rfc4254_signal(std::string_view name) { return signal_number(name).has_value(); }

std::optional<int> signal_number(std::string_view name) {
  for (const auto& [n, number] : signals)
    if (n == name) return number;
  return std::nullopt;
}

std::optional<std::string> signal_name(int number) {
  for (const auto& [n, num] : signals)
    if (num == number) return std::string(n);
  return std::nullopt;
}

}  // namespace cssh::ssh
