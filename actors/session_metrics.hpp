#pragma once
// The session metrics the actors update (see common/server_metrics.hpp), with the label values
// spelled in one place.

#include <string_view>

#include "common/server_metrics.hpp"
#include "config/app_config.hpp"
#include "protocol/ssh/session_events.hpp"

namespace cssh::actors {

/// cssh_sessions_total{mode, kind}: a program was requested on a session channel.
inline void count_session(config::execution_mode mode, ssh::program_kind kind) {
  std::string_view mode_name = mode == config::execution_mode::session ? "session" : "connection";
  std::string_view kind_name = kind == ssh::program_kind::exec    ? "exec"
                               : kind == ssh::program_kind::shell ? "shell"
                                                                  : "subsystem";
  metrics::server().sessions.with({mode_name, kind_name}).inc();
}

/// cssh_session_exits_total{class}: how a session's program ended.
inline void count_exit(int exit_code, bool by_signal) {
  metrics::server().session_exits.with({metrics::exit_class(exit_code, by_signal)}).inc();
}

/// The program could not be started (image, create, attach or start failed).
inline void count_start_failure() { metrics::server().session_exits.with({"start_failed"}).inc(); }

}  // namespace cssh::actors
