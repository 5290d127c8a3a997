#include "actors/exec_io_actor.hpp"

#include <vector>

#include "actors/actor_metrics.hpp"
#include "actors/engine_reply.hpp"
#include "actors/exit_codes.hpp"
#include "common/log.hpp"
#include "common/random_id.hpp"
#include "common/server_metrics.hpp"
#include "actors/docker_frame.hpp"
#include "protocol/ssh/signals.hpp"

namespace cssh::actors {
namespace {

// The steps whose completions come from elsewhere (engine_reply.hpp), in their order.
struct container_step {};  // the connection's container (from its actor)
struct create_step {};     // the exec's id
struct start_step {};      // the exec's hijacked stream
struct inspect_step {};    // running, or the exit code
/// Time to ask the Engine about the exit code again (it still said Running).
struct inspect_again {};
/// commandStart ran out before the exec started.
struct start_deadline {};
struct resize_again { unsigned attempt; };

using stream_ptr = std::shared_ptr<http::upgraded_stream>;
using exec_state_reply = docker::engine::exec_state;

}  // namespace
}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::inspect_again)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::start_deadline)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::resize_again)

namespace cssh::actors {
namespace {

using exec_impl = io_actor::extend<
    caf::reacts_to<engine_reply<container_step, std::string>>, caf::reacts_to<engine_reply<create_step, std::string>>,
    caf::reacts_to<engine_reply<start_step, stream_ptr>>, caf::reacts_to<engine_reply<inspect_step, exec_state_reply>>,
    caf::reacts_to<inspect_again>, caf::reacts_to<start_deadline>, caf::reacts_to<resize_again>>;

/// After the output ended the Engine may still say Running for a moment: ask again after these
/// pauses, then once a second (a program that closed its output and runs on).
constexpr std::chrono::milliseconds inspect_pauses[] = {std::chrono::milliseconds(10), std::chrono::milliseconds(30),
                                                        std::chrono::milliseconds(100), std::chrono::milliseconds(300),
                                                        std::chrono::milliseconds(600)};
constexpr std::chrono::seconds inspect_pause_after{1};
/// A resize right after the start can reach the Engine before the process exists.
constexpr unsigned resize_attempts = 4;
constexpr std::chrono::milliseconds resize_pause{50};

struct exec_state {
  context_ptr context;
  std::shared_ptr<const config::app_config> config;
  docker::session_request request;
  connection_container_actor container;
  channel_actor channel;

  std::string marker;  // CSSH_EXEC=<marker> identifies the program for `helper signal`
  std::string container_id;
  std::string exec_id;
  std::unique_ptr<stream_relay> relay;  // the exec's stream, both ways
  bool starting = false;  // exec start in flight
  bool started = false;
  bool stopping = false;
  bool finished = false;
  bool exited = false;  // exit reported or known
  unsigned inspections = 0;

