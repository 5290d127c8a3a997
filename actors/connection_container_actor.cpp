#include "actors/connection_container_actor.hpp"

#include <string_view>
#include <vector>

#include "actors/actor_metrics.hpp"
#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "docker/container_files.hpp"
#include "docker/image_policy.hpp"

namespace cssh::actors {
namespace {

// Completions of Engine calls, carried from the reactor thread into the actor.
struct cc_step_done { std::string step; bool ok; std::string value; std::string error; };

}  // namespace
}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::cc_step_done)

namespace cssh::actors {
namespace {

using cc_impl = connection_container_actor::extend<caf::reacts_to<cc_step_done>>;

/// Connection mode runs every session with exec's Env, which the Engine has since API 1.25.
constexpr const char* exec_env_api = "1.25";

struct cc_state {
  context_ptr context;
  std::shared_ptr<const config::app_config> config;
  docker::session_request request;
  container_supervisor supervisor;

  std::string container_id;
  bool creating = false;  // the create call is in flight: stay until it answers
  bool stopping = false;
  bool finished = false;
  std::optional<container_ready> outcome;
  std::vector<caf::typed_response_promise<container_ready>> waiting;
};

using self_ptr = cc_impl::stateful_pointer<cc_state>;

caf::actor handle_of(self_ptr self) { return caf::actor_cast<caf::actor>(self); }

/// Runs an Engine call whose completion continues as step `name` in the actor.
docker::callback<void> continue_with(self_ptr self, std::string name) {
  auto me = handle_of(self);
  return [me, name = std::move(name)](result<void> r) {
    caf::anon_send(me, cc_step_done{name, r.ok(), "", r.ok() ? "" : r.error().message});
  };
}

/// The same for one Engine call, counted in the Docker call metrics under `endpoint` (the names
/// session mode's docker_io_actor uses for the same calls).
docker::callback<void> counted_continue_with(self_ptr self, std::string_view endpoint, std::string name) {
  return metrics::count_docker_call<void>(endpoint, continue_with(self, std::move(name)));
}

void settle(self_ptr self, container_ready outcome) {
  auto& st = self->state;
  st.outcome = std::move(outcome);
  for (auto& promise : st.waiting) promise.deliver(*st.outcome);
  st.waiting.clear();
}

void finish(self_ptr self) {
  auto& st = self->state;
  if (st.finished) return;
  st.finished = true;
  if (!st.outcome) settle(self, container_ready{"", "the connection closed before its container was ready", 125});
  if (!st.container_id.empty()) self->send(st.supervisor, container_finished{st.container_id});
  self->quit();
}

void fail(self_ptr self, const std::string& what, const std::string& error) {
  auto& st = self->state;
  int code = error.find("executable file not found") != std::string::npos ||
                     error.find("no such file or directory") != std::string::npos
                 ? 127
                 : 125;
  log::warning("DOCKER_CONNECTION_CONTAINER_FAILED", what + ": " + error,
               {{"connectionId", st.request.connection_id}, {"containerId", st.container_id}});
  settle(self, container_ready{"", what + ": " + error, code});
  // The container (if any) stays until the connection ends: the supervisor removes it then.
}

void create(self_ptr self) {
  auto& st = self->state;
  if (auto ok = st.context->engine->require_api(exec_env_api, "docker.execution.mode: connection"); !ok)
    return fail(self, "connection mode cannot be used", ok.error().message);
  resource_limits::slot slot;
  if (st.context->limits) {
    std::string refusal;
    slot = st.context->limits->reserve_container(st.request.connection_id, refusal);
    if (!slot) {
      // Every session of the connection gets this answer (on stderr, exit status 125).
      settle(self, container_ready{"", refusal, 125});
      return;
    }
  }
  auto body = docker::build_connection_container_body(st.config->docker.execution, st.request);
  auto me = handle_of(self);
  // The supervisor hears of the container straight from the completion: were this actor gone
  // by then, the container would still be removed.
  auto supervisor = st.supervisor;
  st.creating = true;
  auto done = [me, supervisor, slot](result<std::string> r) {
    if (r) caf::anon_send(supervisor, container_created{me, r.value(), slot});
    caf::anon_send(me, cc_step_done{"created", r.ok(), r.ok() ? r.value() : "", r.ok() ? "" : r.error().message});
  };
  // The pull policy runs around the create: usually the create is the only call.
  docker::create_under_pull_policy(st.context->engine, st.config->docker.execution, st.request.connection_id, false,
                                   std::move(body), done);
}

void start(self_ptr self) {
  auto& st = self->state;
  st.context->engine->start_container(st.container_id, counted_continue_with(self, "container_start", "started"));
}

cc_impl::behavior_type cc_behavior(self_ptr self, context_ptr context, std::shared_ptr<const config::app_config> config,
                                   docker::session_request request, container_supervisor supervisor) {
  auto& st = self->state;
  st.context = std::move(context);
  st.config = std::move(config);
  st.request = std::move(request);
  st.supervisor = std::move(supervisor);
  self->send(st.supervisor, container_creating{handle_of(self)});

  // The helper first: every session's exec runs through it, and the idle command may be it.
  if (st.context->helper) {
    auto me = handle_of(self);
    st.context->helper->ensure([me](result<std::string> r) {
      caf::anon_send(me, cc_step_done{"helper", r.ok(), r.ok() ? r.value() : "", r.ok() ? "" : r.error().message});
    });
  } else {
    self->send(self, cc_step_done{"helper", true, "", ""});
  }
  return {
      [=](cc_step_done& msg) {
        auto& s = self->state;
        if (msg.step == "created") {
          s.creating = false;
          if (msg.ok) s.container_id = msg.value;
        }
        if (s.finished) return;
        if (s.stopping && !s.creating) return finish(self);
        if (!msg.ok) return fail(self, "preparing the connection's container failed (" + msg.step + ")", msg.error);
        if (msg.step == "helper") {
          s.request.helper_volume = msg.value;
          create(self);  // the pull policy runs with the create
        } else if (msg.step == "created") {
          log::debug("DOCKER_CONTAINER_CREATED", "connection container created",
                     {{"connectionId", s.request.connection_id}, {"containerId", s.container_id}});
          if (s.request.files.empty()) return start(self);
          // The webhooks' files go in before anything runs (and could look for them).
          docker::write_container_files(s.context->engine, s.container_id, s.request.files,
                                        counted_continue_with(self, "container_files", "files"));
        } else if (msg.step == "files") {
          start(self);
        } else if (msg.step == "started") {
          log::debug("DOCKER_CONTAINER_STARTED", "connection container running",
                     {{"connectionId", s.request.connection_id}, {"containerId", s.container_id}});
          settle(self, container_ready{s.container_id, "", 0});
        }
      },
      [=](container_wanted) -> caf::result<container_ready> {
        auto& s = self->state;
        if (s.outcome) return *s.outcome;
        auto promise = self->make_response_promise<container_ready>();
        s.waiting.push_back(promise);
        return promise;
      },
      [=](connection_container_stop) {
        auto& s = self->state;
        s.stopping = true;
        // Until create answers, the container's id is unknown: the "created" step finishes then.
        if (!s.creating) finish(self);
      },
  };
}

}  // namespace

connection_container_actor spawn_connection_container_actor(caf::actor_system& system, context_ptr context,
                                                            std::shared_ptr<const config::app_config> config,
                                                            docker::session_request request,
                                                            container_supervisor supervisor) {
  auto impl = spawn_observed(system, "connection_container", cc_behavior, std::move(context), std::move(config),
                             std::move(request), std::move(supervisor));
  return caf::actor_cast<connection_container_actor>(impl);
}

}  // namespace cssh::actors
