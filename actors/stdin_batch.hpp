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
  std::string batch = std::move(queue.front());
  queue.pop_front();
  while (!queue.empty() && batch.size() + queue.front().size() <= stdin_batch_limit) {
    batch += queue.front();
    queue.pop_front();
  }
  queued -= batch.size();
  return batch;
}

}  // namespace cssh::actors
