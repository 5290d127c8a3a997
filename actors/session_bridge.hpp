#pragma once
// session_bridge: the SSH session thread's side of a connection. It implements
// ssh::session_events (libssh's callbacks, already parsed by protocol/ssh) and turns them into
// messages to the connection's actor, which it spawns in bind().
//
// Forwarding (docs/forwarding.md) is judged here too, and its bytes go to the connection's
// forward_hub (made at the first allowed request), which the forward actor connects to the
// helper in the container.
//
// Runs on the session thread only, and enforces `security:` and the execution settings there,
// so that every refusal is the reply to the client's own request: channel open (maxSessions),
// pty-req, env, shell/exec/subsystem (with forceCommand's replacement and disableCommand/
// disableShell/disableSubsystem) and signal. This is the one place requests are judged: what
// reaches the actors has been allowed, and a program request arrives with the argv to run.
//
// sends to connection_actor  conn_password, conn_pubkey (and waits for the verdict),
//                            conn_authenticated, conn_channel_opened, conn_disconnected,
//                            ch_* channel events (channel_events.hpp)
// pushes into stdin_pipe     the client's bytes and EOF, straight (stdin_pipe.hpp): the
//                            pipe goes to the program's relay with ch_program
// calls on the session       input_consumed for bytes that came before any program

#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "actors/connection_actor.hpp"
#include "actors/forward_hub.hpp"
#include "actors/server_context.hpp"
#include "actors/stdin_pipe.hpp"
#include "common/metrics.hpp"
#include "protocol/ssh/session_events.hpp"

namespace cssh::actors {

class session_bridge : public ssh::session_events {
 public:
  session_bridge(context_ptr context, connection_info info);
  /// Spawns the connection actor; call before the session thread runs (see
  /// ssh::start_session_thread's before_start).
  void bind(std::shared_ptr<ssh::session_commands> session);

  bool check_password(const std::string& user, const std::string& password,
                      const std::string& client_version) override;
  bool check_public_key(const std::string& user, const std::string& public_key,
                        const std::string& client_version) override;
  void authenticated(const std::string& user) override;
  bool may_open_session() override;
  void channel_opened(ssh::channel_id ch) override;
  bool pty_requested(ssh::channel_id ch, const std::string& term, unsigned cols, unsigned rows) override;
  bool env_requested(ssh::channel_id ch, const std::string& name, const std::string& value) override;
  ssh::request_answer program_requested(ssh::channel_id ch, ssh::program_kind kind,
                                        const std::string& argument) override;
  void window_changed(ssh::channel_id ch, unsigned cols, unsigned rows) override;
  void signal_requested(ssh::channel_id ch, const std::string& signal_name) override;
  void forwarding_requested(ssh::forwarding_kind kind, const std::string& detail) override;
  bool direct_tcpip_requested(ssh::channel_id ch, const std::string& host, unsigned port,
                              const std::string& originator, unsigned originator_port) override;
  std::optional<unsigned> remote_forward_requested(const std::string& address, unsigned port) override;
  bool remote_forward_cancelled(const std::string& address, unsigned port) override;
  bool agent_forwarding_requested(ssh::channel_id ch) override;
  bool x11_forwarding_requested(ssh::channel_id ch, const ssh::x11_request& request) override;
  void data_received(ssh::channel_id ch, std::string bytes) override;
  void eof_received(ssh::channel_id ch) override;
  void channel_closed(ssh::channel_id ch) override;
  void disconnected(const std::string& reason) override;

 private:
  /// Asks the connection actor to run the login sequence and waits for its verdict.
  template <class Question>
  bool ask(Question question, const std::string& user);

  /// This connection's configuration once logged in (the config server's answer merged in),
  /// else the file's: `security:` is enforced from it.
  const config::app_config& config() const { return config_ ? *config_ : *context_->config; }
  /// Logs a refusal of the security policy with its code and counts it.
  void log_refusal(const std::string& code, const std::string& reason, std::string_view request,
                   nlohmann::json details);
  /// The policy and the execution mode on one forwarding request; a refusal is logged and counted.
  bool allow_forwarding(ssh::forwarding_kind kind, const std::string& host = "", int port = -1);
  /// The connection's forward hub, made (and its helper asked for) at the first use.
  forward_hub& hub();
  /// Waits (bounded: forward_answer_timeout) for the helper's answer to a listen.
  template <class T>
  std::optional<T> await(std::future<result<T>> answer, const char* what);
  /// Where the agent socket (in a fresh 0700 directory) and the X11 authority file go: /dev/shm
  /// with a read-only root filesystem (Docker mounts a tmpfs there), else /tmp.
  std::string scratch_directory() const;

  context_ptr context_;
  connection_info info_;
  connection_actor actor_;
  std::shared_ptr<ssh::session_commands> session_;
  metrics::counter& bytes_in_;  // cssh_session_bytes (in): every byte the client sent
  // Session thread only:
  std::set<ssh::channel_id> programs_started_;
  /// Where each running program's stdin goes (set when its request is accepted).
  std::map<ssh::channel_id, std::shared_ptr<stdin_pipe>> inputs_;
  std::shared_ptr<const config::app_config> config_;
  std::string username_;             // as authenticated (the webhook's authenticatedUsername)
  std::size_t open_sessions_ = 0;    // session channels open now, for security.maxSessions
  std::set<ssh::channel_id> session_channels_;  // the others are forwarding channels
  std::shared_ptr<forward_hub> hub_;   // made at the first allowed forwarding request
  std::string agent_socket_;          // the agent's socket in the container, once listening
  std::map<ssh::channel_id, std::uint32_t> x11_displays_;  // session channel -> its X11 listen
};

}  // namespace cssh::actors
