#pragma once
// Docker's multiplexed attach stream (non-TTY): frames of an 8-byte header
// [stream type (0 stdin, 1 stdout, 2 stderr), 0, 0, 0, length as uint32 big-endian]
// followed by `length` bytes of payload.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace cssh::docker_frame {

enum class stream_kind : std::uint8_t { stdin_stream = 0, stdout_stream = 1, stderr_stream = 2 };

/// Incremental demultiplexer: feed arbitrary byte chunks, get whole or partial payloads
/// per stream. Payload bytes are forwarded as soon as they arrive (a frame split over
/// several chunks yields several callbacks), so memory stays bounded by the chunk size.
class demuxer {
 public:
  using sink = std::function<void(stream_kind, std::string_view payload)>;
  explicit demuxer(sink out) : out_(std::move(out)) {}

  /// Consumes a chunk. Fails on an unknown stream type; the stream is then unusable.
  result<void> feed(std::string_view chunk);
  /// True when no frame is half-read (a clean place for the stream to end).
  bool at_frame_boundary() const { return header_fill_ == 0 && remaining_ == 0; }

 private:
  sink out_;
  unsigned char header_[8]{};
  std::size_t header_fill_ = 0;
  std::uint32_t remaining_ = 0;
  stream_kind current_ = stream_kind::stdout_stream;
  bool broken_ = false;
};

/// Encodes one frame (used by tests and fakes).
std::string encode(stream_kind kind, std::string_view payload);

}  // namespace cssh::docker_frame
