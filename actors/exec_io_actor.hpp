#pragma once
// exec_io_actor: one per program run in connection mode. Asks the connection's container actor
// for the running container, creates an exec in it that starts the program through the guest
// helper (`helper run`: terminal size before the first instruction, and a marker by which
// signals find the program), starts it with its streams hijacked, relays them in both directions
// with the same credits as docker_io_actor, and reads the exit code with an exec inspect once the
// output stream ended. Signals are a second exec (`helper signal`): the Engine cannot signal an
// exec's process. A channel closed while the program runs gets it killed the same way.
//
// accepts the io_actor interface (io_actor.hpp), like docker_io_actor, so the channel actor
//         drives both modes alike
// sends   container_wanted to the connection's container actor; program_exited, program_failed
//         to its channel (the bytes go through the stream_relay straight to the SSH session)
// internal engine_reply<step> for each Engine call (engine_reply.hpp), and its timers

#include <caf/all.hpp>
#include <memory>

#include "actors/channel_actor.hpp"
#include "actors/connection_container_actor.hpp"
#include "actors/io_actor.hpp"
#include "actors/stream_relay.hpp"
#include "docker/container_spec.hpp"

namespace cssh::actors {

/// `request.command` is the program's argv (never empty); `config` is the connection's configuration.
io_actor spawn_exec_io_actor(caf::actor_system& system, context_ptr context,
                             std::shared_ptr<const config::app_config> config, docker::session_request request,
                             connection_container_actor container, channel_actor channel, relay_target target);

}  // namespace cssh::actors
