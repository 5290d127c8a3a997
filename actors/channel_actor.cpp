#include "actors/channel_actor.hpp"

#include <deque>
#include <optional>

#include "actors/actor_metrics.hpp"
#include "actors/docker_io_actor.hpp"
#include "actors/exec_io_actor.hpp"
#include "actors/session_metrics.hpp"
#include "common/log.hpp"
#include "docker/container_spec.hpp"
#include "protocol/ssh_signals.hpp"

namespace cssh::actors {
namespace {


struct channel_state {
  context_ptr context;
  ssh::channel_id ch = 0;
  std::shared_ptr<ssh::session_commands> session;
  connection_info info;
  container_supervisor supervisor;

  std::string term;
  std::optional<std::pair<unsigned, unsigned>> size;  // cols, rows
  bool pty = false;
  std::vector<std::string> env;
  std::optional<docker_io_actor> io;
  bool program_requested = false;
  bool done = false;  // exit reported; waiting for the client's CLOSE
};

using self_ptr = channel_actor::stateful_pointer<channel_state>;

std::string ip_of(const std::string& address) {
  if (!address.empty() && address.front() == '[') return address.substr(1, address.find(']') - 1);
  auto colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

std::string port_of(const std::string& address) {
  auto colon = address.rfind(':');
  return colon == std::string::npos ? "0" : address.substr(colon + 1);
}

/// The argv for a request, or nullopt with a reason when the request cannot be served.
std::optional<std::vector<std::string>> program_argv(const config::docker_execution_config& exec,
                                                     const ch_program& req, std::string& refusal) {
  // The session thread refuses these by the file's configuration already; a configuration
  // server may have disabled them for this connection only.
  if ((req.kind == ssh::program_kind::exec && exec.disable_command) ||
      (req.kind == ssh::program_kind::shell && exec.disable_shell) ||
      (req.kind == ssh::program_kind::subsystem && exec.disable_subsystem)) {
    refusal = std::string(req.kind == ssh::program_kind::exec    ? "command execution"
                          : req.kind == ssh::program_kind::shell ? "shell access"
                                                                 : "subsystems") +
              " is disabled on this server";
    return std::nullopt;
  }
  switch (req.kind) {
    case ssh::program_kind::exec:
      return docker::command_to_argv(req.argument);
    case ssh::program_kind::shell:
      // The seed: container.cmd is respected in session mode; else shellCommand. In connection
      // mode the container runs idleCommand, and a shell is always shellCommand.
      if (exec.mode == config::execution_mode::session && !exec.container.cmd.empty())
        return std::vector<std::string>{};
      return exec.shell_command;
    case ssh::program_kind::subsystem: {
      auto it = exec.subsystems.find(req.argument);
      if (it == exec.subsystems.end()) {
        refusal = "subsystem \"" + req.argument + "\" is not configured";
        return std::nullopt;
      }
      return docker::command_to_argv(it->second);
    }
  }
  return std::nullopt;
}

void finish_with(self_ptr self, int exit_code) {
  auto& st = self->state;
  st.session->send_exit_status(st.ch, exit_code);
  st.session->send_eof(st.ch);
  st.session->close_channel(st.ch);
  st.done = true;
}

channel_actor::behavior_type channel_behavior(self_ptr self, context_ptr context, ssh::channel_id ch,
                                              std::shared_ptr<ssh::session_commands> session,
                                              connection_info info, container_supervisor supervisor) {
  auto& st = self->state;
  st.context = std::move(context);
  st.ch = ch;
  st.session = std::move(session);
  st.info = std::move(info);
  st.supervisor = std::move(supervisor);
  return {
      [=](ch_pty& msg) {
        auto& s = self->state;
        s.pty = true;
        s.term = msg.term;
        s.size = std::make_pair(msg.cols, msg.rows);
      },
      [=](ch_env& msg) { self->state.env.push_back(msg.name + "=" + msg.value); },
      [=](ch_program& msg) {
        auto& s = self->state;
        if (s.program_requested) return;  // the driver refuses a second one already
        s.program_requested = true;
        const auto& exec = s.info.config->docker.execution;
        count_session(exec.mode, msg.kind);
        std::string refusal;
        auto argv = program_argv(exec, msg, refusal);
        if (!argv) {
          s.session->write(s.ch, ssh::output_stream::stderr_stream, refusal + "\r\n");
          count_exit(127, false);
          finish_with(self, 127);
          return;
        }
        docker::session_request req;
        req.connection_id = s.info.connection_id;
        req.username = s.info.username;
        req.remote_ip = ip_of(s.info.remote_address);
        req.instance_id = s.context->instance_id;
        req.command = std::move(*argv);
        req.tty = s.pty;
        req.term = s.term;
        req.env = s.env;
        req.env.push_back("USER=" + s.info.username);
        req.env.push_back("LOGNAME=" + s.info.username);
        // As OpenSSH sets them: "client-ip client-port server-port" and "client-ip client-port
        // server-ip server-port".
        const std::string client = ip_of(s.info.remote_address) + " " + port_of(s.info.remote_address);
        const std::string server_port = s.info.local_address.empty() ? "22" : port_of(s.info.local_address);
        req.env.push_back("SSH_CLIENT=" + client + " " + server_port);
        if (!s.info.local_address.empty())
          req.env.push_back("SSH_CONNECTION=" + client + " " + ip_of(s.info.local_address) + " " + server_port);
        // As OpenSSH: the command the client asked for. Under forceCommand that is the original
        // request (unset for a shell), never the forced command itself.
        if (msg.forced) {
          // A forced command may trust this variable: the client must not be able to set it.
          std::erase_if(req.env, [](const std::string& e) { return e.starts_with("SSH_ORIGINAL_COMMAND="); });
          if (msg.original_command) req.env.push_back("SSH_ORIGINAL_COMMAND=" + *msg.original_command);
        } else if (msg.kind == ssh::program_kind::exec) {
          req.env.push_back("SSH_ORIGINAL_COMMAND=" + msg.argument);
        }
        for (const auto& [name, value] : s.info.environment) req.env.push_back(name + "=" + value);
        for (const auto& [path, file] : s.info.files) req.files[path] = file.value;
        if (s.size) {
          req.cols = s.size->first;
          req.rows = s.size->second;
        }
        // Connection mode: an exec in the connection's container; session mode: a container.
        auto io = s.info.container
                      ? spawn_exec_io_actor(*s.context->system, s.context, s.info.config, std::move(req),
                                            *s.info.container, caf::actor_cast<channel_actor>(self),
                                            relay_target{s.session, s.ch})
                      : spawn_docker_io_actor(*s.context->system, s.context, s.info.config, std::move(req),
                                              caf::actor_cast<channel_actor>(self), relay_target{s.session, s.ch},
                                              s.supervisor);
        if (s.size) self->send(io, io_resize{s.size->second, s.size->first});
        s.io = io;
      },
      [=](ch_window& msg) {
        auto& s = self->state;
        s.size = std::make_pair(msg.cols, msg.rows);
        if (s.io) self->send(*s.io, io_resize{msg.rows, msg.cols});
      },
      [=](ch_signal& msg) {
        auto& s = self->state;
        if (!ssh::is_rfc4254_signal(msg.name)) {
          log::info("SSH_SIGNAL_UNKNOWN", "ignoring a signal request with a name RFC 4254 does not define",
                    {{"connectionId", s.info.connection_id}, {"signal", msg.name}});
          return;
        }
        if (s.io) self->send(*s.io, io_signal{msg.name});
      },
      [=](ch_data& msg) {
        auto& s = self->state;
        metrics::server().session_bytes_in.inc(msg.bytes.size());
        if (s.io) {
          self->send(*s.io, io_stdin{std::move(msg.bytes)});
        } else {
          // Data before a program exists has nowhere to go (OpenSSH drops it too); the
          // client's window must not shrink for it.
          s.session->input_consumed(s.ch, msg.bytes.size());
        }
      },
      [=](ch_eof&) {
        auto& s = self->state;
        if (s.io) self->send(*s.io, io_stdin_eof{});
      },
      [=](ch_closed&) {
        auto& s = self->state;
        if (s.io && !s.done) self->send(*s.io, io_stop{});
        self->quit();
      },
      [=](program_exited& msg) {
        auto& s = self->state;
        log::debug("SSH_PROGRAM_EXITED", "program exited",
                   {{"connectionId", s.info.connection_id}, {"channel", s.ch}, {"exitCode", msg.exit_code},
                    {"signal", msg.signal_name}});
        count_exit(msg.exit_code, !msg.signal_name.empty());
        if (msg.signal_name.empty()) {
          finish_with(self, msg.exit_code);
        } else {
          // OpenSSH sends exit-signal instead of exit-status for a program killed by a signal.
          s.session->send_exit_signal(s.ch, msg.signal_name, false, "");
          s.session->send_eof(s.ch);
          s.session->close_channel(s.ch);
          s.done = true;
        }
      },
      [=](program_failed& msg) {
        auto& s = self->state;
        s.session->write(s.ch, ssh::output_stream::stderr_stream, msg.message + "\r\n");
        count_start_failure();
        finish_with(self, msg.exit_code);
      },
  };
}

}  // namespace

channel_actor spawn_channel_actor(caf::actor_system& system, context_ptr context, ssh::channel_id ch,
                                  std::shared_ptr<ssh::session_commands> session,
                                  connection_info info, container_supervisor supervisor) {
  return spawn_observed(system, "channel", channel_behavior, std::move(context), ch, std::move(session),
                        std::move(info), std::move(supervisor));
}

}  // namespace cssh::actors
