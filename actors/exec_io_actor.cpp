#include "actors/exec_io_actor.hpp"

#include <algorithm>
#include <mutex>
#include <random>
#include <vector>

#include "actors/actor_metrics.hpp"
#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "protocol/docker_frame.hpp"
#include "protocol/ssh_signals.hpp"

namespace cssh::actors {
namespace {

// Completions of Engine calls, carried from the reactor thread into the actor.
struct ex_container { container_ready ready; };
struct ex_created { bool ok; std::string id; std::string error; };
struct ex_started { std::shared_ptr<http::upgraded_stream> stream; std::string error; };
struct ex_inspected { bool ok; bool running; std::int64_t exit_code; std::string error; };
/// Time to ask the Engine about the exit code again (it still said Running).
struct ex_inspect_again {};
/// commandStart ran out before the exec started.
struct ex_start_deadline {};
struct ex_resize_again { unsigned attempt; };

}  // namespace
}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ex_container)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ex_created)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ex_started)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ex_inspected)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ex_inspect_again)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ex_start_deadline)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ex_resize_again)

namespace cssh::actors {
namespace {

using exec_impl = docker_io_actor::extend<caf::reacts_to<ex_container>, caf::reacts_to<ex_created>,
                                          caf::reacts_to<ex_started>, caf::reacts_to<relay_ready>,
                                          caf::reacts_to<relay_written>, caf::reacts_to<ex_inspected>,
                                          caf::reacts_to<ex_inspect_again>, caf::reacts_to<ex_start_deadline>,
                                          caf::reacts_to<ex_resize_again>>;

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
  std::vector<std::string> early_signals;
  std::optional<std::pair<unsigned, unsigned>> size;  // rows, cols
};

using self_ptr = exec_impl::stateful_pointer<exec_state>;

caf::actor handle_of(self_ptr self) { return caf::actor_cast<caf::actor>(self); }

std::string random_marker() {
  static std::mutex mutex;
  static std::mt19937_64 generator{std::random_device{}()};
  std::lock_guard<std::mutex> guard(mutex);
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(generator()),
                static_cast<unsigned long long>(generator()));
  return buf;
}

void finish(self_ptr self) {
  auto& st = self->state;
  if (st.finished) return;
  st.finished = true;
  st.relay->close();
  self->quit();
}

void fail_program(self_ptr self, const std::string& what, const std::string& error, int code = 125) {
  auto& st = self->state;
  log::warning("DOCKER_PROGRAM_FAILED", what + ": " + error,
               {{"connectionId", st.request.connection_id}, {"containerId", st.container_id}, {"execId", st.exec_id}});
  st.relay->close();  // no output may follow the failure
  self->send(st.channel, program_failed{code, what + ": " + error});
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
  // As in session mode: the Engine reports a death by signal N as 128+N; it is a signal only
  // when we delivered that signal ourselves (a program may also exit 130 on its own).
  int code = static_cast<int>(exit_code);
  std::string signal;
  if (code > 128 && std::find(st.delivered_signals.begin(), st.delivered_signals.end(), code - 128) !=
                        st.delivered_signals.end()) {
    signal = ssh::signal_name(code - 128).value_or("");
  }
  st.relay->close();  // no output may follow the exit status
  self->send(st.channel, program_exited{code, signal});
  finish(self);
}

void inspect(self_ptr self) {
  auto& st = self->state;
  auto me = handle_of(self);
  st.context->engine->inspect_exec(
      st.exec_id, metrics::count_docker_call<docker::engine::exec_state>("exec_inspect", [me](result<docker::engine::exec_state> r) {
        if (!r) return caf::anon_send(me, ex_inspected{false, false, -1, r.error().message});
        caf::anon_send(me, ex_inspected{true, r->running, r->exit_code.value_or(-1), ""});
      }));
}

