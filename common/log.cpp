#include "common/log.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "common/log_sink.hpp"

namespace cssh::log {
namespace {

// ContainerSSH's names for the syslog severities, in severity order.
constexpr std::array<std::string_view, 8> level_names = {"emerg", "alert",  "crit", "error",
                                                         "warning", "notice", "info", "debug"};

std::atomic<int> current_level{static_cast<int>(level::notice)};
std::atomic<bool> json_format{false};

std::string timestamp_now() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto micros = duration_cast<microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros));
  return buf;
}

}  // namespace

bool parse_level(std::string_view name, level& out) {
  for (std::size_t i = 0; i < level_names.size(); ++i) {
    if (level_names[i] == name) {
      out = static_cast<level>(i);
      return true;
    }
  }
  // The long forms and the alias operators type.
  if (name == "emergency") { out = level::emergency; return true; }
  if (name == "critical") { out = level::critical; return true; }
  if (name == "warn") { out = level::warning; return true; }
  return false;
}

std::string_view level_name(level lv) { return level_names[static_cast<std::size_t>(lv)]; }

void set_level(level lv) { current_level = static_cast<int>(lv); }
void set_format_json(bool json) { json_format = json; }
bool enabled(level lv) { return static_cast<int>(lv) <= current_level.load(std::memory_order_relaxed); }

void write(level lv, std::string_view code, std::string_view message, const nlohmann::json& details) {
  if (!enabled(lv)) return;
  std::string line;
  if (json_format) {
    nlohmann::json j{{"timestamp", timestamp_now()},
                     {"level", level_name(lv)},
                     {"code", code},
                     {"message", message}};
    if (!details.empty()) j["details"] = details;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = timestamp_now();
    line += '\t';
    line += level_name(lv);
    line += '\t';
    line += code;
    line += '\t';
    // One event, one line: a newline in a message (a username, an Engine's error) must not
    // start a forged line of its own.
    for (char c : message) {
      if (c == '\n')
        line += "\\n";
      else if (c == '\r')
        line += "\\r";
      else
        line += c;
    }
    if (!details.empty()) {
      line += '\t';
      line += details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }
  detail::deliver(lv, line);
}

}  // namespace cssh::log
