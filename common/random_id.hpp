#pragma once
// 128 random bits as 32 hex digits: connection ids, and the markers by which signals find a
// connection-mode program. Not secrets: unpredictable enough that one user cannot guess another's.

#include <cstdio>
#include <mutex>
#include <random>
#include <string>

namespace cssh {

inline std::string random_hex_id() {
  static std::mutex mutex;
  static std::mt19937_64 generator{std::random_device{}()};
  std::lock_guard<std::mutex> guard(mutex);
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(generator()),
                static_cast<unsigned long long>(generator()));
  return buf;
}

}  // namespace cssh
