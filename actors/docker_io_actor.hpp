#pragma once
// docker_io_actor: one per program run in session mode. Creates the container, attaches
// (before start, so no early output is lost), starts it, relays the attach stream in both
// directions with credits (a stream_relay: at most `output_credit_limit` bytes of output in
// flight towards the client), waits for the exit code and reports it after the output.
//
// accepts io_stdin, io_stdin_eof, io_resize, io_signal, io_stop
// sends   program_exited, program_failed to its channel_actor (the bytes go through the
//         stream_relay straight to the SSH session, `target`);
//         container_creating, container_created, container_finished to the supervisor

#include <caf/all.hpp>
#include <cstddef>
#include <string>

#include "actors/channel_actor.hpp"
#include "actors/container_supervisor.hpp"
#include "actors/stream_relay.hpp"
#include "docker/container_spec.hpp"

namespace cssh::actors {

struct io_stdin { std::string bytes; };
struct io_stdin_eof {};
struct io_resize { unsigned rows; unsigned cols; };
struct io_signal { std::string name; };
/// The client is gone: stop relaying and hand the container to the supervisor for removal.
struct io_stop {};

using docker_io_actor = caf::typed_actor<caf::reacts_to<io_stdin>, caf::reacts_to<io_stdin_eof>,
                                         caf::reacts_to<io_resize>, caf::reacts_to<io_signal>,
                                         caf::reacts_to<io_stop>>;

/// `config` is the connection's configuration (file merged with the config server's answer).
docker_io_actor spawn_docker_io_actor(caf::actor_system& system, context_ptr context,
                                      std::shared_ptr<const config::app_config> config,
                                      docker::session_request request, channel_actor channel,
                                      relay_target target, container_supervisor supervisor);

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_stdin)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_stdin_eof)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_resize)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_signal)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_stop)
