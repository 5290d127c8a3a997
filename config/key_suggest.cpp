#include "config/key_suggest.hpp"

#include <algorithm>
#include <cctype>

namespace cssh::config::detail {
namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

}  // namespace

std::size_t key_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment: Levenshtein plus adjacent swaps, because "contianer" is one slip, not two.
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::string closest_key(std::string_view given, const std::vector<std::string_view>& known,
                        std::size_t max_distance) {
  std::string best;
  std::size_t best_distance = max_distance + 1;
  for (std::string_view candidate : known) {
    std::size_t dist = key_distance(given, candidate);
    if (dist < best_distance) {
      best_distance = dist;
      best = std::string(candidate);
    }
  }
  return best;
}

}  // namespace cssh::config::detail
