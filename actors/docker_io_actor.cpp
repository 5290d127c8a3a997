#include "actors/docker_io_actor.hpp"

#include <vector>

#include "actors/actor_metrics.hpp"
#include "actors/engine_reply.hpp"
#include "actors/exit_codes.hpp"
#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "docker/container_files.hpp"
#include "docker/image_policy.hpp"
#include "actors/docker_frame.hpp"
#include "protocol/ssh/signals.hpp"

namespace cssh::actors {
namespace {

// The steps whose Engine calls complete on the reactor (engine_reply.hpp), in their order.
struct helper_step {};        // the guest helper's volume ("" if it could not be made)
struct image_config_step {};  // the image's Config, for running the program through the helper
struct image_step {};         // imagePullPolicy, before a create that reads the image first
struct create_step {};        // the container's id
struct files_step {};         // the webhook answers' files are in the container
struct attach_step {};        // the attach stream
struct start_step {};
struct wait_step {};          // the exit code
/// The program exited but the stream has not ended: stop waiting for stragglers.
struct stream_grace_over {};

using stream_ptr = std::shared_ptr<http::upgraded_stream>;

}  // namespace
}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::stream_grace_over)

namespace cssh::actors {
namespace {

using io_impl = io_actor::extend<
    caf::reacts_to<engine_reply<helper_step, std::string>>,
    caf::reacts_to<engine_reply<image_config_step, std::optional<nlohmann::json>>>,
    caf::reacts_to<engine_reply<image_step>>, caf::reacts_to<engine_reply<create_step, std::string>>,
    caf::reacts_to<engine_reply<files_step>>, caf::reacts_to<engine_reply<attach_step, stream_ptr>>,
    caf::reacts_to<engine_reply<start_step>>, caf::reacts_to<engine_reply<wait_step, std::int64_t>>,
    caf::reacts_to<stream_grace_over>>;

constexpr std::chrono::seconds stream_grace{2};

struct io_state {
  context_ptr context;
  std::shared_ptr<const config::app_config> config;
  docker::session_request request;
  channel_actor channel;
  container_supervisor supervisor;

  std::string container_id;
  /// The place under limits.maxContainers taken for the create in flight; the supervisor
  /// holds it once the container exists, a failed create gives it back.
  resource_limits::slot create_slot;
  std::unique_ptr<stream_relay> relay;  // the attach stream, both ways
  bool image_ready = false;  // ensure_image ran (the TTY helper path reads the image first)
  bool started = false;
  bool stopping = false;
  bool finished = false;

  /// Signals delivered through SSH `signal` requests (numbers), to tell an exit by signal.
  std::vector<int> delivered_signals;
  /// Signals asked for before the Engine confirmed the start (output can arrive earlier).
  held_signals early_signals;

