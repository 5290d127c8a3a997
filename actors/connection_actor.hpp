#pragma once
// connection_actor: one per SSH connection. Holds who is logged in, asks the auth actor
// about passwords, owns the connection's channel actors and its container supervisor, and
// routes the session thread's events to the channel they belong to.
//
// accepts conn_password and conn_pubkey (the verdict goes to the message's verdict_promise),
//         conn_authenticated, conn_channel_opened,
//         the ch_* channel events (routed by channel id), conn_disconnected
// The session thread talks to it through session_bridge (below), never directly.

#include <caf/all.hpp>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "actors/auth_actor.hpp"
#include "actors/channel_actor.hpp"
#include "actors/server_context.hpp"
#include "actors/verdict_slot.hpp"
#include "protocol/ssh_session_events.hpp"

namespace cssh::actors {

struct conn_password {
  std::string username;
  std::string password;
  std::string client_version;
  verdict_promise reply;
};
struct conn_pubkey {
  std::string username;
  std::string public_key;
  std::string client_version;
  verdict_promise reply;
};
struct conn_authenticated { std::string username; };
struct conn_channel_opened { ssh::channel_id ch; };
struct conn_disconnected { std::string reason; };

using connection_actor = caf::typed_actor<
    caf::reacts_to<conn_password>, caf::reacts_to<conn_pubkey>, caf::reacts_to<conn_authenticated>,
    caf::reacts_to<conn_channel_opened>, caf::reacts_to<conn_disconnected>, caf::reacts_to<ch_pty>,
    caf::reacts_to<ch_env>, caf::reacts_to<ch_program>, caf::reacts_to<ch_window>, caf::reacts_to<ch_signal>,
    caf::reacts_to<ch_data>, caf::reacts_to<ch_eof>, caf::reacts_to<ch_closed>>;

connection_actor spawn_connection_actor(caf::actor_system& system, context_ptr context,
                                        std::shared_ptr<ssh::session_commands> session,
                                        connection_info info);

/// Creates the events sink for a new SSH session: it turns the session thread's callbacks
/// into messages to a connection actor, which it spawns once the session's command
/// interface is known (see ssh::start_session_thread's before_start).
class session_bridge : public ssh::session_events {
 public:
  session_bridge(context_ptr context, connection_info info);
  /// Spawns the connection actor; call before the session thread runs.
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
  void data_received(ssh::channel_id ch, std::string bytes) override;
  void eof_received(ssh::channel_id ch) override;
  void channel_closed(ssh::channel_id ch) override;
  void disconnected(const std::string& reason) override;

 private:
  /// Asks the connection actor and waits for its verdict (session thread only).
  template <class Question>
  bool ask(Question question, const std::string& user);

  /// This connection's configuration once logged in (the config server's answer merged in),
  /// else the file's: `security:` is enforced from it.
  const config::app_config& config() const { return config_ ? *config_ : *context_->config; }
  /// Logs a refusal of the security policy with its code and counts it.
  void log_refusal(const std::string& code, const std::string& reason, std::string_view request,
                   nlohmann::json details);

  context_ptr context_;
  connection_info info_;
  connection_actor actor_;
  // Session thread only:
  std::set<ssh::channel_id> programs_started_;
  std::shared_ptr<const config::app_config> config_;
  std::string username_;             // as authenticated (the webhook's authenticatedUsername)
  std::size_t open_sessions_ = 0;    // session channels open now, for security.maxSessions
};

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::conn_password)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::conn_pubkey)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::conn_authenticated)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::conn_channel_opened)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::conn_disconnected)
