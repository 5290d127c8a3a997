#include "actors/forward_actor.hpp"

#include "actors/actor_metrics.hpp"
#include "actors/engine_reply.hpp"
#include "docker/container_spec.hpp"

namespace cssh::actors {
namespace {

// The steps, in their order (engine_reply.hpp).
struct container_step {};  // the connection's container (from its actor)
struct create_step {};     // the helper's exec id
struct start_step {};      // the exec's hijacked stream

using stream_ptr = std::shared_ptr<http::upgraded_stream>;
using forward_actor_type =
    caf::typed_actor<caf::reacts_to<engine_reply<container_step, std::string>>,
                     caf::reacts_to<engine_reply<create_step, std::string>>,
                     caf::reacts_to<engine_reply<start_step, stream_ptr>>>;

struct forward_state {
  context_ptr context;
  std::shared_ptr<forward_hub> hub;
  std::string exec_id;
};

using self_ptr = forward_actor_type::stateful_pointer<forward_state>;

void give_up(self_ptr self, const std::string& what, const failure& why) {
  self->state.hub->fail(failure{"FORWARD_HELPER_FAILED", what + ": " + why.message});
  self->quit();
}

forward_actor_type::behavior_type forward_behavior(self_ptr self, context_ptr context,
                                                   connection_container_actor container,
                                                   std::shared_ptr<forward_hub> hub) {
  auto& st = self->state;
  st.context = std::move(context);
  st.hub = std::move(hub);
  want_container<container_step>(self, container);
  return {
      [=](engine_reply<container_step, std::string>& msg) {
        if (!msg.value) return give_up(self, "the connection's container is not available", msg.value.error());
        self->state.context->engine->create_exec(
            msg.value.value(), docker::build_forward_exec_body(),
            counted_reply_as<create_step, std::string>(caf::actor_cast<caf::actor>(self), "exec_create"));
      },
      [=](engine_reply<create_step, std::string>& msg) {
        if (!msg.value) return give_up(self, "creating the forwarding helper's exec failed", msg.value.error());
        self->state.exec_id = msg.value.value();
        self->state.context->engine->start_exec_attached(
            self->state.exec_id, false,
            counted_reply_as<start_step, stream_ptr>(caf::actor_cast<caf::actor>(self), "exec_start"));
      },
      [=](engine_reply<start_step, stream_ptr>& msg) {
        if (!msg.value) return give_up(self, "starting the forwarding helper failed", msg.value.error());
        self->state.hub->attach(std::move(msg.value.value()), self->state.exec_id);
        self->quit();
      },
  };
}

}  // namespace

void spawn_forward_actor(caf::actor_system& system, context_ptr context, connection_container_actor container,
                         std::shared_ptr<forward_hub> hub) {
  spawn_observed(system, "forward", forward_behavior, std::move(context), std::move(container), std::move(hub));
}

}  // namespace cssh::actors
