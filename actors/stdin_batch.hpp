#pragma once
// Shared by docker_io_actor and exec_io_actor: turns the client's queued stdin pieces into one
// write towards the Engine.

#include <cstddef>
#include <deque>
#include <string>

namespace cssh::actors {

/// Most bytes handed to one write on the Engine stream.
inline constexpr std::size_t stdin_batch_limit = 512 * 1024;

/// Takes queued pieces from the front, joined, up to stdin_batch_limit bytes (always at least
/// one piece), and lowers `queued` by what it took. One write per SSH packet (32 KB) made every
/// piece wait for the previous write's completion to travel through the actor: stdin ran at a
/// twentieth of the Engine's speed; a batch pays that round trip once per half megabyte.
inline std::string take_stdin_batch(std::deque<std::string>& queue, std::size_t& queued) {
  if (queue.size() == 1 || queue.front().size() + queue[1].size() > stdin_batch_limit) {
    std::string single = std::move(queue.front());  // nothing to join: no copy
    queue.pop_front();
    queued -= single.size();
    return single;
  }
  // Sized once, so each byte is copied once (appending to the first piece reallocated it).
  std::size_t pieces = 0;
  std::size_t total = 0;
  for (const auto& piece : queue) {
    if (pieces > 0 && total + piece.size() > stdin_batch_limit) break;
    total += piece.size();
    ++pieces;
  }
  std::string batch;
  batch.reserve(total);
  for (std::size_t i = 0; i < pieces; ++i) {
    batch += queue.front();
    queue.pop_front();
  }
  queued -= batch.size();
  return batch;
}

}  // namespace cssh::actors
