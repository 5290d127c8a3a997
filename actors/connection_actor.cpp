#include "actors/connection_actor.hpp"

#include <map>

#include "actors/actor_metrics.hpp"
#include "actors/security_policy.hpp"
#include "common/log.hpp"
#include "common/security_metrics.hpp"

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
  resource_limits::slot login_slot;
  std::string login_slot_user;
};

using self_ptr = connection_actor::stateful_pointer<connection_state>;

template <class Message>
void route(self_ptr self, Message& msg) {
  auto& st = self->state;
  auto it = st.channels.find(msg.ch);
  if (it != st.channels.end()) self->send(it->second, std::move(msg));
}

/// Takes a place for `user` under `limits:`; false (logged, counted, the client told why and
/// disconnected) when a cap is reached. A connection holds one place, for its latest user.
bool admit_login(self_ptr self, const std::string& user, std::string& refusal) {
  auto& s = self->state;
  if (!s.context->limits || (s.login_slot && s.login_slot_user == user)) return true;
  auto admission = s.context->limits->admit_connection(user);
  if (!admission.held) {
    log::notice(admission.code, "login refused: " + admission.reason,
                {{"connectionId", s.info.connection_id}, {"username", user},
                 {"remoteAddress", s.info.remote_address}});
    metrics::security().count_limit_refusal(admission.limit);
    if (s.session) s.session->disconnect("login refused: " + admission.reason + "; try again later");
    refusal = admission.reason;
    return false;
  }
  s.login_slot = std::move(admission.held);
  s.login_slot_user = user;
  return true;
}

/// Asks the auth actor; on success remembers what the answer said about the user, so that
/// conn_authenticated (sent by the session when it admits the user) can make it final.
/// After a successful check (authorization included) the config fetch actor makes this
/// connection's configuration; a config server that fails ends the login: the attempt is refused
/// and the connection closed, so the client does not retry against a broken server.
template <class Check>
void authenticate(self_ptr self, Check check, verdict_promise promise) {
  // One deadline for the whole login (authentication, authorization, config server); the
  // session thread waiting on us gives up a little after it.
  check.deadline = std::chrono::steady_clock::now() + self->state.context->config->auth.auth_timeout;
  const auto deadline = check.deadline;
  const std::string typed_username = check.username;
  self->request(self->state.context->auth, caf::infinite, std::move(check))
      .then(
          [=](auth_verdict& verdict) mutable {
            if (!verdict.success) {
              promise.deliver(std::move(verdict));
              return;
            }
            auto& s = self->state;
            config_request req;
            req.login = {typed_username, s.info.remote_address, s.info.connection_id, s.info.client_version, verdict.meta};
            req.authenticated_username =
                verdict.authenticated_username.empty() ? typed_username : verdict.authenticated_username;
            req.image = verdict.image;
            req.deadline = deadline;
            self->request(s.context->config_fetch, caf::infinite, std::move(req))
                .then(
                    [=](config_answer& answer) mutable {
                      auto& s2 = self->state;
                      if (!answer.ok) {
                        log::warning("CONFIG_SERVER_FAILED", "login refused: " + answer.reason,
                                     {{"connectionId", s2.info.connection_id}, {"username", typed_username}});
                        if (s2.session)
                          s2.session->disconnect("login refused: the configuration server could not be used");
                        promise.deliver(denied(answer.reason));
                        return;
                      }
                      const std::string user = verdict.authenticated_username.empty()
                                                   ? typed_username
                                                   : verdict.authenticated_username;
                      std::string refusal;
                      if (!admit_login(self, user, refusal)) {
                        promise.deliver(denied(refusal));
                        return;
                      }
                      verdict.meta.merge(answer.meta);
                      verdict.config = answer.config;
                      s2.info.config = answer.config;
                      s2.info.environment.clear();
                      for (const auto& [name, v] : verdict.meta.environment) s2.info.environment[name] = v.value;
                      s2.info.metadata = verdict.meta.metadata;
                      s2.info.files = verdict.meta.files;
                      s2.pending_username = verdict.authenticated_username;
                      promise.deliver(std::move(verdict));
                    },
                    [=](caf::error& err) mutable {
                      promise.deliver(denied("config fetch actor failed: " + self->system().render(err)));
                    });
          },
          [=](caf::error& err) mutable {
            promise.deliver(denied("auth actor failed: " + self->system().render(err)));
          });
}

