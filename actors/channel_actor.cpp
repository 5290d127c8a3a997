#include "actors/channel_actor.hpp"

#include <deque>
#include <optional>

#include "actors/actor_metrics.hpp"
#include "actors/docker_io_actor.hpp"
#include "actors/exec_io_actor.hpp"
#include "actors/exit_codes.hpp"
#include "actors/session_metrics.hpp"
#include "common/log.hpp"
#include "docker/container_spec.hpp"
#include "protocol/ssh/signals.hpp"

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
  std::optional<io_actor> io;
  bool program_requested = false;
  bool done = false;  // exit reported; waiting for the client's CLOSE
};

using self_ptr = channel_actor::stateful_pointer<channel_state>;

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
        docker::session_request req;
        req.connection_id = s.info.connection_id;
        req.username = s.info.username;
        req.remote_ip = ip_of(s.info.remote_address);
        req.instance_id = s.context->instance_id;
        req.command = std::move(msg.argv);
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
                                            relay_target{s.session, s.ch, msg.input})
                      : spawn_docker_io_actor(*s.context->system, s.context, s.info.config, std::move(req),
                                              caf::actor_cast<channel_actor>(self), relay_target{s.session, s.ch, msg.input},
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
      [=](ch_closed& closed) {
        auto& s = self->state;
        if (s.io && !s.done) self->send(*s.io, io_stop{closed.connection_gone});
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
        s.session->write(s.ch, ssh::output_stream::stderr_stream, msg.why.message + "\r\n");
        count_start_failure();
        finish_with(self, exit_code_for(msg.why));
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
