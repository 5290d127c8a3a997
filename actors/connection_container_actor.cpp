#include "actors/connection_container_actor.hpp"

#include <string_view>
#include <vector>

#include "actors/actor_metrics.hpp"
#include "actors/engine_reply.hpp"
#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "docker/container_files.hpp"
#include "docker/image_policy.hpp"

namespace cssh::actors {
namespace {

// The steps whose Engine calls complete on the reactor (engine_reply.hpp), in their order.
struct helper_step {};  // the guest helper's volume
struct create_step {};  // the container's id
struct files_step {};   // the webhook answers' files are in the container
struct start_step {};

}  // namespace

using cc_impl = connection_container_actor::extend<
    caf::reacts_to<engine_reply<helper_step, std::string>>, caf::reacts_to<engine_reply<create_step, std::string>>,
    caf::reacts_to<engine_reply<files_step>>, caf::reacts_to<engine_reply<start_step>>>;

namespace {

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
  if (!st.outcome)
    settle(self, container_ready{"", failure{"SSH_CONNECTION_CLOSED", "the connection closed before its container was ready"}});
  if (!st.container_id.empty()) self->send(st.supervisor, container_finished{st.container_id});
  self->quit();
}

void fail(self_ptr self, const std::string& what, const failure& why) {
  auto& st = self->state;
  log::warning("DOCKER_CONNECTION_CONTAINER_FAILED", what + ": " + why.message,
               {{"connectionId", st.request.connection_id}, {"containerId", st.container_id}, {"cause", why.code}});
  settle(self, container_ready{"", failure{why.code, what + ": " + why.message}});
  // The container (if any) stays until the connection ends: the supervisor removes it then.
}

void create(self_ptr self) {
  auto& st = self->state;
  if (auto ok = st.context->engine->require_api(exec_env_api, "docker.execution.mode: connection"); !ok)
    return fail(self, "connection mode cannot be used", ok.error());
  resource_limits::slot slot;
  if (st.context->limits) {
    std::string refusal;
    slot = st.context->limits->reserve_container(st.request.connection_id, refusal);
    if (!slot) {
      // Every session of the connection gets this answer (on stderr, exit status 125).
      settle(self, container_ready{"", failure{"LIMIT_CONTAINERS", refusal}});
      return;
    }
  }
  auto body = docker::build_connection_container_body(st.config->docker.execution, st.request);
  auto me = handle_of(self);
  // The supervisor hears of the container straight from the completion: were this actor gone
  // by then, the container would still be removed.
  auto supervisor = st.supervisor;
  st.creating = true;
  auto done = [me, supervisor, slot, reply = reply_as<create_step, std::string>(me)](result<std::string> r) {
    if (r) caf::anon_send(supervisor, container_created{me, r.value(), slot});
    reply(std::move(r));
  };
  // The pull policy runs around the create: usually the create is the only call.
  docker::create_under_pull_policy(st.context->engine, st.config->docker.execution, st.request.connection_id, false,
                                   std::move(body), done);
}

void start(self_ptr self) {
  auto& st = self->state;
  st.context->engine->start_container(st.container_id,
                                      counted_reply_as<start_step>(handle_of(self), "container_start"));
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
    st.context->helper->ensure(reply_as<helper_step, std::string>(handle_of(self)));
  } else {
    self->send(self, engine_reply<helper_step, std::string>{std::string()});
  }
  /// Whether the sequence goes on after a step: not once finished or stopping, nor after a failure.
  auto proceed = [self](const auto& reply, const char* step) {
    auto& s = self->state;
    if (s.finished) return false;
    if (s.stopping && !s.creating) {
      finish(self);
      return false;
    }
    if (!reply.value) {
      fail(self, std::string("preparing the connection's container failed (") + step + ")", reply.value.error());
      return false;
    }
    return true;
  };
  return {
      [=](engine_reply<helper_step, std::string>& msg) {
        if (!proceed(msg, "helper")) return;
        self->state.request.helper_volume = msg.value.value();
        create(self);  // the pull policy runs with the create
      },
      [=](engine_reply<create_step, std::string>& msg) {
        auto& s = self->state;
        s.creating = false;
        if (msg.value) s.container_id = msg.value.value();
        if (!proceed(msg, "created")) return;
        log::debug("DOCKER_CONTAINER_CREATED", "connection container created",
                   {{"connectionId", s.request.connection_id}, {"containerId", s.container_id}});
        if (s.request.files.empty()) return start(self);
        // The webhooks' files go in before anything runs (and could look for them).
        docker::write_container_files(s.context->engine, s.container_id, s.request.files,
                                      counted_reply_as<files_step>(handle_of(self), "container_files"));
      },
      [=](engine_reply<files_step>& msg) {
        if (proceed(msg, "files")) start(self);
      },
      [=](engine_reply<start_step>& msg) {
        auto& s = self->state;
        if (!proceed(msg, "started")) return;
        log::debug("DOCKER_CONTAINER_STARTED", "connection container running",
                   {{"connectionId", s.request.connection_id}, {"containerId", s.container_id}});
        settle(self, container_ready{s.container_id, {}});
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
        // Until create answers, the container's id is unknown: the create's reply finishes then.
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
