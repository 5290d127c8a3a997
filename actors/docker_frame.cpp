#include "actors/docker_frame.hpp"

#include <algorithm>

namespace cssh::docker_frame {

result<void> demuxer::feed(std::string_view chunk) {
  if (broken_) return fail("DOCKER_STREAM_CORRUPT", "Docker stream already failed; no more bytes accepted");
  while (!chunk.empty()) {
    if (remaining_ == 0) {
      // Collecting a header: it may straddle chunks, so copy into header_ until it has 8 bytes.
      std::size_t take = std::min(chunk.size(), sizeof header_ - header_fill_);
      std::copy_n(chunk.data(), take, header_ + header_fill_);
      header_fill_ += take;
      chunk.remove_prefix(take);
      if (header_fill_ < sizeof header_) break;
      header_fill_ = 0;
      // Bytes 1-3 are always zero; anything else means this is not a multiplexed stream
      // (for example a TTY stream read as if it were one), so stop before forwarding garbage.
      if (header_[0] > 2 || header_[1] != 0 || header_[2] != 0 || header_[3] != 0) {
        broken_ = true;
        return fail("DOCKER_STREAM_CORRUPT",
                    "Docker stream frame header has unknown stream type " + std::to_string(header_[0]) +
                        " (or non-zero padding); is the container a TTY?");
      }
      current_ = static_cast<stream_kind>(header_[0]);
      remaining_ = (std::uint32_t{header_[4]} << 24) | (std::uint32_t{header_[5]} << 16) |
                   (std::uint32_t{header_[6]} << 8) | std::uint32_t{header_[7]};
      // A zero-length frame carries nothing: no callback, go on with the next header.
      continue;
    }
    std::size_t take = std::min<std::size_t>(chunk.size(), remaining_);
    out_(current_, chunk.substr(0, take));
    remaining_ -= static_cast<std::uint32_t>(take);
    chunk.remove_prefix(take);
  }
  return {};
}

std::string encode(stream_kind kind, std::string_view payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(kind);
  auto n = static_cast<std::uint32_t>(payload.size());
  out[4] = static_cast<char>((n >> 24) & 0xff);
  out[5] = static_cast<char>((n >> 16) & 0xff);
  out[6] = static_cast<char>((n >> 8) & 0xff);
  out[7] = static_cast<char>(n & 0xff);
  out.append(payload);
  return out;
}

}  // namespace cssh::docker_frame
