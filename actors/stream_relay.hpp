#pragma once
// stream_relay: the byte-moving half of a program's session, shared by docker_io_actor
// (session mode: the container's attach stream) and exec_io_actor (connection mode: an exec's
// hijacked stream). The owning actor decides when the program starts and how its exit is
// read; the relay moves bytes both ways with credits, and the bytes bypass the actors:
//   output  read on the reactor, split into stdout/stderr and handed straight to the SSH
//           session while fewer than output_credit_limit bytes are on their way to the
//           client; the session credits drained bytes straight back (set_output_credit_sink).
//           Through the actors every Engine frame cost five thread wake-ups (reactor, io
//           actor, channel actor, session thread, and back); perf showed the daemon spending
//           7 s of CPU per GB relayed, most of it in context switches. The owner only hears
//           when the output ends (relay_ready), after the last byte went to the session, so
//           the exit status it sends next still comes after all output.
//   input   the session thread pushes the client's bytes into the channel's stdin_pipe
//           (stdin_pipe.hpp), which writes them to the Engine in batches on the reactor and
//           credits each finished write straight to the session; the relay only attaches the
//           pipe to the stream, allows the half-close and closes it.
//
// sends to its owner    relay_ready (the output ended: call on_ready; io_actor.hpp)
// calls on the session  write, set_output_credit_sink (thread-safe commands)

#include <caf/all.hpp>
#include <cstddef>
#include <memory>
#include <string>

#include "actors/io_actor.hpp"
#include "actors/stdin_pipe.hpp"
#include "common/flow_limits.hpp"
#include "protocol/http/client.hpp"
#include "protocol/ssh/session_events.hpp"

namespace cssh::actors {

class output_pump;

/// The SSH channel the bytes go to and come from: output to `session`, input from `input`
/// (filled by the session thread; never null).
struct relay_target {
  std::shared_ptr<ssh::session_commands> session;
  ssh::channel_id ch = 0;
  std::shared_ptr<stdin_pipe> input;
};

class stream_relay {
 public:
  /// `owner` receives relay_ready; `tty`: the stream carries raw terminal
  /// output (no stdout/stderr frames).
  stream_relay(caf::actor owner, relay_target target, bool tty);
  ~stream_relay();
  stream_relay(const stream_relay&) = delete;
  stream_relay& operator=(const stream_relay&) = delete;

  /// Starts relaying over `stream`; `label` names it in error logs ("container 3f2a…").
  void attach(std::shared_ptr<http::upgraded_stream> stream, std::string label);
  bool attached() const { return stream_ != nullptr; }

  /// The client's EOF becomes a half-close only once this is called (stdin_pipe.hpp).
  void allow_half_close() { target_.input->allow_half_close(); }

  // --- output towards the client ------------------------------------------------------
  struct output_event {
    bool ended_now = false;  // the stream ended with this call (EOF, read error or bad frame)
    std::string read_error;  // set when it ended with a read error
  };
  /// On relay_ready: whether the output ended (all of it is with the session by then).
  output_event on_ready();
  /// The same for the owner's handler: true when the output ended with this call; a read error
  /// that ended it is logged (DOCKER_STREAM_ENDED, naming the stream) unless `quiet` (the owner
  /// is stopping anyway).
  bool output_ended_now(bool quiet);
  bool output_ended() const { return output_ended_; }
  /// Gives up on the output (the program exited and the stream stayed open too long).
  void mark_output_ended() { output_ended_ = true; }

  /// Closes the stream. When it returns, no more output reaches the session: call it before
  /// reporting the exit status or a failure, so nothing can follow them.
  void close();

 private:
  caf::actor owner_;
  relay_target target_;
  bool tty_;
  std::shared_ptr<http::upgraded_stream> stream_;
  std::shared_ptr<output_pump> pump_;
  std::string label_;  // names the stream in logs ("container 3f2a…", "exec 9c1b…")
  bool output_ended_ = false;
  bool closed_ = false;
};

}  // namespace cssh::actors

