#pragma once
// Internal to forward_hub: the state of one forwarded connection and of one listen, shared by its
// two halves, forward_hub.cpp (requests from the session thread, the client's bytes) and
// forward_hub_helper.cpp (the helper's stream: frames in, frames out). Nothing else includes it.

#include <future>
#include <optional>
#include <string>

#include "actors/forward_hub.hpp"
#include "common/flow_limits.hpp"
#include "common/metrics.hpp"

namespace cssh::actors {
namespace forward_detail {
constexpr std::size_t read_chunk = flow::output_read_chunk;
/// The first X11 display tried, as sshd's X11DisplayOffset, and how many after it.
constexpr std::uint16_t x11_first_display = 10;
constexpr std::uint16_t x11_displays = 990;
/// Credit goes back to the helper in pieces of at least this (a quarter of its window).
constexpr std::size_t credit_batch = forward::stream_window / 4;
}  // namespace forward_detail

/// One forwarded connection: a helper stream and (once open) its SSH channel.
struct forward_hub::stream_state {
  forward_kind kind = forward_kind::local;
  std::optional<ssh::channel_id> ch;              // none until the client's channel is open
  std::size_t send_credit = forward::stream_window;  // bytes we may still send the helper
  std::string to_helper;                          // the client's bytes waiting for that credit
  std::size_t to_helper_sent = 0;                 // ... of which this many went already
  bool client_eof = false;                        // the client's EOF, sent after to_helper
  bool eof_sent = false;
  std::size_t receive_used = 0;  // the helper's bytes we have not credited yet (its window)
  std::size_t drained = 0;       // ... of which the client took this many (credited in batches)
  std::string early;          // the helper's bytes before the channel opened (accepted streams)
  bool helper_eof = false;    // ... and its EOF
  bool helper_closed = false;
  bool close_sent = false;
  metrics::counter* bytes_in = nullptr;
  metrics::counter* bytes_out = nullptr;
};

/// A listen in the container (-R, the agent, X11) and who waits for its answer.
struct forward_hub::listener_state {
  forward_kind kind = forward_kind::remote;
  std::string client_address;  // -R: as the client asked (named in forwarded-tcpip opens)
  std::uint16_t port = 0;      // -R: the port bound, once known
  bool ready = false;
  bool single_connection = false;  // X11
  std::optional<std::promise<result<std::uint16_t>>> tcp_answer;
  std::optional<std::promise<result<std::string>>> path_answer;
  std::optional<std::promise<result<unsigned>>> display_answer;
  std::string authority_path, cookie;  // X11: written once the display number is known

  void answer(const failure& why) {
    if (tcp_answer) tcp_answer->set_value(why);
    if (path_answer) path_answer->set_value(why);
    if (display_answer) display_answer->set_value(why);
    tcp_answer.reset();
    path_answer.reset();
    display_answer.reset();
  }
};

}  // namespace cssh::actors
