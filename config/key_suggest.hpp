#pragma once
// "Did you mean ...?" for mistyped configuration keys.

#include <string>
#include <string_view>
#include <vector>

namespace cssh::config::detail {

/// Case-insensitive edit distance (insert, delete, substitute, swap of neighbours) between two keys.
std::size_t key_distance(std::string_view a, std::string_view b);

/// The known key closest to `given` if it is within `max_distance` edits, else "".
std::string closest_key(std::string_view given, const std::vector<std::string_view>& known,
                        std::size_t max_distance = 2);

}  // namespace cssh::config::detail
