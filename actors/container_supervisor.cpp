#include "actors/container_supervisor.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "actors/actor_metrics.hpp"
#include "common/log.hpp"
#include "common/server_metrics.hpp"

namespace cssh::actors {
namespace {

struct supervisor_timeout {};
/// A removal's outcome, carried from the reactor thread into the actor.
struct removal_done { std::string id; result<void> outcome; };

}  // namespace
}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::supervisor_timeout)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::removal_done)

namespace cssh::actors {
namespace {

using supervisor_impl = container_supervisor::extend<caf::reacts_to<supervisor_timeout>, caf::reacts_to<removal_done>>;

struct supervisor_state {
  context_ptr context;
  std::string connection_id;
  /// docker_io actors alive, and the container each one created (empty until created).
  std::map<caf::actor_addr, std::string> workers;
  /// Containers whose removal is in flight.
  std::set<std::string> removing;
  /// Places under limits.maxContainers, per container, given back at its removal (or when
  /// this actor ends, whatever is left).
  std::map<std::string, resource_limits::slot> slots;
  bool shutting_down = false;
};

// Background retries of a failed removal: 1 s, doubling to 10 s, for about 20 minutes.
constexpr int removal_retries = 125;
constexpr std::chrono::milliseconds removal_retry_first{1000};
constexpr std::chrono::milliseconds removal_retry_max{10000};

/// Retries a removal that failed (typically: the Docker Engine was unreachable) until it works,
/// the container is gone (404 counts as removed), the server stops, or the retries run out.
/// Without this a session cut by an Engine outage left its container running until the next
/// start-up's orphan reaping (found by tests/e2e/fault_test.py, "outage"). Runs on the Engine's
/// reactor, detached from the supervisor, which may quit meanwhile; the weak pointer lets the
/// server's shutdown end it.
void keep_removing(std::weak_ptr<docker::engine> weak, std::string id, std::string connection_id, int attempt) {
  auto e = weak.lock();
  if (!e) return;
  auto delay = std::min(removal_retry_max, removal_retry_first * (1 << std::min(attempt, 4)));
  e->after(delay, [weak, id, connection_id, attempt](bool fired) {
    auto e = weak.lock();
    if (!fired || !e) return;
    e->remove_container(id, [weak, id, connection_id, attempt](result<void> r) {
      if (r) {
        metrics::server().containers_active.dec();
        log::notice("DOCKER_CONTAINER_REMOVED_LATE", "container removed after earlier failures",
                    {{"connectionId", connection_id}, {"containerId", id}, {"attempts", attempt + 2}});
        return;
      }
      if (attempt + 1 >= removal_retries) {
        log::error("DOCKER_CONTAINER_ABANDONED",
                   "gave up removing container " + id + " (the next start-up removes it): " + r.error().message,
                   {{"connectionId", connection_id}, {"containerId", id}});
        return;
      }
      keep_removing(weak, id, connection_id, attempt + 1);
    });
  });
}

void remove_container(supervisor_impl::stateful_pointer<supervisor_state> self, const std::string& id) {
  auto& st = self->state;
  if (id.empty() || !st.removing.insert(id).second) return;
  auto me = caf::actor_cast<caf::actor>(self);
  auto done = [me, id](result<void> r) {
    caf::anon_send(me, removal_done{id, std::move(r)});
  };
  st.context->engine->remove_container(id, metrics::count_docker_call<void>("container_remove", std::move(done)));
}

void quit_if_done(supervisor_impl::stateful_pointer<supervisor_state> self) {
  auto& st = self->state;
  if (st.shutting_down && st.workers.empty() && st.removing.empty()) self->quit();
}

supervisor_impl::behavior_type supervisor_behavior(supervisor_impl::stateful_pointer<supervisor_state> self,
                                                   context_ptr context, std::string connection_id) {
  self->state.context = std::move(context);
  self->state.connection_id = std::move(connection_id);
  self->set_down_handler([=](caf::down_msg& down) {
    auto& st = self->state;
    auto it = st.workers.find(down.source);
    if (it == st.workers.end()) return;
    // A worker that ends without handing its container back still leaves it to us.
    std::string id = it->second;
    st.workers.erase(it);
    if (!id.empty()) remove_container(self, id);
    quit_if_done(self);
  });
  return {
      [=](container_creating& msg) {
        self->monitor(msg.io);
        self->state.workers.emplace(msg.io.address(), std::string{});
      },
      [=](container_created& msg) {
        auto& st = self->state;
        metrics::server().containers_active.inc();  // until its removal_done
        if (msg.slot) st.slots[msg.id] = std::move(msg.slot);
        auto it = st.workers.find(msg.io.address());
        if (it != st.workers.end()) {
          it->second = msg.id;
        } else {
          // The worker is already gone: nobody will use this container.
          remove_container(self, msg.id);
        }
      },
      [=](container_finished& msg) {
        auto& st = self->state;
        for (auto& [addr, id] : st.workers) {
          if (id == msg.id) id.clear();  // from now on the removal below is the owner
        }
        remove_container(self, msg.id);
      },
      [=](supervisor_shutdown) {
        auto& st = self->state;
        st.shutting_down = true;
        // Workers were told to stop by their channels; give everything containerStop to end.
        self->delayed_send(self, st.context->config->docker.execution.timeouts.container_stop,
                           supervisor_timeout{});
        quit_if_done(self);
      },
      [=](removal_done& msg) {
        auto& st = self->state;
        st.removing.erase(msg.id);
        // A failed removal is logged below; the orphan reaper takes the container at the next
        // start, so its place is given back either way.
        st.slots.erase(msg.id);
        if (msg.outcome) {
          metrics::server().containers_active.dec();
          log::debug("DOCKER_CONTAINER_REMOVED", "container removed",
                     {{"connectionId", st.connection_id}, {"containerId", msg.id}});
        } else {
          log::error("DOCKER_CONTAINER_REMOVE_FAILED",
                     "could not remove container " + msg.id + " (retrying in the background): " + msg.outcome.error().message,
                     {{"connectionId", st.connection_id}, {"containerId", msg.id}});
          keep_removing(st.context->engine, msg.id, st.connection_id, 0);
        }
        quit_if_done(self);
      },
      [=](supervisor_timeout) {
        auto& st = self->state;
        if (!st.workers.empty() || !st.removing.empty()) {
          nlohmann::json left = nlohmann::json::array();
          for (auto& [addr, id] : st.workers) if (!id.empty()) left.push_back(id);
          for (auto& id : st.removing) left.push_back(id);
          log::error("DOCKER_CLEANUP_TIMEOUT",
                     "containers of a closed connection were not removed within containerStop",
                     {{"connectionId", st.connection_id}, {"containers", left}});
        }
        self->quit();
      },
  };
}

}  // namespace

container_supervisor spawn_container_supervisor(caf::actor_system& system, context_ptr context,
                                                std::string connection_id) {
  auto impl =
      spawn_observed(system, "supervisor", supervisor_behavior, std::move(context), std::move(connection_id));
  return caf::actor_cast<container_supervisor>(impl);
}

}  // namespace cssh::actors
