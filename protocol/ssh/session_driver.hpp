#pragma once
// Drives one libssh server session on a thread of its own (libssh sessions are not
// thread-safe, and several libssh calls poll the whole event they belong to; a private
// ssh_event per session keeps one connection from ever running another's callbacks).
// An eventfd doorbell wakes the thread when another thread queues a command.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "protocol/ssh/session_events.hpp"

struct ssh_session_struct;

namespace cssh::ssh {

/// How a session behaves: pre-auth limits, offered methods, keepalives (ssh.* settings).
struct session_options {
  /// The connection's id, for the driver's own log lines.
  std::string connection_id;
  std::chrono::milliseconds login_grace{120000};
  int max_auth_tries = 6;
  bool password = true;
  bool public_key = false;
  bool keyboard_interactive = false;
  std::string banner;  // sent before authentication when non-empty
  /// Server keepalives: after this long without a packet from the client, ask it for a
  /// reply; after count_max unanswered asks, close. Zero disables.
  std::chrono::milliseconds client_alive_interval{0};
  int client_alive_count_max = 3;
  /// ssh.idleTimeout: no channel data in either direction for this long closes the connection
  /// (the clock starts at authentication). ssh.sessionTimeout: the connection's whole life is
  /// capped at this. Zero disables each.
  std::chrono::milliseconds idle_timeout{0};
  std::chrono::milliseconds session_timeout{0};
  /// Called once, on the session thread, when the connection stops counting as an
  /// unauthenticated startup (authenticated, or gone). Releases its maxStartups slot.
  std::function<void()> startup_done;
};

class session_driver;

/// Starts the session thread for a freshly accepted libssh session (key exchange not done
/// yet). Takes ownership of `session`. `events` is released right after `disconnected`.
/// `before_start` receives the command interface before the thread runs, so the layer above
/// holds it before the first event arrives; it stays valid (dropping commands) after the
/// session ends. Returns false (and frees the session) if no thread could be started.
bool start_session_thread(ssh_session_struct* session, std::shared_ptr<session_events> events,
                          session_options options, std::string peer_description,
                          const std::function<void(std::shared_ptr<session_commands>)>& before_start);

/// The peer's address, e.g. "127.0.0.1:51234".
std::string describe_peer(int fd);

}  // namespace cssh::ssh