/// Connection mode: the connection's one container is made right after authentication (as
/// ContainerSSH does), so it is usually running by the time the first session asks for it.
void start_connection_container(self_ptr self) {
  auto& s = self->state;
  docker::session_request base;
  base.connection_id = s.info.connection_id;
  base.username = s.info.username;
  const std::string& address = s.info.remote_address;
  base.remote_ip = !address.empty() && address.front() == '['
                       ? address.substr(1, address.find(']') - 1)
                       : address.substr(0, address.rfind(':'));
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
        if (!s.info.metadata.empty()) details["metadata"] = auth_webhook::loggable(s.info.metadata);
        if (!s.info.files.empty()) details["files"] = auth_webhook::loggable_files(s.info.files);
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
      [=](ch_data& msg) { route(self, msg); },
      [=](ch_eof& msg) { route(self, msg); },
      [=](ch_closed& msg) {
        route(self, msg);
        self->state.channels.erase(msg.ch);
      },
      [=](conn_disconnected& msg) {
        auto& s = self->state;
        for (auto& [ch, actor] : s.channels) self->send(actor, ch_closed{ch});
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

// --- session_bridge: the session thread's side -------------------------------------------

session_bridge::session_bridge(context_ptr context, connection_info info)
    : context_(std::move(context)), info_(std::move(info)) {}

void session_bridge::bind(std::shared_ptr<ssh::session_commands> session) {
  actor_ = spawn_connection_actor(*context_->system, context_, std::move(session), info_);
}

template <class Question>
bool session_bridge::ask(Question question, const std::string& user) {
  // The one place the session thread waits: no channel exists yet, so nothing else of this
  // connection can stall, and other connections have threads of their own. The actor's own
  // deadline covers the login; this one is a little later, for an actor that never answers.
  auto slot = std::make_shared<verdict_slot>();
  question.reply = verdict_promise{slot};
  const auto deadline =
      std::chrono::steady_clock::now() + context_->config->auth.auth_timeout + std::chrono::seconds(1);
  caf::anon_send(actor_, std::move(question));
  auto verdict = slot->wait_until(deadline);
  if (!verdict) {
    log::warning("AUTH_TIMEOUT", "login check did not finish within auth.authTimeout",
                 {{"connectionId", info_.connection_id}, {"username", user}});
    return false;
  }
  if (!verdict->success) return false;
  if (verdict->config) config_ = verdict->config;
  username_ = verdict->authenticated_username.empty() ? user : verdict->authenticated_username;
  return true;
}

bool session_bridge::check_password(const std::string& user, const std::string& password,
                                    const std::string& client_version) {
  bool admitted = ask(conn_password{user, password, client_version, {}}, user);
  metrics::count_authentication("password", admitted);
  return admitted;
}

bool session_bridge::check_public_key(const std::string& user, const std::string& public_key,
                                      const std::string& client_version) {
  bool admitted = ask(conn_pubkey{user, public_key, client_version, {}}, user);
  metrics::count_authentication("pubkey", admitted);
  return admitted;
}

void session_bridge::authenticated(const std::string& user) { caf::anon_send(actor_, conn_authenticated{user}); }

void session_bridge::log_refusal(const std::string& code, const std::string& reason, std::string_view request,
                                 nlohmann::json details) {
  details["connectionId"] = info_.connection_id;
  details["username"] = username_;
  details["remoteAddress"] = info_.remote_address;
  // Environment variables are refused routinely (OpenSSH sends LANG and LC_*): not a notice.
  if (request == "env")
    log::info(code, reason, details);
  else
    log::notice(code, reason, details);
  metrics::security().count_refusal(request);
}

bool session_bridge::may_open_session() {
  auto decision = security::check_new_session(config().security, open_sessions_);
  if (!decision.allowed) log_refusal(decision.code, decision.reason, "session", nlohmann::json::object());
  return decision.allowed;
}

void session_bridge::channel_opened(ssh::channel_id ch) {
  ++open_sessions_;
  caf::anon_send(actor_, conn_channel_opened{ch});
}

bool session_bridge::pty_requested(ssh::channel_id ch, const std::string& term, unsigned cols, unsigned rows) {
  auto decision = security::check_tty(config().security);
  if (!decision.allowed) {
    log_refusal(decision.code, decision.reason, "tty", {{"channel", ch}});
    return false;
  }
  caf::anon_send(actor_, ch_pty{ch, term, cols, rows});
  return true;
}

bool session_bridge::env_requested(ssh::channel_id ch, const std::string& name, const std::string& value) {
  auto decision = security::check_env(config().security, name);
  if (!decision.allowed) {
    log_refusal(decision.code, decision.reason, "env", {{"channel", ch}, {"name", name}});
    return false;
  }
  caf::anon_send(actor_, ch_env{ch, name, value});
  return true;
}

ssh::request_answer session_bridge::program_requested(ssh::channel_id ch, ssh::program_kind kind,
                                                      const std::string& argument) {
  const auto& cfg = config();
  // One program per channel (RFC 4254 6.5); refusals that need no container are answered here.
  if (!programs_started_.insert(ch).second) return {false, ""};
  const char* request = kind == ssh::program_kind::exec    ? "exec"
                        : kind == ssh::program_kind::shell ? "shell"
                                                           : "subsystem";
  // The policy judges what the client asked for; forceCommand replaces it only afterwards.
  auto decision = security::check_program(cfg.security, kind, argument);
  if (!decision.allowed) {
    nlohmann::json details{{"channel", ch}};
    if (kind == ssh::program_kind::subsystem) details["subsystem"] = argument;
    log_refusal(decision.code, decision.reason, request, std::move(details));
    return {false, decision.reason};
  }
  auto choice = security::choose_program(cfg.security, kind, argument);
  const auto& exec = cfg.docker.execution;
  if (choice.kind == ssh::program_kind::exec && exec.disable_command)
    return {false, "command execution is disabled on this server (docker.execution.disableCommand)"};
  if (choice.kind == ssh::program_kind::shell && exec.disable_shell)
    return {false, "shell access is disabled on this server (docker.execution.disableShell)"};
  if (choice.kind == ssh::program_kind::subsystem) {
    if (exec.disable_subsystem)
      return {false, "subsystems are disabled on this server (docker.execution.disableSubsystem)"};
    if (exec.subsystems.find(argument) == exec.subsystems.end())
      return {false, "subsystem \"" + argument + "\" is not configured on this server"};
  }
  if (choice.forced) {
    log::debug("SECURITY_EXEC_FORCING_COMMAND", "running security.forceCommand instead of the " + std::string(request),
               {{"connectionId", info_.connection_id}, {"channel", ch}});
  }
  caf::anon_send(actor_, ch_program{ch, choice.kind, std::move(choice.argument), choice.forced,
                                    std::move(choice.original_command)});
  return {true, ""};
}

void session_bridge::window_changed(ssh::channel_id ch, unsigned cols, unsigned rows) {
  caf::anon_send(actor_, ch_window{ch, cols, rows});
}

void session_bridge::signal_requested(ssh::channel_id ch, const std::string& signal_name) {
  auto decision = security::check_signal(config().security, signal_name);
  if (!decision.allowed) {
    log_refusal(decision.code, decision.reason, "signal", {{"channel", ch}, {"signal", signal_name}});
    return;
  }
  caf::anon_send(actor_, ch_signal{ch, signal_name});
}

void session_bridge::forwarding_requested(ssh::forwarding_kind kind, const std::string& detail) {
  auto decision = security::check_forwarding(config().security, kind);
  nlohmann::json details = nlohmann::json::object();
  if (!detail.empty()) details["destination"] = detail;
  log_refusal(decision.code, decision.reason, "forwarding", std::move(details));
}

void session_bridge::data_received(ssh::channel_id ch, std::string bytes) {
  caf::anon_send(actor_, ch_data{ch, std::move(bytes)});
}

void session_bridge::eof_received(ssh::channel_id ch) { caf::anon_send(actor_, ch_eof{ch}); }

void session_bridge::channel_closed(ssh::channel_id ch) {
  programs_started_.erase(ch);
  if (open_sessions_ > 0) --open_sessions_;
  caf::anon_send(actor_, ch_closed{ch});
}


void session_bridge::disconnected(const std::string& reason) { caf::anon_send(actor_, conn_disconnected{reason}); }

}  // namespace cssh::actors
