#pragma once
// The exit status a session reports when its program could not be run, decided from the
// failure's code (never from its text), as `docker run` does: 127 when the program was not
// found, 125 for every other reason the container or exec could not run it.

#include <algorithm>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "protocol/ssh/signals.hpp"

namespace cssh::actors {

inline constexpr int exit_program_not_found = 127;
inline constexpr int exit_could_not_run = 125;

/// The failure codes that mean "the program does not exist" (docker/engine_answers.cpp tells
/// them from the Engine's answer; the session itself refuses an unknown subsystem).
inline int exit_code_for(const failure& why) {
  return why.code == "DOCKER_PROGRAM_NOT_FOUND" ? exit_program_not_found : exit_could_not_run;
}

/// The signal a program died of, as the client is told (RFC 4254 name), or "" for a plain exit.
/// The Engine reports a death by signal N as exit code 128+N (its init forwards the signal and
/// exits so). It is a signal only when we delivered that signal ourselves (`delivered`, numbers):
/// a program may also exit 130 on its own.
inline std::string signal_of_exit(int code, const std::vector<int>& delivered) {
  if (code <= 128 || std::find(delivered.begin(), delivered.end(), code - 128) == delivered.end()) return "";
  return ssh::signal_name(code - 128).value_or("");
}

}  // namespace cssh::actors
