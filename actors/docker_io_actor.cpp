#include "actors/docker_io_actor.hpp"

#include <algorithm>
#include <vector>

#include "actors/actor_metrics.hpp"
#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "docker/container_files.hpp"
#include "docker/image_policy.hpp"
#include "protocol/docker_frame.hpp"
#include "protocol/ssh_signals.hpp"

namespace cssh::actors {
namespace {

// Completions of Engine calls, carried from the reactor thread into the actor.
struct io_image_ready { bool ok; std::string error; };
struct io_created { bool ok; std::string id; std::string error; resource_limits::slot slot; };
struct io_attached { std::shared_ptr<http::upgraded_stream> stream; std::string error; };
struct io_started { bool ok; std::string error; };
struct io_waited { bool ok; std::int64_t code; std::string error; };
/// The program exited but the stream has not ended: stop waiting for stragglers.
struct io_stream_grace {};
/// The webhook answers' files are in the container (or could not be put there).
struct io_files_written { bool ok; std::string error; };
/// The guest helper's volume is there ("" if it could not be made: session mode goes without).
struct io_helper_ready { std::string volume; };
/// The image's Config, for running its program through the helper (TTY sessions).
struct io_image_config { bool ok; nlohmann::json config; std::string error; };

}  // namespace
}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_image_ready)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_created)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_attached)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_started)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_waited)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_stream_grace)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_files_written)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_helper_ready)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_image_config)

namespace cssh::actors {
namespace {

using io_impl = docker_io_actor::extend<caf::reacts_to<io_image_ready>, caf::reacts_to<io_created>, caf::reacts_to<io_attached>,
                                        caf::reacts_to<io_started>, caf::reacts_to<relay_ready>,
                                        caf::reacts_to<relay_written>, caf::reacts_to<io_waited>,
                                        caf::reacts_to<io_stream_grace>, caf::reacts_to<io_files_written>,
                                        caf::reacts_to<io_helper_ready>, caf::reacts_to<io_image_config>>;

constexpr std::chrono::seconds stream_grace{2};

struct io_state {
  context_ptr context;
  std::shared_ptr<const config::app_config> config;
  docker::session_request request;
  channel_actor channel;
  container_supervisor supervisor;

  std::string container_id;
  std::unique_ptr<stream_relay> relay;  // the attach stream, both ways
  bool image_ready = false;  // ensure_image ran (the TTY helper path reads the image first)
  bool started = false;
  bool stopping = false;
  bool finished = false;

