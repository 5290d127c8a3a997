#pragma once
// Internal to common/log: where formatted lines go (stdout, a file, syslog).

#include <string_view>

#include "common/log.hpp"

namespace cssh::log::detail {

/// Delivers one formatted line (no trailing newline) logged at `lv`. Thread-safe.
void deliver(level lv, std::string_view line);

}  // namespace cssh::log::detail
