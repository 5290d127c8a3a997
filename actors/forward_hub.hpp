#pragma once
// forward_hub: the byte path of one connection's forwarding (docs/forwarding.md). One guest
// helper (`helper forward`, an exec in the connection's container) carries every forwarded
// connection; the hub speaks the helper's framing over that exec's stream and maps each
// forwarded connection (a helper stream) to its SSH channel.
//
// Like stream_relay, the bytes skip the actors: the session thread hands the client's bytes in
// (client_data), the reactor reads the helper's frames and writes them to the session
// (session_commands::write), and credits run straight back both ways. Per stream, the helper's
// window (forward::stream_window) and the SSH channel's window bound what is in memory, so a
// reader that stops stalls only its own stream.
//
// Thread-safe: called on the session thread (requests and the client's bytes), on the reactor
// (the helper's stream) and by the forward actor (attach, fail). Requests made before the
// helper runs are queued and sent when it attaches.
//
// calls on the session  write, send_eof, close_channel, input_consumed, set_output_credit_sink,
//                       open_channel (for connections accepted in the container)

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actors/docker_frame.hpp"
#include "common/result.hpp"
#include "protocol/forward/frame.hpp"
#include "protocol/http/client.hpp"
#include "protocol/ssh/session_events.hpp"

namespace cssh::actors {

/// What a forwarded connection serves (the metrics' `kind`).
enum class forward_kind { local, remote, agent, x11 };
const char* kind_label(forward_kind kind);

class forward_hub : public std::enable_shared_from_this<forward_hub> {
 public:
  forward_hub(std::shared_ptr<ssh::session_commands> session, std::string connection_id);
  ~forward_hub();
  forward_hub(const forward_hub&) = delete;
  forward_hub& operator=(const forward_hub&) = delete;

  // --- requests (session thread) ---------------------------------------------------------
  /// direct-tcpip accepted as channel `ch`: connect to host:port from inside the container. A
  /// failed dial closes the channel.
  void dial(ssh::channel_id ch, std::string host, std::uint16_t port);
  /// tcpip-forward: listen on `bind_address`:`port` in the container; connections become
  /// forwarded-tcpip channels naming `client_address` (what the client asked for) and the port
  /// bound. The future holds the port bound or why not.
  std::future<result<std::uint16_t>> listen_tcp(std::string client_address, std::string bind_address,
                                                std::uint16_t port);
  /// cancel-tcpip-forward: false when no such listen exists.
  bool unlisten_tcp(const std::string& client_address, std::uint16_t port);
  /// The agent's socket at `path` (its directory is made 0700, the socket 0600); connections
  /// become auth-agent@openssh.com channels. The future holds the path or why not.
  std::future<result<std::string>> listen_agent(std::string path);
  /// An X11 display (TCP 127.0.0.1:6000+N, N from 10 up) and its authority file at
  /// `authority_path` (in a new 0700 directory) holding `cookie` (binary) for display N;
  /// connections become x11 channels; with `single_connection` only the first is taken. The
  /// future holds N or why not; `listener` names the display for end_x11.
  struct x11_display {
    std::uint32_t listener = 0;
    std::future<result<unsigned>> display;
  };
  x11_display listen_x11(std::string authority_path, std::string cookie, bool single_connection);
  /// The session that asked for the display ended: its listen and authority file go (as sshd).
  void end_x11(std::uint32_t listener);

  /// Whether `ch` is one of the hub's channels (the bridge routes the client's bytes here).
  bool owns(ssh::channel_id ch) const;
  /// Whether another forwarded connection fits under flow::forward_streams_limit.
  bool has_room() const;
  void client_data(ssh::channel_id ch, std::string bytes);
  void client_eof(ssh::channel_id ch);
  void channel_closed(ssh::channel_id ch);

  // --- the helper (forward actor) ---------------------------------------------------------
  /// The helper runs: `stream` is its exec's hijacked stream. Sends what was queued.
  void attach(std::shared_ptr<http::upgraded_stream> stream, std::string exec_id);
  /// The helper could not be started (or died): every request fails, every channel closes.
  void fail(const failure& why);
  /// The connection ended: the helper's stdin is closed (it exits) and everything forgotten.
  void close();

 private:
  struct stream_state;
  struct listener_state;
  using deferred = std::vector<std::function<void()>>;

  std::uint32_t new_id() { return next_id_++; }
  /// Why no request can be made now (the helper failed, the connection is closing), if so.
  std::optional<failure> unusable() const;
  std::pair<std::uint32_t, listener_state&> add_listener(forward_kind kind);
  stream_state& add_stream(std::uint32_t id, forward_kind kind);
  void drop_stream(std::uint32_t id);
  /// Sends the client's bytes the helper has room for, then the EOF once they all went.
  void pump_to_helper(std::uint32_t id, stream_state& s);
  void send_frame(forward::frame_type type, std::uint32_t id, std::string_view payload = {});
  void flush_out();
  void read_more();
  void on_read(result<std::string> chunk);
  void on_frame(const forward::frame& f, deferred& later);
  void on_ok(const forward::frame& f);
  void on_fail(const forward::frame& f);
  void on_accepted(const forward::frame& f, deferred& later);
  void on_channel_open(std::uint32_t id, std::optional<ssh::channel_id> ch);
  void fail_locked(const failure& why);
  void credit_helper(std::uint32_t id, std::size_t bytes);

  std::shared_ptr<ssh::session_commands> session_;
  std::string connection_id_;

  mutable std::mutex mu_;
  std::shared_ptr<http::upgraded_stream> stream_;
  std::string exec_id_;
  std::optional<failure> failed_;
  bool closed_ = false;
  std::string out_;        // frames not yet written to the helper
  bool writing_ = false;   // one write outstanding at a time
  bool reading_ = false;
  docker_frame::demuxer demux_;
  forward::decoder decoder_;
  std::optional<failure> decode_error_;
  bool hello_seen_ = false;
  deferred* pending_later_ = nullptr;  // where on_frame puts work for after the lock (on_read)
  std::uint32_t next_id_ = 1;
  std::map<std::uint32_t, std::unique_ptr<stream_state>> streams_;
  std::map<ssh::channel_id, std::uint32_t> by_channel_;
  std::map<std::uint32_t, std::unique_ptr<listener_state>> listeners_;
  /// WRITE_FILE requests in flight, with the X11 listen that waits for them.
  std::map<std::uint32_t, std::uint32_t> file_for_listener_;
  /// Each X11 listen's authority file, until end_x11 removes it.
  std::map<std::uint32_t, std::string> x11_files_;
};

}  // namespace cssh::actors
