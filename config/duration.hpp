#pragma once
// Durations as ContainerSSH writes them: Go duration strings ("60s", "1m30s", "500ms", "1h")
// or a bare integer meaning nanoseconds.

#include <chrono>
#include <string_view>

#include "common/result.hpp"

namespace cssh::config {

result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace cssh::config
