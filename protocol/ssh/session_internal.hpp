#pragma once
// Internal to the SSH session driver: the per-session state shared by its three parts,
// session_driver.cpp (the loop and the command queue), auth_callbacks.cpp and
// channel_callbacks.cpp. Nothing outside protocol/ssh/ includes this.

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/flow_limits.hpp"
#include "protocol/ssh/session_driver.hpp"

namespace cssh::ssh {

struct data_item {
  output_stream stream;
  std::string bytes;
  std::size_t offset = 0;  // bytes already written; never erase from the front
};
struct exit_status_item { int status; };
struct exit_signal_item { std::string signal_name; bool core_dumped; std::string message; };
struct eof_item {};
struct close_item {};
using output_item = std::variant<data_item, exit_status_item, exit_signal_item, eof_item, close_item>;
/// Input credit coming back from the program's side.
struct input_credit_item { std::size_t bytes; };
/// Where the channel's drained output is credited from now on.
struct credit_sink_item { std::function<void(std::size_t)> sink; };
/// Open a channel towards the client (forwarding).
struct open_channel_item {
  channel_open_request request;
  std::function<void(std::optional<channel_id>)> opened;
};
using command_item = std::variant<data_item, exit_status_item, exit_signal_item, eof_item, close_item,
                                  input_credit_item, credit_sink_item, open_channel_item>;

struct queued_command {
  channel_id ch = 0;
  command_item item;
};

using flow::input_batch_limit;
using flow::input_in_flight_limit;

struct channel_state {
  session_driver* driver = nullptr;
  channel_id id = 0;
  ssh_channel handle = nullptr;
  ssh_channel_callbacks_struct callbacks{};
  std::deque<output_item> pending;
  std::function<void(std::size_t)> output_credit_sink;  // set: drained output is credited there
  /// A forwarding channel (direct-tcpip, or one we opened): no session requests, and the
  /// server's notices (timeouts, shutdown) are not written into it.
  bool forwarded = false;
  bool peer_eof = false;  // EOF received from the client
  /// A forwarding channel we want closed while the client may still send: our EOF went out and
  /// the CLOSE waits for the client's EOF (or this deadline). libssh answers data that crosses
  /// our CLOSE with a window adjust, which strict clients (asyncssh) take as a protocol error.
  std::optional<std::chrono::steady_clock::time_point> close_due;
  bool peer_closed = false;   // CLOSE received from the client
  bool local_closed = false;  // CLOSE sent by us
  bool eof_sent = false;
  // input backpressure
  std::size_t input_in_flight = 0;
  bool input_paused = false;     // data left in libssh's buffer until credit returns
  bool eof_deferred = false;     // client EOF seen while input was still buffered
  // Input taken from libssh in this poll burst, not yet handed on: one event per burst
  // instead of one per SSH packet (each event costs thread wake-ups further on).
  std::string input_batch;
};

class session_driver : public session_commands, public std::enable_shared_from_this<session_driver> {
 public:
  session_driver(ssh_session session, std::shared_ptr<session_events> events, session_options options,
                 std::string peer);
  ~session_driver() override;

  // session_commands (any thread)
  void write(channel_id ch, output_stream stream, std::string bytes) override;
  void send_exit_status(channel_id ch, int status) override;
  void send_exit_signal(channel_id ch, const std::string& signal_name, bool core_dumped,
                        const std::string& message) override;
  void input_consumed(channel_id ch, std::size_t bytes) override;
  void set_output_credit_sink(channel_id ch, std::function<void(std::size_t)> sink) override;
  void send_eof(channel_id ch) override;
  void close_channel(channel_id ch) override;
  void open_channel(channel_open_request request, std::function<void(std::optional<channel_id>)> opened) override;
  void disconnect(const std::string& reason) override;

  /// The session thread's body.
  void run();
  /// Ends a session whose thread never started.
  void abandon(const std::string& reason) { finish(reason); }

