#pragma once
// Structured logging with ContainerSSH's shape: level, stable code, message, details.
// Formats: "ljson" (one JSON object per line) and "text" (TIMESTAMP\tLEVEL\tCODE\tMESSAGE).

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace cssh::log {

// Syslog levels, most severe first (as ContainerSSH names them).
enum class level { emergency, alert, critical, error, warning, notice, info, debug };

/// Parses a syslog level name ("debug", "info", "notice", "warning", "error", ...).
bool parse_level(std::string_view name, level& out);
std::string_view level_name(level lv);

void set_level(level lv);
void set_format_json(bool json);
bool enabled(level lv);

/// Writes one log line to stderr. Thread-safe. `details` is an object of extra fields.
void write(level lv, std::string_view code, std::string_view message,
           const nlohmann::json& details = nlohmann::json::object());

inline void error(std::string_view code, std::string_view msg, const nlohmann::json& d = nlohmann::json::object()) {
  write(level::error, code, msg, d);
}
inline void warning(std::string_view code, std::string_view msg, const nlohmann::json& d = nlohmann::json::object()) {
  write(level::warning, code, msg, d);
}
inline void notice(std::string_view code, std::string_view msg, const nlohmann::json& d = nlohmann::json::object()) {
  write(level::notice, code, msg, d);
}
inline void info(std::string_view code, std::string_view msg, const nlohmann::json& d = nlohmann::json::object()) {
  write(level::info, code, msg, d);
}
inline void debug(std::string_view code, std::string_view msg, const nlohmann::json& d = nlohmann::json::object()) {
  if (enabled(level::debug)) write(level::debug, code, msg, d);
}

}  // namespace cssh::log
