#pragma once
// container_supervisor: one per SSH connection; owns every container the connection
// creates and removes each one on every exit path (program ended, client vanished,
// docker_io_actor died, connection closed). It outlives the connection until the last
// removal finished or `containerStop` ran out.
//
// accepts container_creating (monitors the sender), container_created, container_finished,
//         supervisor_shutdown
// internal removal_done (a removal's outcome, from the reactor), supervisor_timeout

#include <caf/all.hpp>
#include <string>

#include "actors/server_context.hpp"

namespace cssh::actors {

/// A docker_io_actor is about to create a container (sent first, so the supervisor watches it).
struct container_creating { caf::actor io; };
/// The Engine created container `id` for `io`; `slot` is its place under limits.maxContainers,
/// which the supervisor holds until the container is removed.
struct container_created { caf::actor io; std::string id; resource_limits::slot slot; };
/// The container's work is over (exited, or abandoned): remove it, killing it if needed.
struct container_finished { std::string id; };
/// The connection ended: remove what is left, then stop.
struct supervisor_shutdown {};

using container_supervisor =
    caf::typed_actor<caf::reacts_to<container_creating>, caf::reacts_to<container_created>,
                     caf::reacts_to<container_finished>, caf::reacts_to<supervisor_shutdown>>;

container_supervisor spawn_container_supervisor(caf::actor_system& system, context_ptr context,
                                                std::string connection_id);

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::container_creating)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::container_created)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::container_finished)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::supervisor_shutdown)