  // --- shared by the callback files (session thread only) --------------------------------
  void install_server_callbacks();       // auth_callbacks.cpp
  ssh_channel open_session_channel();     // channel_callbacks.cpp
  /// A channel's state with the callbacks every channel has (data, EOF, close), registered
  /// under a new id; `forwarded` for forwarding channels (channel_callbacks.cpp).
  channel_state& add_channel(ssh_channel handle, bool forwarded);
  /// The state of the channel libssh knows as `handle`, if it is one of ours.
  channel_state* find_channel(ssh_channel handle);
  /// Forwarding requests that come as messages (forward_callbacks.cpp): true when answered.
  bool answer_forwarding(ssh_message msg);
  session_events& events() { return *events_; }
  const session_options& options() const { return options_; }
  const std::string& peer() const { return peer_; }
  ssh_session session() const { return session_; }
  bool authenticated() const { return authenticated_; }
  /// Counts one failed attempt; past maxAuthTries the connection is closed.
  void count_failed_attempt(const char* method, const std::string& user);
  void mark_authenticated(const std::string& user, const char* method);
  /// Sends ssh.banner before the answer to the first authentication request.
  void send_banner_once();
  /// Shows the client why its login is refused, when the layer above said (see the .cpp).
  void announce_refusal();
  /// Channel data moved (either way): the idle clock starts again.
  void note_channel_data() { last_data_ = std::chrono::steady_clock::now(); }
  /// Keeps input for the end of the poll burst (the channel's batch).
  void batch_input(channel_state& cs, const char* data, std::size_t len);
  /// Hands the channel's batched input on; called before anything that must come after it.
  void deliver_input(channel_state& cs);
  /// Hands the batch on unless earlier input is still on its way (then it keeps growing).
  void offer_input(channel_state& cs);

 private:
  void enqueue(queued_command cmd);
  void ring();
  bool key_exchange();
  void take_inbox();
  void flush_channel(channel_state& cs);
  void resume_input(channel_state& cs);
  void reap_channels();
  /// Sends the CLOSEs that waited for the client's EOF (close_due); true while any still waits.
  bool close_due_channels();
  /// Starts opening a channel towards the client (forward_callbacks.cpp).
  void start_open(open_channel_item item);
  /// Carries on with channels being opened (libssh's open is non-blocking: SSH_AGAIN until the
  /// client answers); runs their `opened` when done.
  void continue_opens();
  /// Polls again without waiting while input keeps arriving, up to input_batch_limit, so a
  /// fast sender's packets travel on as one batch; returns the last poll's result.
  int drain_ready_input(int rc);
  void check_client_alive();
  /// ssh.idleTimeout / ssh.sessionTimeout: sets fatal_reason_ (after telling the client) when
  /// one has run out; returns how long until the next one can (for the poll timeout).
  std::chrono::milliseconds check_timeouts();
  /// Writes `text` to the stderr of every open channel and pushes it out before a disconnect.
  void tell_client(const std::string& text);
  void release_startup_slot();
  void finish(const std::string& reason);
  static int on_doorbell(socket_t fd, int revents, void* userdata);
  static void on_libssh_log(int priority, const char* function, const char* buffer, void* userdata);

  ssh_session session_;
  ssh_event event_ = nullptr;
  std::shared_ptr<session_events> events_;
  session_options options_;
  std::string peer_;
  int doorbell_ = -1;

  std::mutex inbox_mutex_;
  std::deque<queued_command> inbox_;
  bool finished_ = false;
  bool disconnect_requested_ = false;
  std::string disconnect_reason_;

  ssh_server_callbacks_struct server_callbacks_{};
  bool authenticated_ = false;
  bool startup_released_ = false;
  bool banner_sent_ = false;
  bool refusal_announced_ = false;  // guarded by inbox_mutex_
  int failed_attempts_ = 0;
  std::size_t input_batched_ = 0;  // over all channels, this poll burst
  std::string fatal_reason_;

  // client-alive bookkeeping (ssh_set_counters counts the client's packets for us)
  ssh_counter_struct sent_{};
  ssh_counter_struct received_{};
  std::uint64_t packets_seen_ = 0;
  std::chrono::steady_clock::time_point last_heard_{};
  int unanswered_keepalives_ = 0;

  // idle / session timeouts
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_data_{};

 public:
  // Channel bookkeeping is shared with channel_callbacks.cpp.
  channel_id next_channel_id = 0;
  std::map<channel_id, std::unique_ptr<channel_state>> channels;
  /// Public keys the backend accepted during the "is this key acceptable?" probe, so the
  /// signed attempt that follows does not ask again.
  std::map<std::string, bool> key_verdicts;
  /// Channels we are opening towards the client, with who waits for them.
  struct opening {
    channel_id id = 0;  // registered in `channels` already
    channel_open_request request;
    std::function<void(std::optional<channel_id>)> opened;
  };
  std::vector<opening> openings;
  /// The user a keyboard-interactive exchange is for (its answer does not repeat it).
  std::string kbdint_user;
  /// The client sent no-more-sessions@openssh.com: refuse further session channels.
  bool no_more_sessions = false;
};

}  // namespace cssh::ssh