  /// Signals delivered through SSH `signal` requests (numbers), to tell an exit by signal.
  std::vector<int> delivered_signals;
  /// Signals asked for before the Engine confirmed the start (output can arrive earlier).
  std::vector<std::string> early_signals;

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

void fail_program(self_ptr self, const std::string& what, const std::string& error) {
  auto& st = self->state;
  // Mirrors `docker run`: 127 for a program that cannot be found, 125 for everything else.
  int code = error.find("executable file not found") != std::string::npos ||
                     error.find("no such file or directory") != std::string::npos
                 ? 127
                 : 125;
  log::warning("DOCKER_PROGRAM_FAILED", what + ": " + error,
               {{"connectionId", st.request.connection_id}, {"containerId", st.container_id}});
  st.relay->close();  // no output may follow the failure
  self->send(st.channel, program_failed{code, what + ": " + error});
  finish(self);
}

void maybe_report_exit(self_ptr self) {
  auto& st = self->state;
  if (!st.exit_code || st.finished) return;
  if (!st.relay->output_ended()) return;  // output first, exit status after
  // The Engine reports a death by signal N as exit code 128+N (its init forwards the
  // signal and exits so). We call it a signal only when we delivered that signal ourselves:
  // a program may also exit 130 on its own.
  int code = static_cast<int>(*st.exit_code);
  std::string signal;
  if (code > 128 && std::find(st.delivered_signals.begin(), st.delivered_signals.end(), code - 128) !=
                        st.delivered_signals.end()) {
    signal = ssh::signal_name(code - 128).value_or("");
  }
  st.relay->close();  // no output may follow the exit status
  self->send(st.channel, program_exited{code, signal});
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
  resource_limits::slot slot;
  if (st.context->limits) {
    std::string refusal;
    slot = st.context->limits->reserve_container(st.request.connection_id, refusal);
    if (!slot) {
      self->send(st.channel, program_failed{125, refusal});
      return finish(self);
    }
  }
  auto body = docker::build_create_body(st.config->docker.execution, st.request);
  if (image_config) docker::wrap_with_helper(body, *image_config, st.request.rows, st.request.cols);
  auto me = handle_of(self);
  // The place travels with the completion: a failed create gives it back right away.
  auto done = [me, slot](result<std::string> r) {
    if (r.ok()) {
      caf::anon_send(me, io_created{true, r.value(), "", slot});
    } else {
      caf::anon_send(me, io_created{false, "", r.error().message, nullptr});
    }
  };
  // The pull policy runs around the create: usually the create is the only call.
  docker::create_under_pull_policy(st.context->engine, st.config->docker.execution, st.request.connection_id, st.image_ready,
                                   std::move(body), done);
}

/// A TTY session starts its program through the guest helper, which sets the terminal size first
/// (the Engine can only resize after the start): that needs the image's Entrypoint and Cmd.
void create_container(self_ptr self) {
  auto& st = self->state;
  if (!st.request.tty || st.request.helper_volume.empty()) return send_create(self, nullptr);
  auto me = handle_of(self);
  st.context->engine->inspect_image(st.config->docker.execution.container.image,
                                    [me](result<std::optional<nlohmann::json>> r) {
                                      if (!r) return caf::anon_send(me, io_image_config{false, {}, r.error().message});
                                      nlohmann::json config = r.value() ? r.value()->value("Config", nlohmann::json::object())
                                                                        : nlohmann::json::object();
                                      caf::anon_send(me, io_image_config{true, std::move(config), ""});
                                    });
}

/// Session mode runs its program through the guest helper only with a TTY (to set the terminal's
/// size first); only such a container mounts the helper's volume. A helper that cannot be
/// installed is logged and the session goes on without it.
void prepare_helper(self_ptr self) {
  auto& st = self->state;
  auto me = handle_of(self);
  if (!st.context->helper || !st.request.tty) return self->send(self, io_helper_ready{""});
  std::string connection_id = st.request.connection_id;
  st.context->helper->ensure([me, connection_id](result<std::string> r) {
    if (!r) {
      log::warning("HELPER_UNAVAILABLE", r.error().message + "; the session runs without it",
                   {{"connectionId", connection_id}});
    }
    caf::anon_send(me, io_helper_ready{r.ok() ? r.value() : ""});
  });
}

/// imagePullPolicy before the create (docker/image_policy.hpp), for the TTY helper path that
/// reads the image first; then io_image_ready.
void ensure_image(self_ptr self) {
  auto& st = self->state;
  auto me = handle_of(self);
  docker::ensure_image(st.context->engine, st.config->docker.execution, st.request.connection_id,
                       [me](result<void> r) {
                         // The message names the image and the step ("inspect image <name>: ...").
                         caf::anon_send(me, io_image_ready{r.ok(), r.ok() ? "" : r.error().message});
                       });
}

/// Attaches before start, so no early output is lost; io_attached continues.
void attach_to_container(self_ptr self) {
  auto me = handle_of(self);
  using stream_ptr = std::shared_ptr<http::upgraded_stream>;
  self->state.context->engine->attach_container(
      self->state.container_id, metrics::count_docker_call<stream_ptr>("container_attach", [me](result<stream_ptr> r) {
        if (r.ok()) {
          caf::anon_send(me, io_attached{r.value(), ""});
        } else {
          caf::anon_send(me, io_attached{nullptr, r.error().message});
        }
      }));
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
      [=](io_helper_ready& msg) {
        auto& s = self->state;
        s.request.helper_volume = msg.volume;
        if (s.request.tty && !s.request.helper_volume.empty()) return ensure_image(self);
        if (s.stopping) return finish(self);
        create_container(self);  // the pull policy runs with the create
      },
      [=](io_image_config& msg) {
        auto& s = self->state;
        if (!msg.ok) {
          fail_program(self, "preparing the image failed", msg.error);
          return;
        }
        if (s.stopping) {
          finish(self);
          return;
        }
        send_create(self, &msg.config);
      },
      // --- Engine completions ------------------------------------------------------------
      [=](io_image_ready& msg) {
        auto& s = self->state;
        if (!msg.ok) {
          fail_program(self, "preparing the image failed", msg.error);
          return;
        }
        s.image_ready = true;
        if (s.stopping) {
          finish(self);
          return;
        }
        create_container(self);
      },
      [=](io_created& msg) {
        auto& s = self->state;
        if (!msg.ok) {
          fail_program(self, "creating the container failed", msg.error);
          return;
        }
        s.container_id = msg.id;
        self->send(s.supervisor, container_created{handle_of(self), msg.id, std::move(msg.slot)});
        log::debug("DOCKER_CONTAINER_CREATED", "container created",
                   {{"connectionId", s.request.connection_id}, {"containerId", msg.id}});
        if (s.stopping) {
          finish(self);
          return;
        }
        if (!s.request.files.empty()) {
          // The webhooks' files go in before the program can start (and look for them).
          auto me = handle_of(self);
          docker::write_container_files(s.context->engine, msg.id, s.request.files,
                                        metrics::count_docker_call<void>("container_files", [me](result<void> r) {
                                          caf::anon_send(me, io_files_written{r.ok(), r.ok() ? "" : r.error().message});
                                        }));
          return;
        }
        attach_to_container(self);
      },
      [=](io_files_written& msg) {
        auto& s = self->state;
        if (!msg.ok) {
          fail_program(self, "writing the files from the authentication answer into the container failed", msg.error);
          return;
        }
        log::debug("DOCKER_FILES_WRITTEN", "files from the authentication answer written into the container",
                   {{"connectionId", s.request.connection_id}, {"containerId", s.container_id},
                    {"files", s.request.files.size()}});
        if (s.stopping) {
          finish(self);
          return;
        }
        attach_to_container(self);
      },
      [=](io_attached& msg) {
        auto& s = self->state;
        if (!msg.stream) {
          fail_program(self, "attaching to the container failed", msg.error);
          return;
        }
        if (s.stopping) {
          msg.stream->close();
          finish(self);
          return;
        }
        s.relay->attach(std::move(msg.stream), "container " + s.container_id);
        auto me = handle_of(self);
        s.context->engine->start_container(s.container_id,
                                           metrics::count_docker_call<void>("container_start", [me](result<void> r) {
                                             caf::anon_send(me, io_started{r.ok(), r.ok() ? "" : r.error().message});
                                           }));
      },
      [=](io_started& msg) {
        auto& s = self->state;
        if (!msg.ok) {
          fail_program(self, "starting the container failed", msg.error);
          return;
        }
        s.started = true;
        s.relay->allow_half_close();  // a client's EOF that came before the start is passed on now
        metrics::server().container_start_seconds.observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - s.requested_at).count());
        apply_size(self);
        for (const auto& name : s.early_signals) deliver_signal(self, name);
        s.early_signals.clear();
        auto me = handle_of(self);
        s.context->engine->wait_container(
            s.container_id, metrics::count_docker_call<std::int64_t>("container_wait", [me](result<std::int64_t> r) {
              if (r.ok()) {
                caf::anon_send(me, io_waited{true, r.value(), ""});
              } else {
                caf::anon_send(me, io_waited{false, -1, r.error().message});
              }
            }));
      },
      [=](relay_ready) {
        auto& s = self->state;
        if (s.finished) return;
        auto event = s.relay->on_ready();
        if (!event.ended_now) return;
        if (!event.read_error.empty() && !s.stopping) {
          log::debug("DOCKER_STREAM_ENDED", "attach stream ended with an error: " + event.read_error,
                     {{"containerId", s.container_id}});
        }
        maybe_report_exit(self);
      },
      [=](relay_written& msg) { self->state.relay->on_written(msg); },
      [=](io_waited& msg) {
        auto& s = self->state;
        if (!msg.ok) {
          fail_program(self, "waiting for the container failed", msg.error);
          return;
        }
        s.exit_code = msg.code;
        if (!s.relay->output_ended()) self->delayed_send(self, stream_grace, io_stream_grace{});
        maybe_report_exit(self);
      },
      [=](io_stream_grace) {
        auto& s = self->state;
        if (s.finished) return;
        log::debug("DOCKER_STREAM_GRACE", "program exited but its output stream stayed open; closing it",
                   {{"containerId", s.container_id}});
        s.relay->mark_output_ended();
        maybe_report_exit(self);
      },
      // --- from the channel ---------------------------------------------------------------
      [=](io_stdin& msg) { self->state.relay->add_stdin(std::move(msg.bytes)); },
      [=](io_stdin_eof) { self->state.relay->stdin_eof(); },
      [=](io_resize& msg) {
        self->state.size = std::make_pair(msg.rows, msg.cols);
        apply_size(self);
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
        // Before the container exists there is nothing to hand over yet: io_created does it.
        if (!s.container_id.empty()) finish(self);
      },
  };
}

}  // namespace

docker_io_actor spawn_docker_io_actor(caf::actor_system& system, context_ptr context,
                                      std::shared_ptr<const config::app_config> config,
                                      docker::session_request request, channel_actor channel,
                                      relay_target target, container_supervisor supervisor) {
  auto impl = spawn_observed(system, "docker_io", io_behavior, std::move(context), std::move(config),
                             std::move(request), std::move(channel), std::move(target), std::move(supervisor));
  return caf::actor_cast<docker_io_actor>(impl);
}

}  // namespace cssh::actors
