#pragma once
// Shared by docker_io_actor and exec_io_actor: turns the client's queued stdin pieces into one
// write towards the Engine.

#include <cstddef>
#include "common/flow_limits.hpp"
#include <deque>
#include <string>

namespace cssh::actors {

using flow::input_write_limit;

/// Takes queued pieces from the front, joined, up to input_write_limit bytes (always at least
/// one piece), and lowers `queued` by what it took (why batches: common/flow_limits.hpp).
inline std::string take_stdin_batch(std::deque<std::string>& queue, std::size_t& queued) {
  if (queue.size() == 1 || queue.front().size() + queue[1].size() > input_write_limit) {
    std::string single = std::move(queue.front());  // nothing to join: no copy
    queue.pop_front();
    queued -= single.size();
    return single;
  }
  // Sized once, so each byte is copied once (appending to the first piece reallocated it).
  std::size_t pieces = 0;
  std::size_t total = 0;
  for (const auto& piece : queue) {
    if (pieces > 0 && total + piece.size() > input_write_limit) break;
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
