#pragma once
// docker_io_actor: one per program run in session mode. Creates the container, attaches
// (before start, so no early output is lost), starts it, relays the attach stream in both
// directions with credits (a stream_relay: at most flow::output_credit_limit bytes of output in
// flight towards the client), waits for the exit code and reports it after the output.
//
// accepts the io_actor interface (io_actor.hpp): io_resize, io_signal, io_stop from its
//         channel; relay_ready from its relay
// sends   program_exited, program_failed to its channel_actor (the bytes go through the
//         stream_relay straight to the SSH session, `target`);
//         container_creating, container_created, container_finished to the supervisor
// internal engine_reply<step> for each Engine call (engine_reply.hpp), stream_grace_over

#include <caf/all.hpp>
#include <memory>

#include "actors/channel_actor.hpp"
#include "actors/container_supervisor.hpp"
#include "actors/io_actor.hpp"
#include "actors/stream_relay.hpp"
#include "docker/container_spec.hpp"

namespace cssh::actors {

/// `config` is the connection's configuration (file merged with the config server's answer).
io_actor spawn_docker_io_actor(caf::actor_system& system, context_ptr context,
                               std::shared_ptr<const config::app_config> config, docker::session_request request,
                               channel_actor channel, relay_target target, container_supervisor supervisor);

}  // namespace cssh::actors
