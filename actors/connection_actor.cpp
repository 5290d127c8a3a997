#include "actors/connection_actor.hpp"

#include <map>

#include "common/log.hpp"

namespace cssh::actors {
namespace {

struct connection_state {
  context_ptr context;
  std::shared_ptr<ssh::session_commands> session;
  connection_info info;
  std::optional<container_supervisor> supervisor;
  std::map<ssh::channel_id, channel_actor> channels;
  bool authenticated = false;
  std::string pending_username;  // authenticatedUsername from the auth answer
};

using self_ptr = connection_actor::stateful_pointer<connection_state>;

template <class Message>
void route(self_ptr self, Message& msg) {
  auto& st = self->state;
  auto it = st.channels.find(msg.ch);
  if (it != st.channels.end()) self->send(it->second, std::move(msg));
}

connection_actor::behavior_type connection_behavior(self_ptr self, context_ptr context,
                                                    std::shared_ptr<ssh::session_commands> session,
                                                    connection_info info) {
  auto& st = self->state;
  st.context = std::move(context);
  st.session = std::move(session);
  st.info = std::move(info);
  log::info("SSH_CONNECTED", "client connected",
            {{"connectionId", st.info.connection_id}, {"remoteAddress", st.info.remote_address}});
  return {
      [=](conn_password& msg) -> caf::result<auth_verdict> {
        auto& s = self->state;
        password_check check{msg.username, msg.password, s.info.remote_address, s.info.connection_id,
                             msg.client_version};
        s.info.client_version = msg.client_version;
        auto promise = self->make_response_promise<auth_verdict>();
        // No deadline here: the auth actor answers within auth.authTimeout, and the session
        // thread waiting on us has its own.
        self->request(s.context->auth, caf::infinite, std::move(check))
            .then(
                [=](auth_verdict& verdict) mutable {
                  if (verdict.success) {
                    // Remembered now; conn_authenticated (from the session) makes it final.
                    self->state.info.environment = verdict.environment;
                    if (!verdict.authenticated_username.empty()) {
                      self->state.pending_username = verdict.authenticated_username;
                    }
                  }
                  promise.deliver(std::move(verdict));
                },
                [=](caf::error& err) mutable {
                  promise.deliver(denied("auth actor failed: " + self->system().render(err)));
                });
        return promise;
      },
      [=](conn_authenticated& msg) {
        auto& s = self->state;
        s.authenticated = true;
        s.info.username = s.pending_username.empty() ? msg.username : s.pending_username;
        s.supervisor = spawn_container_supervisor(*s.context->system, s.context, s.info.connection_id);
        log::info("SSH_AUTH_SUCCESSFUL", "user authenticated",
                  {{"connectionId", s.info.connection_id}, {"username", msg.username}});
      },
      [=](conn_channel_opened& msg) {
        auto& s = self->state;
        if (!s.supervisor) return;  // libssh only opens channels after authentication
        s.channels.emplace(msg.ch, spawn_channel_actor(*s.context->system, s.context, msg.ch, s.session,
                                                       s.info, *s.supervisor));
      },
      [=](ch_pty& msg) { route(self, msg); },
      [=](ch_env& msg) { route(self, msg); },
      [=](ch_program& msg) { route(self, msg); },
      [=](ch_window& msg) { route(self, msg); },
      [=](ch_signal& msg) { route(self, msg); },
      [=](ch_data& msg) { route(self, msg); },
      [=](ch_eof& msg) { route(self, msg); },
      [=](ch_drained& msg) { route(self, msg); },
      [=](ch_closed& msg) {
        route(self, msg);
        self->state.channels.erase(msg.ch);
      },
      [=](conn_disconnected& msg) {
        auto& s = self->state;
        for (auto& [ch, actor] : s.channels) self->send(actor, ch_closed{ch});
        s.channels.clear();
        if (s.supervisor) self->send(*s.supervisor, supervisor_shutdown{});
        log::info("SSH_DISCONNECTED", "client disconnected",
                  {{"connectionId", s.info.connection_id}, {"reason", msg.reason}});
        s.session.reset();
        self->quit();
      },
  };
}

}  // namespace

connection_actor spawn_connection_actor(caf::actor_system& system, context_ptr context,
                                        std::shared_ptr<ssh::session_commands> session,
                                        connection_info info) {
  return system.spawn(connection_behavior, std::move(context), std::move(session), std::move(info));
}

// --- session_bridge: the session thread's side -------------------------------------------

session_bridge::session_bridge(context_ptr context, connection_info info)
    : context_(std::move(context)), info_(std::move(info)) {}

void session_bridge::bind(std::shared_ptr<ssh::session_commands> session) {
  actor_ = spawn_connection_actor(*context_->system, context_, std::move(session), info_);
}

bool session_bridge::check_password(const std::string& user, const std::string& password,
                                    const std::string& client_version) {
  // The one place the session thread waits: no channel exists yet, so nothing else of this
  // connection can stall, and other connections have threads of their own.
  caf::scoped_actor waiter{*context_->system};
  bool admitted = false;
  auto deadline = context_->config->auth.auth_timeout + std::chrono::seconds(1);
  waiter->request(actor_, deadline, conn_password{user, password, client_version})
      .receive([&](auth_verdict& verdict) { admitted = verdict.success; },
               [&](caf::error& err) {
                 log::warning("AUTH_TIMEOUT", "password check did not finish: " + waiter->system().render(err),
                              {{"connectionId", info_.connection_id}, {"username", user}});
               });
  return admitted;
}

void session_bridge::authenticated(const std::string& user) { caf::anon_send(actor_, conn_authenticated{user}); }

void session_bridge::channel_opened(ssh::channel_id ch) { caf::anon_send(actor_, conn_channel_opened{ch}); }

void session_bridge::pty_requested(ssh::channel_id ch, const std::string& term, unsigned cols, unsigned rows) {
  caf::anon_send(actor_, ch_pty{ch, term, cols, rows});
}

void session_bridge::env_requested(ssh::channel_id ch, const std::string& name, const std::string& value) {
  caf::anon_send(actor_, ch_env{ch, name, value});
}

bool session_bridge::program_requested(ssh::channel_id ch, ssh::program_kind kind, const std::string& argument) {
  const auto& exec = context_->config->docker.execution;
  // One program per channel (RFC 4254 6.5); refusals that need no container are answered here.
  if (!programs_started_.insert(ch).second) return false;
  if (kind == ssh::program_kind::exec && exec.disable_command) return false;
  if (kind == ssh::program_kind::shell && exec.disable_shell) return false;
  if (kind == ssh::program_kind::subsystem &&
      (exec.disable_subsystem || exec.subsystems.find(argument) == exec.subsystems.end())) {
    return false;
  }
  caf::anon_send(actor_, ch_program{ch, kind, argument});
  return true;
}

void session_bridge::window_changed(ssh::channel_id ch, unsigned cols, unsigned rows) {
  caf::anon_send(actor_, ch_window{ch, cols, rows});
}

void session_bridge::signal_requested(ssh::channel_id ch, const std::string& signal_name) {
  caf::anon_send(actor_, ch_signal{ch, signal_name});
}

void session_bridge::data_received(ssh::channel_id ch, std::string bytes) {
  caf::anon_send(actor_, ch_data{ch, std::move(bytes)});
}

void session_bridge::eof_received(ssh::channel_id ch) { caf::anon_send(actor_, ch_eof{ch}); }

void session_bridge::channel_closed(ssh::channel_id ch) {
  programs_started_.erase(ch);
  caf::anon_send(actor_, ch_closed{ch});
}

void session_bridge::output_drained(ssh::channel_id ch, std::size_t bytes) {
  caf::anon_send(actor_, ch_drained{ch, bytes});
}

void session_bridge::disconnected(const std::string& reason) { caf::anon_send(actor_, conn_disconnected{reason}); }

}  // namespace cssh::actors
