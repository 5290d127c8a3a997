#include "actors/session_bridge.hpp"

#include "actors/security_policy.hpp"
#include "common/log.hpp"
#include "common/security_metrics.hpp"
#include "common/server_metrics.hpp"
#include "docker/container_spec.hpp"

namespace cssh::actors {
namespace {

/// What the container runs for an allowed request (`kind` and `argument` after forceCommand);
/// empty: the image's own command. A subsystem's presence was checked by the caller.
std::vector<std::string> argv_for(const config::docker_execution_config& exec, ssh::program_kind kind,
                                  const std::string& argument) {
  switch (kind) {
    case ssh::program_kind::exec:
      return docker::command_to_argv(argument);
    case ssh::program_kind::shell:
      // The seed: container.cmd is respected in session mode; else shellCommand. In connection
      // mode the container runs idleCommand, and a shell is always shellCommand.
      if (exec.mode == config::execution_mode::session && !exec.container.cmd.empty()) return {};
      return exec.shell_command;
    case ssh::program_kind::subsystem:
      return docker::command_to_argv(exec.subsystems.at(argument));
  }
  return {};
}

}  // namespace


session_bridge::session_bridge(context_ptr context, connection_info info)
    : context_(std::move(context)), info_(std::move(info)), bytes_in_(metrics::server().session_bytes_in) {}

void session_bridge::bind(std::shared_ptr<ssh::session_commands> session) {
  session_ = session;
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
  auto argv = argv_for(exec, choice.kind, choice.argument);
  // From now on the client's bytes go straight into the program's stdin (stdin_pipe.hpp).
  auto input = std::make_shared<stdin_pipe>(session_, ch);
  inputs_[ch] = input;
  caf::anon_send(actor_, ch_program{ch, choice.kind, std::move(choice.argument), std::move(argv), choice.forced,
                                    std::move(choice.original_command), std::move(input)});
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
  bytes_in_.inc(bytes.size());
  auto it = inputs_.find(ch);
  if (it != inputs_.end()) return it->second->push(std::move(bytes));
  // Data before a program exists has nowhere to go (OpenSSH drops it too); the client's
  // window must not shrink for it.
  session_->input_consumed(ch, bytes.size());
}

void session_bridge::eof_received(ssh::channel_id ch) {
  if (auto it = inputs_.find(ch); it != inputs_.end()) it->second->end();
}

void session_bridge::channel_closed(ssh::channel_id ch) {
  programs_started_.erase(ch);
  inputs_.erase(ch);
  if (open_sessions_ > 0) --open_sessions_;
  caf::anon_send(actor_, ch_closed{ch});
}

void session_bridge::disconnected(const std::string& reason) {
  inputs_.clear();
  session_.reset();  // the driver is going away: hold nothing of it
  caf::anon_send(actor_, conn_disconnected{reason});
}

}  // namespace cssh::actors
