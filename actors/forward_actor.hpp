#pragma once
// forward_actor: starts one connection's forwarding helper (docs/forwarding.md). Spawned by the
// connection actor at the first allowed forwarding request (connection mode), it asks the
// connection's container actor for the running container, creates an exec of
// `/.containerssh/helper forward` in it (as the container's user, no TTY), starts it with its
// streams hijacked and hands the stream to the connection's forward_hub, which carries every
// forwarded connection from then on. Then it stops: the hub owns the helper, and the helper ends
// when the hub closes its stdin or the container is removed.
//
// sends     container_wanted to the connection's container actor
// calls     forward_hub::attach (the helper's stream) or forward_hub::fail (why it cannot run)
// internal  engine_reply<step> for each Engine call (engine_reply.hpp)

#include <caf/all.hpp>
#include <memory>
#include <string>

#include "actors/connection_container_actor.hpp"
#include "actors/forward_hub.hpp"
#include "actors/server_context.hpp"

namespace cssh::actors {

void spawn_forward_actor(caf::actor_system& system, context_ptr context, connection_container_actor container,
                         std::shared_ptr<forward_hub> hub);

}  // namespace cssh::actors
