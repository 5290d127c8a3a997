#pragma once
// Structured logging with ContainerSSH's shape: level, stable code, message, details.
// Formats: "ljson" (one JSON object per line: timestamp, level, code, message, details) and
// "text" (TIMESTAMP\tLEVEL\tCODE\tMESSAGE[\tDETAILS]). Every code is listed in docs/codes.md.
// Destinations: stdout (the default), a file (reopened on SIGHUP for logrotate), or syslog
// (a Unix datagram socket such as /dev/log, or udp://host:port).
//
// Never pass secrets (passwords, keys, sensitive metadata) in a message or its details: the
// logger cannot tell them apart.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace cssh::log {

// Syslog levels, most severe first (their numbers are the syslog severities 0-7).
enum class level { emergency, alert, critical, error, warning, notice, info, debug };

/// Parses a syslog level name as ContainerSSH writes them ("debug", "info", "notice", "warning",
/// "error", "crit", "alert", "emerg"), and the long forms ("critical", "emergency", "warn").
bool parse_level(std::string_view name, level& out);
/// ContainerSSH's (syslog's) name: "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug".
std::string_view level_name(level lv);

void set_level(level lv);
void set_format_json(bool json);
bool enabled(level lv);

/// Writes one log line to the destination. Thread-safe. `details` is an object of extra fields.
void write(level lv, std::string_view code, std::string_view message,
           const nlohmann::json& details = nlohmann::json::object());

// --- destinations (call at start-up, before other threads log) ----------------------------

/// Lines go to standard output (the default).
void to_stdout();
/// Lines are appended to `path` (created with mode 0640 if absent). Fails naming the file.
result<void> to_file(const std::string& path);

struct syslog_target {
  std::string destination = "/dev/log";  // a Unix datagram socket path, or "udp://host:port"
  int facility = 4;                      // auth
  std::string tag = "ContainerSSH";
  bool pid = false;
};
/// Lines go to syslog as `<PRI>TIMESTAMP [HOST ]TAG[[PID]]: LINE` (RFC 3164; the host only over
/// UDP), PRI = facility * 8 + severity. Fails when the socket cannot be opened or the address
/// is malformed. A syslog that goes away later is reconnected; lines it refuses go to stderr.
result<void> to_syslog(const syslog_target& target);
/// A syslog facility's number (kern 0, user 1, ..., auth 4, ..., local0 16 ... local7 23), or -1.
int syslog_facility(std::string_view name);

/// Opens the log file again under its path (for SIGHUP after logrotate moved it). A no-op for
/// the other destinations. On failure the old file stays in use.
result<void> reopen();

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
