#include "actors/session_bridge.hpp"

#include "actors/security_policy.hpp"
#include "common/flow_limits.hpp"
#include "common/forward_metrics.hpp"
#include "common/random_id.hpp"
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

/// How long a forwarding request that must be answered at once (tcpip-forward, auth-agent-req,
/// x11-req) waits for the container and its helper: the connection's container is being made
/// right after login, so the first request may wait for that.
constexpr std::chrono::seconds forward_answer_timeout{30};

const char* kind_name(ssh::forwarding_kind kind) {
  switch (kind) {
    case ssh::forwarding_kind::local: return "local";
    case ssh::forwarding_kind::remote: return "remote";
    case ssh::forwarding_kind::x11: return "x11";
    case ssh::forwarding_kind::agent: return "agent";
    case ssh::forwarding_kind::streamlocal: return "streamlocal";
  }
  return "local";
}

/// "2f0a..." (hex) to bytes; nothing when it is not even-length hex.
std::optional<std::string> from_hex(const std::string& hex) {
  if (hex.empty() || hex.size() % 2 != 0 || hex.size() > 512) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    auto digit = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
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
  session_channels_.insert(ch);
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
  allow_forwarding(kind, detail);  // the driver cannot serve it: only logged and counted
}

bool session_bridge::allow_forwarding(ssh::forwarding_kind kind, const std::string& host, int port) {
  auto decision = security::check_forwarding(config().security, kind, host, port);
  std::string reason = decision.code == "SECURITY_FORWARDING_NOT_PERMITTED" ? "permit_list"
                       : kind == ssh::forwarding_kind::streamlocal        ? "unsupported"
                                                                          : "policy";
  if (decision.allowed && config().docker.execution.mode != config::execution_mode::connection) {
    // Session mode has no container outside a program's run: nothing to connect from.
    decision = {false, "FORWARDING_NEEDS_CONNECTION_MODE",
                std::string(kind_name(kind)) +
                    " forwarding refused: it needs docker.execution.mode: connection (this server runs a "
                    "container per session)"};
    reason = "session_mode";
  }
  if (decision.allowed) return true;
  nlohmann::json details = nlohmann::json::object();
  if (port >= 0)
    details["destination"] = host + ":" + std::to_string(port);
  else if (!host.empty())
    details["destination"] = host;
  log_refusal(decision.code, decision.reason, "forwarding", std::move(details));
  metrics::forwarding().refusals.with({kind_name(kind), reason}).inc();
  return false;
}

forward_hub& session_bridge::hub() {
  if (!hub_) {
    hub_ = std::make_shared<forward_hub>(session_, info_.connection_id);
    caf::anon_send(actor_, conn_forwarding{hub_});
  }
  return *hub_;
}

template <class T>
std::optional<T> session_bridge::await(std::future<result<T>> answer, const char* what) {
  // Like a password check, this waits on the session thread: libssh wants the reply inside its
  // callback. Only this connection waits; the wait is bounded.
  if (answer.wait_for(forward_answer_timeout) != std::future_status::ready) {
    log::warning("FORWARD_LISTEN_FAILED", std::string(what) + ": the container did not answer in time",
                 {{"connectionId", info_.connection_id}});
    return std::nullopt;
  }
  auto r = answer.get();
  if (!r) {
    log::warning(r.error().code, std::string(what) + ": " + r.error().message, {{"connectionId", info_.connection_id}});
    return std::nullopt;
  }
  return std::move(r.value());
}

std::string session_bridge::scratch_directory() const {
  const auto& host = config().docker.execution.host;
  auto ro = host.find("ReadonlyRootfs");
  const bool read_only = ro != host.end() && ro->is_boolean() && ro->get<bool>();
  return read_only ? "/dev/shm" : "/tmp";
}

bool session_bridge::direct_tcpip_requested(ssh::channel_id ch, const std::string& host, unsigned port,
                                            const std::string&, unsigned) {
  if (port > 65535 || !allow_forwarding(ssh::forwarding_kind::local, host, static_cast<int>(port))) return false;
  if (!hub().has_room()) {
    log::notice("FORWARD_LIMIT",
                "port forwarding to " + host + ":" + std::to_string(port) + " refused: this connection has " +
                    std::to_string(flow::forward_streams_limit) + " forwarded connections open",
                {{"connectionId", info_.connection_id}});
    metrics::forwarding().refusals.with({"local", "limit"}).inc();
    return false;
  }
  hub().dial(ch, host, static_cast<std::uint16_t>(port));
  return true;
}

