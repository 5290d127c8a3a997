#pragma once
// What an SSH connection tells the layer above it (the connection actor's glue), and what
// that layer can ask of the connection. Both directions are plain C++: no CAF, no libssh.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <functional>
#include <optional>
#include <string>

namespace cssh::ssh {

using channel_id = std::uint32_t;

enum class output_stream { stdout_stream, stderr_stream };

enum class program_kind { shell, exec, subsystem };

/// Forwarding a client can ask for: -L/-D (direct-tcpip), -R (tcpip-forward), X11, the agent,
/// and OpenSSH's Unix-socket forwarding (streamlocal), which libssh 0.10 cannot parse.
enum class forwarding_kind { local, remote, x11, agent, streamlocal };

/// A channel the server opens towards the client, for a connection accepted in the container.
struct channel_open_request {
  enum class kind { forwarded_tcpip, agent, x11 };
  kind what = kind::forwarded_tcpip;
  std::string address;       // forwarded-tcpip: the listen the connection came to, as the client asked
  std::uint16_t port = 0;    // ... and the port bound
  std::string originator;    // forwarded-tcpip, x11: who connected
  std::uint16_t originator_port = 0;
};

/// An x11-req (RFC 4254 6.3.1).
struct x11_request {
  bool single_connection = false;
  std::string protocol;  // "MIT-MAGIC-COOKIE-1"
  std::string cookie;    // hex
  unsigned screen = 0;
};

/// The answer to a shell/exec/subsystem request. A refusal's `message` (if any) is written to
/// the channel's stderr before the failure reply, for clients that show it.
struct request_answer {
  bool accepted = true;
  std::string message;
};

/// Events raised on the connection's own thread. Implementations must not block, except
/// `check_password` and `check_public_key`, which run before any channel exists and may wait
/// up to their deadline.
class session_events {
 public:
  virtual ~session_events() = default;

  /// Password authentication: true to admit. Called on the session thread.
  /// `client_version` is the client's identification string ("SSH-2.0-OpenSSH_9.2p1 ...").
  /// Also used for keyboard-interactive logins (one password prompt).
  virtual bool check_password(const std::string& user, const std::string& password,
                              const std::string& client_version) = 0;
  /// Public key authentication: does this key (authorized_keys format, "ssh-ed25519 AAAA...")
  /// belong to the user? The driver has verified (or will verify) the signature itself.
  virtual bool check_public_key(const std::string& user, const std::string& public_key,
                                const std::string& client_version) = 0;
  virtual void authenticated(const std::string& user) = 0;

  /// Asked before a session channel is opened: false refuses it (too many sessions).
  virtual bool may_open_session() = 0;
  virtual void channel_opened(channel_id ch) = 0;
  /// pty-req and env: false refuses the request (a failure reply when the client wants one).
  virtual bool pty_requested(channel_id ch, const std::string& term, unsigned cols, unsigned rows) = 0;
  virtual bool env_requested(channel_id ch, const std::string& name, const std::string& value) = 0;
  /// shell / exec / subsystem: accepted means the program starts (asynchronously).
  virtual request_answer program_requested(channel_id ch, program_kind kind, const std::string& argument) = 0;
  virtual void window_changed(channel_id ch, unsigned cols, unsigned rows) = 0;
  /// SSH gives `signal` no reply: a refused signal is only dropped (and logged above).
  virtual void signal_requested(channel_id ch, const std::string& signal_name) = 0;
  /// The client asked for forwarding the driver cannot serve (streamlocal): the driver refuses
  /// it (channel open failure or request failure); this tells the layer above, for its log.
  virtual void forwarding_requested(forwarding_kind kind, const std::string& detail) = 0;
  /// direct-tcpip (-L, -D): true accepts it as channel `ch`, whose bytes then flow like any
  /// channel's; the connection in the container is made afterwards (a failed dial closes `ch`).
  virtual bool direct_tcpip_requested(channel_id ch, const std::string& host, unsigned port,
                                      const std::string& originator, unsigned originator_port) = 0;
  /// tcpip-forward (-R): the port bound (what the client asked for, or the one chosen for 0), or
  /// nothing to refuse. May wait (bounded) for the container to listen: the reply must be given
  /// inside libssh's callback.
  virtual std::optional<unsigned> remote_forward_requested(const std::string& address, unsigned port) = 0;
  virtual bool remote_forward_cancelled(const std::string& address, unsigned port) = 0;
  /// auth-agent-req@openssh.com and x11-req on session channel `ch`: true when served (the
  /// program started on `ch` gets SSH_AUTH_SOCK / DISPLAY). May wait (bounded), like the above.
  virtual bool agent_forwarding_requested(channel_id ch) = 0;
  virtual bool x11_forwarding_requested(channel_id ch, const x11_request& request) = 0;
  virtual void data_received(channel_id ch, std::string bytes) = 0;
  virtual void eof_received(channel_id ch) = 0;
  /// The channel is gone (closed by either side); no more events for it.
  virtual void channel_closed(channel_id ch) = 0;

  /// The connection ended; `reason` says why. The last event.
  virtual void disconnected(const std::string& reason) = 0;
};

/// Commands to the connection, callable from any thread. They are queued and carried out on
/// the session thread in order, per channel: data, then exit status, EOF and close.
/// Commands for a channel or connection that is already gone are dropped.
class session_commands {
 public:
  virtual ~session_commands() = default;
  virtual void write(channel_id ch, output_stream stream, std::string bytes) = 0;
  virtual void send_exit_status(channel_id ch, int status) = 0;
  /// The program died of a signal (RFC 4254 name without "SIG", e.g. "KILL").
  virtual void send_exit_signal(channel_id ch, const std::string& signal_name, bool core_dumped,
                                const std::string& message) = 0;
  /// `bytes` of input handed over by data_received reached the program: the driver may take
  /// more from the client (and open its window again) once input in flight is under the limit.
  virtual void input_consumed(channel_id ch, std::size_t bytes) = 0;
  /// From now on the bytes `write` puts into the channel are credited by calling `sink` (on the
  /// session thread, as the client's window takes them): the byte path's credit skips the actors
  /// (each hop is a thread wake-up per batch).
  virtual void set_output_credit_sink(channel_id ch, std::function<void(std::size_t)> sink) = 0;
  virtual void send_eof(channel_id ch) = 0;
  virtual void close_channel(channel_id ch) = 0;
  /// Opens a channel towards the client. `opened` runs on the session thread with the new
  /// channel's id once the client confirmed it, or with nothing when it refused (or the
  /// connection is gone, then possibly on the calling thread). The channel then takes the same
  /// commands as any other.
  virtual void open_channel(channel_open_request request,
                            std::function<void(std::optional<channel_id>)> opened) = 0;
  virtual void disconnect(const std::string& reason) = 0;
};

}  // namespace cssh::ssh
