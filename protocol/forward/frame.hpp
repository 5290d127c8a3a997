#pragma once
// The framing between the server and the guest helper's `forward` mode (docs/forwarding.md,
// "The framing between server and helper"): [u32 length][u8 type][u32 id][payload], big-endian,
// length = 5 + payload, payload at most 65536 bytes. No I/O here: an encoder and an incremental
// decoder that is fed whatever a read returned.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace cssh::forward {

enum class frame_type : std::uint8_t {
  hello = 0x01,
  dial_tcp = 0x10,
  dial_unix = 0x11,
  ok = 0x12,
  fail = 0x13,
  listen_tcp = 0x20,
  listen_unix = 0x21,
  unlisten = 0x22,
  accepted = 0x23,
  write_file = 0x24,
  remove_file = 0x25,
  data = 0x30,
  eof = 0x31,
  close = 0x32,
  credit = 0x33,
};

/// Largest payload of one frame.
inline constexpr std::size_t max_payload = 65536;
/// Every stream's window, in each direction (bytes of DATA not yet credited).
inline constexpr std::size_t stream_window = 262144;
/// Ids at or above this are the helper's (streams it accepted); below, the server's.
inline constexpr std::uint32_t helper_id_base = 0x80000000u;
/// LISTEN_UNIX flag: make the socket's directory (0700) and the socket 0600.
inline constexpr std::uint8_t listen_private_directory = 1;

/// The frame's name for logs ("DATA", "LISTEN_TCP"); "unknown" for anything else.
const char* name_of(frame_type type);
bool is_known(std::uint8_t type);

struct frame {
  frame_type type = frame_type::data;
  std::uint32_t id = 0;
  std::string_view payload;  // valid only during the decoder's callback
};

// --- encoding (appends one frame to `out`) -----------------------------------------------------
void append_frame(std::string& out, frame_type type, std::uint32_t id, std::string_view payload = {});
void append_dial_tcp(std::string& out, std::uint32_t id, std::string_view host, std::uint16_t port);
void append_dial_unix(std::string& out, std::uint32_t id, std::string_view path);
void append_listen_tcp(std::string& out, std::uint32_t id, std::string_view address, std::uint16_t port,
                       std::uint16_t count);
void append_listen_unix(std::string& out, std::uint32_t id, std::string_view path, std::uint8_t flags);
void append_write_file(std::string& out, std::uint32_t id, std::string_view path, std::uint16_t mode,
                       std::string_view content);
void append_credit(std::string& out, std::uint32_t id, std::uint32_t bytes);
/// DATA frames for `bytes`, split at max_payload.
void append_data(std::string& out, std::uint32_t id, std::string_view bytes);

// --- payload readers (for frames that carry numbers) -----------------------------------------
struct ok_payload { std::uint16_t port = 0; std::string_view where; };
result<ok_payload> read_ok(std::string_view payload);  // OK of a LISTEN_* (port, address/path)
struct accepted_payload { std::uint32_t listener = 0; std::uint16_t port = 0; std::string_view address; };
result<accepted_payload> read_accepted(std::string_view payload);
result<std::uint32_t> read_credit(std::string_view payload);

/// Incremental decoder. Frames are delivered whole (a frame split across chunks is kept until
/// its last byte arrives, at most 65545 bytes); a bad length or an unknown type fails the
/// decoder for good (FORWARD_PROTOCOL).
class decoder {
 public:
  using sink = std::function<void(const frame&)>;
  explicit decoder(sink out) : out_(std::move(out)) {}
  result<void> feed(std::string_view chunk);
  bool at_frame_boundary() const { return partial_.empty(); }

 private:
  /// Decodes whole frames at the front of `bytes`; returns how many bytes it used.
  result<std::size_t> consume(std::string_view bytes);
  sink out_;
  std::string partial_;
  bool broken_ = false;
};

}  // namespace cssh::forward