std::optional<unsigned> session_bridge::remote_forward_requested(const std::string& address, unsigned port) {
  if (port > 65535 || !allow_forwarding(ssh::forwarding_kind::remote, address, static_cast<int>(port)))
    return std::nullopt;
  // OpenSSH's GatewayPorts=no: whatever address the client names, the listen is on loopback.
  const std::string bind = address == "::1" || address == "[::1]" ? "::1" : "127.0.0.1";
  auto bound = await(hub().listen_tcp(address, bind, static_cast<std::uint16_t>(port)),
                     ("reverse forwarding on " + address + ":" + std::to_string(port)).c_str());
  if (!bound) {
    metrics::forwarding().failures.with({"remote", "listen_failed"}).inc();
    return std::nullopt;
  }
  log::debug("FORWARD_LISTENING", "listening in the container for reverse forwarding",
             {{"connectionId", info_.connection_id}, {"address", address}, {"port", *bound}});
  return static_cast<unsigned>(*bound);
}

bool session_bridge::remote_forward_cancelled(const std::string& address, unsigned port) {
  return hub_ && port <= 65535 && hub_->unlisten_tcp(address, static_cast<std::uint16_t>(port));
}

bool session_bridge::agent_forwarding_requested(ssh::channel_id ch) {
  if (!allow_forwarding(ssh::forwarding_kind::agent)) return false;
  if (agent_socket_.empty()) {
    // One socket per connection, as sshd has, shared by its sessions.
    auto path = await(hub().listen_agent(scratch_directory() + "/containerssh-agent-" + random_hex_id().substr(0, 12) + "/agent.sock"),
                      "agent forwarding");
    if (!path) return false;
    agent_socket_ = *path;
  }
  caf::anon_send(actor_, ch_env{ch, "SSH_AUTH_SOCK", agent_socket_});
  return true;
}

bool session_bridge::x11_forwarding_requested(ssh::channel_id ch, const ssh::x11_request& request) {
  if (!allow_forwarding(ssh::forwarding_kind::x11)) return false;
  if (x11_displays_.count(ch)) {
    // As sshd: one display per session; a second would leave the first open with nobody using it.
    log::notice("FORWARD_X11_ACTIVE", "X11 forwarding refused: this session has a display already",
                {{"connectionId", info_.connection_id}, {"channel", ch}});
    return false;
  }
  auto cookie = from_hex(request.cookie);
  if (request.protocol != "MIT-MAGIC-COOKIE-1" || !cookie) {
    log::notice("FORWARD_X11_BAD_COOKIE", "X11 forwarding refused: only MIT-MAGIC-COOKIE-1 with a hex cookie is served",
                {{"connectionId", info_.connection_id}, {"protocol", request.protocol}});
    return false;
  }
  // A file of its own (0600, created exclusively, never through a link), removed when the
  // helper ends; its name is random.
  const std::string authority = scratch_directory() + "/.containerssh-Xauthority-" + random_hex_id().substr(0, 12);
  auto x11 = hub().listen_x11(authority, *cookie, request.single_connection);
  auto display = await(std::move(x11.display), "X11 forwarding");
  if (!display) {
    hub().end_x11(x11.listener);
    return false;
  }
  x11_displays_[ch] = x11.listener;
  caf::anon_send(actor_, ch_env{ch, "DISPLAY", "localhost:" + std::to_string(*display) + "." +
                                                   std::to_string(request.screen)});
  caf::anon_send(actor_, ch_env{ch, "XAUTHORITY", authority});
  return true;
}

void session_bridge::data_received(ssh::channel_id ch, std::string bytes) {
  bytes_in_.inc(bytes.size());
  if (!session_channels_.count(ch)) {
    if (hub_) return hub_->client_data(ch, std::move(bytes));
    return session_->input_consumed(ch, bytes.size());
  }
  auto it = inputs_.find(ch);
  if (it != inputs_.end()) return it->second->push(std::move(bytes));
  // Data before a program exists has nowhere to go (OpenSSH drops it too); the client's
  // window must not shrink for it.
  session_->input_consumed(ch, bytes.size());
}

void session_bridge::eof_received(ssh::channel_id ch) {
  if (!session_channels_.count(ch)) {
    if (hub_) hub_->client_eof(ch);
    return;
  }
  if (auto it = inputs_.find(ch); it != inputs_.end()) it->second->end();
}

void session_bridge::channel_closed(ssh::channel_id ch) {
  if (!session_channels_.erase(ch)) {
    if (hub_) hub_->channel_closed(ch);  // a forwarding channel (or one never opened)
    return;
  }
  if (auto x11 = x11_displays_.find(ch); x11 != x11_displays_.end()) {
    if (hub_) hub_->end_x11(x11->second);  // the session's display goes with it, as sshd's
    x11_displays_.erase(x11);
  }
  programs_started_.erase(ch);
  inputs_.erase(ch);
  if (open_sessions_ > 0) --open_sessions_;
  caf::anon_send(actor_, ch_closed{ch});
}

void session_bridge::disconnected(const std::string& reason) {
  inputs_.clear();
  if (hub_) hub_->close();
  hub_.reset();
  session_.reset();  // the driver is going away: hold nothing of it
  caf::anon_send(actor_, conn_disconnected{reason});
}

}  // namespace cssh::actors