void apply_size(self_ptr self, unsigned attempt) {
  auto& st = self->state;
  if (!st.started || !st.size || !st.request.tty || st.finished) return;
  auto me = handle_of(self);
  st.context->engine->resize_exec(
      st.exec_id, st.size->first, st.size->second, metrics::count_docker_call<void>("exec_resize", [me, attempt](result<void> r) {
        if (!r && attempt + 1 < resize_attempts) caf::delayed_anon_send(me, resize_pause, ex_resize_again{attempt + 1});
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
  st.marker = random_marker();
  st.relay = std::make_unique<stream_relay>(handle_of(self), std::move(target), st.request.tty);
  auto me = handle_of(self);
  self->request(st.container, caf::infinite, container_wanted{})
      .then([me](container_ready& ready) { caf::anon_send(me, ex_container{std::move(ready)}); },
            [me](caf::error&) {
              caf::anon_send(me, ex_container{container_ready{"", "the connection's container is gone", 125}});
            });
  return {
      // --- the connection's container, then the exec ---------------------------------------
      [=](ex_container& msg) {
        auto& s = self->state;
        if (s.finished) return;
        if (msg.ready.id.empty()) return fail_program(self, "the connection's container is not available",
                                                      msg.ready.error, msg.ready.exit_code);
        if (s.stopping) return finish(self);
        s.container_id = msg.ready.id;
        self->delayed_send(self, s.config->docker.execution.timeouts.command_start, ex_start_deadline{});
        auto me2 = handle_of(self);
        s.context->engine->create_exec(s.container_id, docker::build_exec_body(s.request, s.marker),
                                       metrics::count_docker_call<std::string>("exec_create", [me2](result<std::string> r) {
                                         caf::anon_send(me2, ex_created{r.ok(), r.ok() ? r.value() : "",
                                                                        r.ok() ? "" : r.error().message});
                                       }));
      },
      [=](ex_created& msg) {
        auto& s = self->state;
        if (s.finished) return;
        if (!msg.ok) return fail_program(self, "creating the session's exec failed", msg.error);
        s.exec_id = msg.id;
        if (s.stopping) return finish(self);  // never started: nothing runs
        s.starting = true;
        auto me2 = handle_of(self);
        using stream_ptr = std::shared_ptr<http::upgraded_stream>;
        s.context->engine->start_exec_attached(s.exec_id, s.request.tty,
                                               metrics::count_docker_call<stream_ptr>("exec_start", [me2](result<stream_ptr> r) {
                                                 if (r) return caf::anon_send(me2, ex_started{r.value(), ""});
                                                 caf::anon_send(me2, ex_started{nullptr, r.error().message});
                                               }));
      },
      [=](ex_started& msg) {
        auto& s = self->state;
        s.starting = false;
        if (s.finished) return;
        if (!msg.stream) return fail_program(self, "starting the session's exec failed", msg.error);
        s.started = true;
        if (s.stopping) {
          // The client left (or commandStart ran out and the user was told) while the start was
          // on its way: the program must not run on alone, and none of its output may follow.
          msg.stream->close();
          send_signal_exec(self, 9);
          return finish(self);
        }
        s.relay->attach(std::move(msg.stream), "exec " + s.exec_id);
        s.relay->allow_half_close();  // the exec runs already: nothing to wait for
        log::debug("DOCKER_EXEC_STARTED", "session exec started",
                   {{"connectionId", s.request.connection_id}, {"containerId", s.container_id}, {"execId", s.exec_id}});
        // The helper gave the terminal its first size; only a later change needs the Engine.
        if (s.size && (s.size->first != s.request.rows || s.size->second != s.request.cols)) apply_size(self, 0);
        for (const auto& name : s.early_signals) deliver_signal(self, name);
        s.early_signals.clear();
      },
      [=](ex_start_deadline) {
        auto& s = self->state;
        if (s.started || s.finished) return;
        auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(
            s.config->docker.execution.timeouts.command_start);
        const std::string why = "it did not start within docker.execution.timeouts.commandStart (" +
                                std::to_string(limit.count()) + " ms)";
        if (!s.starting) return fail_program(self, "starting the session's exec failed", why);
        // The start is on its way: the user hears now, and ex_started kills the program if it comes.
        log::warning("DOCKER_PROGRAM_FAILED", "starting the session's exec failed: " + why,
                     {{"connectionId", s.request.connection_id}, {"execId", s.exec_id}});
        self->send(s.channel, program_failed{125, "starting the session's exec failed: " + why});
        s.stopping = true;
      },
      [=](ex_resize_again& msg) { apply_size(self, msg.attempt); },
      [=](relay_ready) {
        auto& s = self->state;
        if (s.finished) return;
        auto event = s.relay->on_ready();
        if (!event.ended_now) return;
        if (!event.read_error.empty() && !s.stopping) {
          log::debug("DOCKER_STREAM_ENDED", "exec stream ended with an error: " + event.read_error,
                     {{"execId", s.exec_id}});
        }
        inspect(self);
      },
      [=](ex_inspected& msg) {
        auto& s = self->state;
        if (s.finished) return;
        if (!msg.ok) return fail_program(self, "reading the session's exit code failed", msg.error);
        if (!msg.running && msg.exit_code >= 0) return report_exit(self, msg.exit_code);
        auto pause = s.inspections < std::size(inspect_pauses) ? inspect_pauses[s.inspections]
                                                                : std::chrono::milliseconds(inspect_pause_after);
        ++s.inspections;
        self->delayed_send(self, pause, ex_inspect_again{});
      },
      [=](ex_inspect_again) {
        if (!self->state.finished) inspect(self);
      },
      [=](relay_written& msg) { self->state.relay->on_written(msg); },
      // --- from the channel ---------------------------------------------------------------
      [=](io_stdin& msg) { self->state.relay->add_stdin(std::move(msg.bytes)); },
      [=](io_stdin_eof) { self->state.relay->stdin_eof(); },
      [=](io_resize& msg) {
        self->state.size = std::make_pair(msg.rows, msg.cols);
        apply_size(self, 0);
      },
      [=](io_signal& msg) {
        auto& s = self->state;
        if (!s.started) {
          s.early_signals.push_back(msg.name);
          return;
        }
        deliver_signal(self, msg.name);
      },
      [=](io_stop) {
        auto& s = self->state;
        s.stopping = true;
        if (s.starting) return;  // ex_started kills it and finishes
        // The channel is gone but the connection (and its container) may live on: a program
        // still running there would be an orphan, so it is killed (as ContainerSSH does).
        if (s.started && !s.exited) send_signal_exec(self, 9);
        // An exec created but never started runs nothing; the container's removal forgets it.
        finish(self);
      },
  };
}

}  // namespace

docker_io_actor spawn_exec_io_actor(caf::actor_system& system, context_ptr context,
                                    std::shared_ptr<const config::app_config> config, docker::session_request request,
                                    connection_container_actor container, channel_actor channel, relay_target target) {
  auto impl = spawn_observed(system, "exec_io", exec_behavior, std::move(context), std::move(config),
                             std::move(request), std::move(container), std::move(channel), std::move(target));
  return caf::actor_cast<docker_io_actor>(impl);
}

}  // namespace cssh::actors
