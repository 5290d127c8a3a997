#pragma once
// connection_container_actor: one per SSH connection in connection mode. Owns the connection's
// container: makes sure of the guest helper's volume and the image (pull policy), creates the
// container running `idleCommand`, writes the auth answer's files into it and starts it, then
// hands its id to every session that asks (each session is an exec in it: exec_io_actor). When
// the connection ends it gives the container to the container supervisor, which removes it.
//
// accepts container_wanted (-> container_ready, once the container runs or cannot),
//         connection_container_stop
// sends   container_creating, container_created, container_finished to the supervisor
// internal engine_reply<step> for each Engine call (engine_reply.hpp)

#include <caf/all.hpp>
#include <memory>
#include <string>

#include "actors/container_supervisor.hpp"
#include "actors/engine_reply.hpp"
#include "actors/server_context.hpp"
#include "common/result.hpp"
#include "docker/container_spec.hpp"

namespace cssh::actors {

/// A session needs the connection's container.
struct container_wanted {};
/// The container runs (`id`), or it could not be made to (`id` empty, `why` says why; its code
/// decides the session's exit status, exit_codes.hpp).
struct container_ready { std::string id; failure why; };
/// The connection ended: hand the container to the supervisor and stop.
struct connection_container_stop {};

using connection_container_actor =
    caf::typed_actor<caf::replies_to<container_wanted>::with<container_ready>,
                     caf::reacts_to<connection_container_stop>>;

/// `request` describes the connection (ids and labels, the auth answer's environment and files);
/// its command, tty and size are ignored. `config` is the connection's configuration.
/// Asks `container` for the running container on behalf of `me`; the answer comes back to `me`
/// as engine_reply<Step, std::string> (the id, or why not), like an Engine call's, so the step
/// continues in me's handler (exec_io_actor, forward_actor).
template <class Step, class Self>
void want_container(Self* self, const connection_container_actor& container) {
  auto me = caf::actor_cast<caf::actor>(self);
  self->request(container, caf::infinite, container_wanted{})
      .then(
          [me](container_ready& ready) {
            auto reply = ready.id.empty() ? result<std::string>(std::move(ready.why)) : result<std::string>(ready.id);
            caf::anon_send(me, engine_reply<Step, std::string>{std::move(reply)});
          },
          [me](caf::error&) {
            caf::anon_send(me, engine_reply<Step, std::string>{
                                   failure{"DOCKER_CONTAINER_GONE", "the connection's container is gone"}});
          });
}

connection_container_actor spawn_connection_container_actor(caf::actor_system& system, context_ptr context,
                                                            std::shared_ptr<const config::app_config> config,
                                                            docker::session_request request,
                                                            container_supervisor supervisor);

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::container_wanted)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::container_ready)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::connection_container_stop)