  std::optional<std::pair<unsigned, unsigned>> size;  // rows, cols
  std::optional<std::int64_t> exit_code;
  /// When the program was asked for (cssh_container_start_seconds ends at the Engine's start).
  std::chrono::steady_clock::time_point requested_at = std::chrono::steady_clock::now();
};

using self_ptr = io_impl::stateful_pointer<io_state>;

caf::actor handle_of(self_ptr self) { return caf::actor_cast<caf::actor>(self); }

void finish(self_ptr self) {
  auto& st = self->state;
  if (st.finished) return;
  st.finished = true;
  st.relay->close();
  if (!st.container_id.empty()) self->send(st.supervisor, container_finished{st.container_id});
  self->quit();
}

/// `what` names the step for the client and the log; the failure's code decides the exit status.
void fail_program(self_ptr self, const std::string& what, const failure& why) {
  auto& st = self->state;
  log::warning("DOCKER_PROGRAM_FAILED", what + ": " + why.message,
               {{"connectionId", st.request.connection_id}, {"containerId", st.container_id}, {"cause", why.code}});
  st.relay->close();  // no output may follow the failure
  self->send(st.channel, program_failed{failure{why.code, what + ": " + why.message}});
  finish(self);
}

void maybe_report_exit(self_ptr self) {
  auto& st = self->state;
  if (!st.exit_code || st.finished) return;
  if (!st.relay->output_ended()) return;  // output first, exit status after
  const int code = static_cast<int>(*st.exit_code);
  st.relay->close();  // no output may follow the exit status
  self->send(st.channel, program_exited{code, signal_of_exit(code, st.delivered_signals)});
  finish(self);
}

void deliver_signal(self_ptr self, const std::string& name) {
  auto& st = self->state;
  if (auto number = ssh::signal_number(name)) st.delivered_signals.push_back(*number);
  st.context->engine->kill_container(st.container_id, name,
                                     metrics::count_docker_call<void>("container_kill", [](result<void>) {}));
}

void apply_size(self_ptr self) {
  auto& st = self->state;
  if (!st.started || !st.size || !st.request.tty) return;
  st.context->engine->resize_container(st.container_id, st.size->first, st.size->second,
                                       metrics::count_docker_call<void>("container_resize", [](result<void>) {}));
}

/// `image_config` (the image's Config) is given when the program starts through the helper.
void send_create(self_ptr self, const nlohmann::json* image_config) {
  auto& st = self->state;
  if (st.context->limits) {
    std::string refusal;
    st.create_slot = st.context->limits->reserve_container(st.request.connection_id, refusal);
    if (!st.create_slot) {
      self->send(st.channel, program_failed{failure{"LIMIT_CONTAINERS", refusal}});
      return finish(self);
    }
  }
  auto body = docker::build_create_body(st.config->docker.execution, st.request);
  if (image_config) docker::wrap_with_helper(body, *image_config, st.request.rows, st.request.cols);
  // The pull policy runs around the create: usually the create is the only call.
  docker::create_under_pull_policy(st.context->engine, st.config->docker.execution, st.request.connection_id,
                                   st.image_ready, std::move(body), reply_as<create_step, std::string>(handle_of(self)));
}

/// A TTY session starts its program through the guest helper, which sets the terminal size first
/// (the Engine can only resize after the start): that needs the image's Entrypoint and Cmd.
void create_container(self_ptr self) {
  auto& st = self->state;
  if (!st.request.tty || st.request.helper_volume.empty()) return send_create(self, nullptr);
  st.context->engine->inspect_image(st.config->docker.execution.container.image,
                                    reply_as<image_config_step, std::optional<nlohmann::json>>(handle_of(self)));
}

/// Session mode runs its program through the guest helper only with a TTY (to set the terminal's
/// size first); only such a container mounts the helper's volume. A helper that cannot be
/// installed is logged and the session goes on without it.
void prepare_helper(self_ptr self) {
  auto& st = self->state;
  if (!st.context->helper || !st.request.tty) {
    return self->send(self, engine_reply<helper_step, std::string>{std::string()});
  }
  st.context->helper->ensure(reply_as<helper_step, std::string>(handle_of(self)));
}

/// Attaches before start, so no early output is lost.
void attach_to_container(self_ptr self) {
  self->state.context->engine->attach_container(
      self->state.container_id, counted_reply_as<attach_step, stream_ptr>(handle_of(self), "container_attach"));
}

io_impl::behavior_type io_behavior(self_ptr self, context_ptr context,
                                   std::shared_ptr<const config::app_config> config,
                                   docker::session_request request, channel_actor channel, relay_target target,
                                   container_supervisor supervisor) {
  auto& st = self->state;
  st.context = std::move(context);
  st.config = std::move(config);
  st.request = std::move(request);
  st.channel = std::move(channel);
  st.supervisor = std::move(supervisor);
  st.relay = std::make_unique<stream_relay>(handle_of(self), std::move(target), st.request.tty);

  self->send(st.supervisor, container_creating{handle_of(self)});
  prepare_helper(self);  // then the image and the create
  return {
      // --- Engine completions, in the order of the steps -----------------------------------
      [=](engine_reply<helper_step, std::string>& msg) {
        auto& s = self->state;
        if (!msg.value) {
          log::warning("HELPER_UNAVAILABLE", msg.value.error().message + "; the session runs without it",
                       {{"connectionId", s.request.connection_id}});
        } else {
          s.request.helper_volume = msg.value.value();
        }
        if (s.request.tty && !s.request.helper_volume.empty()) {
          // imagePullPolicy before the create, for the TTY helper path that reads the image
          // first (docker/image_policy.hpp); the message names the image and the step.
          return docker::ensure_image(s.context->engine, s.config->docker.execution, s.request.connection_id,
                                      reply_as<image_step>(handle_of(self)));
        }
        if (s.stopping) return finish(self);
        create_container(self);  // the pull policy runs with the create
      },
      [=](engine_reply<image_step>& msg) {
        auto& s = self->state;
        if (!msg.value) return fail_program(self, "preparing the image failed", msg.value.error());
        s.image_ready = true;
        if (s.stopping) return finish(self);
        create_container(self);
      },
      [=](engine_reply<image_config_step, std::optional<nlohmann::json>>& msg) {
        auto& s = self->state;
        if (!msg.value) return fail_program(self, "preparing the image failed", msg.value.error());
        if (s.stopping) return finish(self);
        nlohmann::json image_config = msg.value.value() ? msg.value.value()->value("Config", nlohmann::json::object())
                                                        : nlohmann::json::object();
        send_create(self, &image_config);
      },
      [=](engine_reply<create_step, std::string>& msg) {
        auto& s = self->state;
        auto slot = std::move(s.create_slot);  // a failed create gives its place back here
        if (!msg.value) return fail_program(self, "creating the container failed", msg.value.error());
        const std::string& id = msg.value.value();
        s.container_id = id;
        self->send(s.supervisor, container_created{handle_of(self), id, std::move(slot)});
        log::debug("DOCKER_CONTAINER_CREATED", "container created",
                   {{"connectionId", s.request.connection_id}, {"containerId", id}});
        if (s.stopping) return finish(self);
        if (!s.request.files.empty()) {
          // The webhooks' files go in before the program can start (and look for them).
          return docker::write_container_files(s.context->engine, id, s.request.files,
                                               counted_reply_as<files_step>(handle_of(self), "container_files"));
        }
        attach_to_container(self);
      },
      [=](engine_reply<files_step>& msg) {
        auto& s = self->state;
        if (!msg.value) {
          return fail_program(self, "writing the files from the authentication answer into the container failed",
                              msg.value.error());
        }
        log::debug("DOCKER_FILES_WRITTEN", "files from the authentication answer written into the container",
                   {{"connectionId", s.request.connection_id}, {"containerId", s.container_id},
                    {"files", s.request.files.size()}});
        if (s.stopping) return finish(self);
        attach_to_container(self);
      },
      [=](engine_reply<attach_step, stream_ptr>& msg) {
        auto& s = self->state;
        if (!msg.value) return fail_program(self, "attaching to the container failed", msg.value.error());
        if (s.stopping) {
          msg.value.value()->close();
          return finish(self);
        }
        s.relay->attach(std::move(msg.value.value()), "container " + s.container_id);
        s.context->engine->start_container(s.container_id,
                                           counted_reply_as<start_step>(handle_of(self), "container_start"));
      },
      [=](engine_reply<start_step>& msg) {
        auto& s = self->state;
        if (!msg.value) return fail_program(self, "starting the container failed", msg.value.error());
        s.started = true;
        s.relay->allow_half_close();  // a client's EOF that came before the start is passed on now
        metrics::server().container_start_seconds.observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - s.requested_at).count());
        apply_size(self);
        for (const auto& name : s.early_signals.release()) deliver_signal(self, name);
        s.context->engine->wait_container(
            s.container_id, counted_reply_as<wait_step, std::int64_t>(handle_of(self), "container_wait"));
      },
      [=](engine_reply<wait_step, std::int64_t>& msg) {
        auto& s = self->state;
        if (!msg.value) return fail_program(self, "waiting for the container failed", msg.value.error());
        s.exit_code = msg.value.value();
        if (!s.relay->output_ended()) self->delayed_send(self, stream_grace, stream_grace_over{});
        maybe_report_exit(self);
      },
      [=](stream_grace_over) {
        auto& s = self->state;
        if (s.finished) return;
        log::debug("DOCKER_STREAM_GRACE", "program exited but its output stream stayed open; closing it",
                   {{"containerId", s.container_id}});
        s.relay->mark_output_ended();
        maybe_report_exit(self);
      },
      // --- from the relay ------------------------------------------------------------------
      [=](relay_ready) {
        auto& s = self->state;
        if (!s.finished && s.relay->output_ended_now(s.stopping)) maybe_report_exit(self);
      },
      // --- from the channel ---------------------------------------------------------------
      [=](io_resize& msg) {
        self->state.size = std::make_pair(msg.rows, msg.cols);
        apply_size(self);
      },
      [=](io_signal& msg) {
        if (self->state.early_signals.pass(self->state.started, msg.name)) deliver_signal(self, msg.name);
      },
      [=](io_stop) {
        auto& s = self->state;
        s.stopping = true;
        // Before the container exists there is nothing to hand over yet: the create's reply does it.
        if (!s.container_id.empty()) finish(self);
      },
  };
}

}  // namespace

io_actor spawn_docker_io_actor(caf::actor_system& system, context_ptr context,
                               std::shared_ptr<const config::app_config> config, docker::session_request request,
                               channel_actor channel, relay_target target, container_supervisor supervisor) {
  auto impl = spawn_observed(system, "docker_io", io_behavior, std::move(context), std::move(config),
                             std::move(request), std::move(channel), std::move(target), std::move(supervisor));
  return caf::actor_cast<io_actor>(impl);
}

}  // namespace cssh::actors