  std::vector<int> delivered_signals;
  held_signals early_signals;
  std::optional<std::pair<unsigned, unsigned>> size;  // rows, cols
};

using self_ptr = exec_impl::stateful_pointer<exec_state>;

caf::actor handle_of(self_ptr self) { return caf::actor_cast<caf::actor>(self); }

void finish(self_ptr self) {
  auto& st = self->state;
  if (st.finished) return;
  st.finished = true;
  st.relay->close();
  self->quit();
}

/// `what` names the step for the client and the log; the failure's code decides the exit status.
void fail_program(self_ptr self, const std::string& what, const failure& why) {
  auto& st = self->state;
  log::warning("DOCKER_PROGRAM_FAILED", what + ": " + why.message,
               {{"connectionId", st.request.connection_id}, {"containerId", st.container_id}, {"execId", st.exec_id},
                {"cause", why.code}});
  st.relay->close();  // no output may follow the failure
  self->send(st.channel, program_failed{failure{why.code, what + ": " + why.message}});
  finish(self);
}

/// Runs `helper signal` as a second exec; fire and forget (a failure is logged).
void send_signal_exec(self_ptr self, int number) {
  auto& st = self->state;
  auto engine = st.context->engine;
  auto body = docker::build_signal_exec_body(st.marker, number);
  std::string connection_id = st.request.connection_id;
  engine->create_exec(st.container_id, body, metrics::count_docker_call<std::string>("exec_create", [engine, number, connection_id](result<std::string> created) {
    auto report = [number, connection_id](const failure& f) {
      log::warning("DOCKER_SIGNAL_FAILED", "signal " + std::to_string(number) + " could not be delivered: " + f.message,
                   {{"connectionId", connection_id}});
    };
    if (!created) return report(created.error());
    engine->start_exec_detached(created.value(), metrics::count_docker_call<void>("exec_start", [report](result<void> started) {
      if (!started) report(started.error());
    }));
  }));
}

void deliver_signal(self_ptr self, const std::string& name) {
  auto& st = self->state;
  auto number = ssh::signal_number(name);
  if (!number) return;
  st.delivered_signals.push_back(*number);
  send_signal_exec(self, *number);
}

void report_exit(self_ptr self, std::int64_t exit_code) {
  auto& st = self->state;
  st.exited = true;
  const int code = static_cast<int>(exit_code);
  st.relay->close();  // no output may follow the exit status
  self->send(st.channel, program_exited{code, signal_of_exit(code, st.delivered_signals)});
  finish(self);
}

void inspect(self_ptr self) {
  auto& st = self->state;
  st.context->engine->inspect_exec(
      st.exec_id, counted_reply_as<inspect_step, exec_state_reply>(handle_of(self), "exec_inspect"));
}

void apply_size(self_ptr self, unsigned attempt) {
  auto& st = self->state;
  if (!st.started || !st.size || !st.request.tty || st.finished) return;
  auto me = handle_of(self);
  st.context->engine->resize_exec(
      st.exec_id, st.size->first, st.size->second, metrics::count_docker_call<void>("exec_resize", [me, attempt](result<void> r) {
        if (!r && attempt + 1 < resize_attempts) caf::delayed_anon_send(me, resize_pause, resize_again{attempt + 1});
      }));
}

exec_impl::behavior_type exec_behavior(self_ptr self, context_ptr context, std::shared_ptr<const config::app_config> config,
                                       docker::session_request request, connection_container_actor container,
                                       channel_actor channel, relay_target target) {
  auto& st = self->state;
  st.context = std::move(context);
  st.config = std::move(config);
  st.request = std::move(request);
  st.container = std::move(container);
  st.channel = std::move(channel);
  st.marker = random_hex_id();
  st.relay = std::make_unique<stream_relay>(handle_of(self), std::move(target), st.request.tty);
  want_container<container_step>(self, st.container);
  return {
      // --- the connection's container, then the exec ---------------------------------------
      [=](engine_reply<container_step, std::string>& msg) {
        auto& s = self->state;
        if (s.finished) return;
        if (!msg.value) return fail_program(self, "the connection's container is not available", msg.value.error());
        if (s.stopping) return finish(self);
        s.container_id = msg.value.value();
        self->delayed_send(self, s.config->docker.execution.timeouts.command_start, start_deadline{});
        s.context->engine->create_exec(s.container_id, docker::build_exec_body(s.request, s.marker),
                                       counted_reply_as<create_step, std::string>(handle_of(self), "exec_create"));
      },
      [=](engine_reply<create_step, std::string>& msg) {
        auto& s = self->state;
        if (s.finished) return;
        if (!msg.value) return fail_program(self, "creating the session's exec failed", msg.value.error());
        s.exec_id = msg.value.value();
        if (s.stopping) return finish(self);  // never started: nothing runs
        s.starting = true;
        s.context->engine->start_exec_attached(s.exec_id, s.request.tty,
                                               counted_reply_as<start_step, stream_ptr>(handle_of(self), "exec_start"));
      },
      [=](engine_reply<start_step, stream_ptr>& msg) {
        auto& s = self->state;
        s.starting = false;
        if (s.finished) return;
        if (!msg.value) return fail_program(self, "starting the session's exec failed", msg.value.error());
        s.started = true;
        auto& stream = msg.value.value();
        if (s.stopping) {
          // The client left (or commandStart ran out and the user was told) while the start was
          // on its way: the program must not run on alone, and none of its output may follow.
          stream->close();
          send_signal_exec(self, 9);
          return finish(self);
        }
        s.relay->attach(std::move(stream), "exec " + s.exec_id);
        s.relay->allow_half_close();  // the exec runs already: nothing to wait for
        log::debug("DOCKER_EXEC_STARTED", "session exec started",
                   {{"connectionId", s.request.connection_id}, {"containerId", s.container_id}, {"execId", s.exec_id}});
        // The helper gave the terminal its first size; only a later change needs the Engine.
        if (s.size && (s.size->first != s.request.rows || s.size->second != s.request.cols)) apply_size(self, 0);
        for (const auto& name : s.early_signals.release()) deliver_signal(self, name);
      },
      [=](start_deadline) {
        auto& s = self->state;
        if (s.started || s.finished) return;
        auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(
            s.config->docker.execution.timeouts.command_start);
        const failure why{"DOCKER_START_TIMEOUT", "it did not start within docker.execution.timeouts.commandStart (" +
                                                      std::to_string(limit.count()) + " ms)"};
        if (!s.starting) return fail_program(self, "starting the session's exec failed", why);
        // The start is on its way: the user hears now, and the start's reply kills the program if it comes.
        log::warning("DOCKER_PROGRAM_FAILED", "starting the session's exec failed: " + why.message,
                     {{"connectionId", s.request.connection_id}, {"execId", s.exec_id}});
        self->send(s.channel, program_failed{failure{why.code, "starting the session's exec failed: " + why.message}});
        s.stopping = true;
      },
      [=](resize_again& msg) { apply_size(self, msg.attempt); },
      [=](relay_ready) {
        auto& s = self->state;
        if (!s.finished && s.relay->output_ended_now(s.stopping)) inspect(self);
      },
      [=](engine_reply<inspect_step, exec_state_reply>& msg) {
        auto& s = self->state;
        if (s.finished) return;
        if (!msg.value) return fail_program(self, "reading the session's exit code failed", msg.value.error());
        const auto& state = msg.value.value();
        if (!state.running && state.exit_code.value_or(-1) >= 0) return report_exit(self, *state.exit_code);
        auto pause = s.inspections < std::size(inspect_pauses) ? inspect_pauses[s.inspections]
                                                                : std::chrono::milliseconds(inspect_pause_after);
        ++s.inspections;
        self->delayed_send(self, pause, inspect_again{});
      },
      [=](inspect_again) {
        if (!self->state.finished) inspect(self);
      },
      // --- from the channel ---------------------------------------------------------------
      [=](io_resize& msg) {
        self->state.size = std::make_pair(msg.rows, msg.cols);
        apply_size(self, 0);
      },
      [=](io_signal& msg) {
        if (self->state.early_signals.pass(self->state.started, msg.name)) deliver_signal(self, msg.name);
      },
      [=](io_stop stop) {
        auto& s = self->state;
        s.stopping = true;
        if (s.starting) return;  // the start's reply kills it and finishes
        // The channel is gone but the connection (and its container) may live on: a program
        // still running there would be an orphan, so it is killed (as ContainerSSH does). When
        // the connection itself ended, the container's removal ends the program: a kill exec
        // would only race that removal (and log DOCKER_SIGNAL_FAILED for nothing).
        if (s.started && !s.exited && !stop.connection_gone) send_signal_exec(self, 9);
        // An exec created but never started runs nothing; the container's removal forgets it.
        finish(self);
      },
  };
}

}  // namespace

io_actor spawn_exec_io_actor(caf::actor_system& system, context_ptr context,
                             std::shared_ptr<const config::app_config> config, docker::session_request request,
                             connection_container_actor container, channel_actor channel, relay_target target) {
  auto impl = spawn_observed(system, "exec_io", exec_behavior, std::move(context), std::move(config),
                             std::move(request), std::move(container), std::move(channel), std::move(target));
  return caf::actor_cast<io_actor>(impl);
}

}  // namespace cssh::actors
