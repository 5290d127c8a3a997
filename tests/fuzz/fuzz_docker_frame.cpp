// libFuzzer target: Docker's multiplexed attach stream (docker_frame::demuxer), fed in chunks
// whose sizes the input also chooses, as a socket would split it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "actors/docker_frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // The first byte picks the chunking: 1..256 bytes per feed.
  const std::size_t chunk = std::size_t{data[0]} + 1;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t delivered = 0;
  cssh::docker_frame::demuxer demux([&](cssh::docker_frame::stream_kind, std::string_view payload) {
    delivered += payload.size();
  });
  std::size_t fed = 0;
  while (fed < stream.size()) {
    auto piece = stream.substr(fed, chunk);
    fed += piece.size();
    if (!demux.feed(piece)) break;
  }
  // Payload is part of the input: more out than in would mean reading past a buffer.
  if (delivered > stream.size()) __builtin_trap();
  // Framing must not depend on the chunking: the same bytes fed whole deliver the same payload.
  std::size_t whole = 0;
  cssh::docker_frame::demuxer once([&](cssh::docker_frame::stream_kind, std::string_view payload) {
    whole += payload.size();
  });
  auto ok_once = once.feed(stream);
  if (ok_once && whole != delivered) __builtin_trap();
  return 0;
}
