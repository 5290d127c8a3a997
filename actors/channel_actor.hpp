#pragma once
// channel_actor: one per SSH session channel. Collects pty/env, starts the program in a
// container (through an io_actor: docker_io_actor in session mode, exec_io_actor in connection
// mode) when shell/exec/subsystem arrives, passes the client's input on, and reports exit
// status, EOF and close in that order. The program's output and the input credits do not pass
// through here: the io actor's stream_relay hands them to the SSH session directly, and the
// client's input goes from the session thread into the program's stdin_pipe.
//
// accepts (from connection_actor, i.e. from the client, channel_events.hpp):
//   ch_pty, ch_env, ch_program, ch_window, ch_signal, ch_closed
// accepts (from its io actor):
//   program_exited, program_failed
// sends   commands to the SSH session (write, exit-status, EOF, close) and io_* to its io actor

#include <caf/all.hpp>
#include <memory>
#include <string>

#include "actors/channel_events.hpp"
#include "actors/connection_info.hpp"
#include "actors/container_supervisor.hpp"
#include "actors/server_context.hpp"
#include "common/result.hpp"

namespace cssh::actors {

/// `signal_name` is set (RFC 4254 name, e.g. "KILL") when the program died of a signal.
struct program_exited { int exit_code; std::string signal_name; };
/// The program could not be run; the client reads `why.message`, and the exit status follows
/// from `why.code` (exit_codes.hpp).
struct program_failed { failure why; };

using channel_actor = caf::typed_actor<
    caf::reacts_to<ch_pty>, caf::reacts_to<ch_env>, caf::reacts_to<ch_program>, caf::reacts_to<ch_window>,
    caf::reacts_to<ch_signal>, caf::reacts_to<ch_closed>, caf::reacts_to<program_exited>, caf::reacts_to<program_failed>>;

channel_actor spawn_channel_actor(caf::actor_system& system, context_ptr context, ssh::channel_id ch,
                                  std::shared_ptr<ssh::session_commands> session,
                                  connection_info info, container_supervisor supervisor);

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::program_exited)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::program_failed)
