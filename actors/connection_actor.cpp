#include "actors/connection_actor.hpp"

#include <map>

#include "actors/actor_metrics.hpp"
#include "actors/channel_actor.hpp"
#include "actors/forward_actor.hpp"
#include "actors/login_sequence.hpp"
#include "common/log.hpp"
#include "common/server_metrics.hpp"

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
  /// This login's place under limits.maxConnections(PerUser), held until the actor ends.
  held_place place;
  /// Login attempts so far: an outcome of an earlier one than the latest is stale (the session
  /// thread stopped waiting for it, AUTH_TIMEOUT, and asked again).
  std::uint64_t attempts = 0;
};

using self_ptr = connection_actor::stateful_pointer<connection_state>;

template <class Message>
void route(self_ptr self, Message& msg) {
  auto& st = self->state;
  auto it = st.channels.find(msg.ch);
  if (it != st.channels.end()) self->send(it->second, std::move(msg));
}

/// Runs one login attempt through a login_sequence; what it decides about the user is kept,
/// so that conn_authenticated (sent by the session when it admits the user) can make it final,
/// and only then does the session thread get the verdict.
template <class Check>
void authenticate(self_ptr self, Check check, verdict_promise promise) {
  auto& s = self->state;
  auto login = spawn_login_sequence(*s.context->system, s.context);
  const auto attempt = ++s.attempts;
  self->request(login, caf::infinite, std::move(check))
      .then(
          [=](login_outcome& outcome) mutable {
            auto& st = self->state;
            if (attempt != st.attempts) return promise.deliver(denied("a later login attempt replaced this one"));
            take_place(*st.context, st.place, outcome, st.info.connection_id, st.info.remote_address);  // step 4
            auto& verdict = outcome.verdict;
            if (!outcome.disconnect.empty() && st.session) st.session->disconnect(outcome.disconnect);
            if (!verdict.success) return promise.deliver(std::move(verdict));
            st.info.config = verdict.config;
            st.info.environment.clear();
            for (const auto& [name, v] : verdict.meta.environment) st.info.environment[name] = v.value;
            st.info.metadata = verdict.meta.metadata;
            st.info.files = verdict.meta.files;
            st.pending_username = verdict.authenticated_username;
            promise.deliver(std::move(verdict));
          },
          [=](caf::error& err) mutable {
            promise.deliver(denied("login sequence failed: " + self->system().render(err)));
          });
}

/// Connection mode: the connection's one container is made right after authentication (as
/// ContainerSSH does), so it is usually running by the time the first session asks for it.
void start_connection_container(self_ptr self) {
  auto& s = self->state;
  docker::session_request base;
  base.connection_id = s.info.connection_id;
  base.username = s.info.username;
  base.remote_ip = ip_of(s.info.remote_address);
  base.instance_id = s.context->instance_id;
  for (const auto& [name, value] : s.info.environment) base.env.push_back(name + "=" + value);
  for (const auto& [path, file] : s.info.files) base.files[path] = file.value;
  s.info.container = spawn_connection_container_actor(*s.context->system, s.context, s.info.config, std::move(base),
                                                      *s.supervisor);
}

connection_actor::behavior_type connection_behavior(self_ptr self, context_ptr context,
                                                    std::shared_ptr<ssh::session_commands> session,
                                                    connection_info info) {
  auto& st = self->state;
  st.context = std::move(context);
  st.session = std::move(session);
  st.info = std::move(info);
  count_ssh_connection(self);
  nlohmann::json details{{"connectionId", st.info.connection_id}, {"remoteAddress", st.info.remote_address}};
  if (!st.info.proxy_address.empty()) details["proxyAddress"] = st.info.proxy_address;
  log::info("SSH_CONNECTED", "client connected", details);
  return {
      [=](conn_password& msg) {
        auto& s = self->state;
        s.info.client_version = msg.client_version;
        authenticate(self,
                     password_check{msg.username, msg.password, s.info.remote_address, s.info.connection_id,
                                    msg.client_version},
                     std::move(msg.reply));
      },
      [=](conn_pubkey& msg) {
        auto& s = self->state;
        s.info.client_version = msg.client_version;
        authenticate(self,
                     pubkey_check{msg.username, msg.public_key, s.info.remote_address, s.info.connection_id,
                                  msg.client_version},
                     std::move(msg.reply));
      },
      [=](conn_authenticated& msg) {
        auto& s = self->state;
        s.authenticated = true;
        metrics::server().ssh_successful_handshakes.inc();
        s.info.username = s.pending_username.empty() ? msg.username : s.pending_username;
        s.supervisor = spawn_container_supervisor(*s.context->system, s.context, s.info.connection_id);
        const auto& exec = s.info.config->docker.execution;
        // Connection mode makes the container now, unless no program could ever run in it.
        if (exec.mode == config::execution_mode::connection &&
            !(exec.disable_command && exec.disable_shell && exec.disable_subsystem))
          start_connection_container(self);
        nlohmann::json details{{"connectionId", s.info.connection_id}, {"username", msg.username}};
        if (s.info.username != msg.username) details["authenticatedUsername"] = s.info.username;
        // What the webhooks said about the user; sensitive values never reach the log.
        if (!s.info.metadata.empty()) details["metadata"] = loggable(s.info.metadata);
        if (!s.info.files.empty()) details["files"] = loggable_files(s.info.files);
        if (s.info.config && s.info.config != s.context->config)
          details["image"] = s.info.config->docker.execution.container.image;
        log::info("SSH_AUTH_SUCCESSFUL", "user authenticated", details);
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
      [=](ch_closed& msg) {
        route(self, msg);
        self->state.channels.erase(msg.ch);
      },
      [=](conn_forwarding& msg) {
        auto& s = self->state;
        if (!s.supervisor) return msg.hub->fail(failure{"FORWARD_HELPER_FAILED", "not logged in"});
        // A configuration that disables every program makes no container at login; forwarding
        // still needs one.
        if (!s.info.container) start_connection_container(self);
        spawn_forward_actor(*s.context->system, s.context, *s.info.container, std::move(msg.hub));
      },
      [=](conn_disconnected& msg) {
        auto& s = self->state;
        for (auto& [ch, actor] : s.channels) self->send(actor, ch_closed{ch, true});
        s.channels.clear();
        if (s.info.container) self->send(*s.info.container, connection_container_stop{});
        if (s.supervisor) self->send(*s.supervisor, supervisor_shutdown{});
        if (!s.authenticated) metrics::server().ssh_failed_handshakes.inc();
        log::info("SSH_DISCONNECTED", "client disconnected",
                  {{"connectionId", s.info.connection_id}, {"username", s.info.username},
                   {"remoteAddress", s.info.remote_address}, {"reason", msg.reason}});
        s.session.reset();
        self->quit();
      },
  };
}

}  // namespace

connection_actor spawn_connection_actor(caf::actor_system& system, context_ptr context,
                                        std::shared_ptr<ssh::session_commands> session,
                                        connection_info info) {
  return spawn_observed(system, "connection", connection_behavior, std::move(context), std::move(session),
                        std::move(info));
}

}  // namespace cssh::actors
