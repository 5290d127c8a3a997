#pragma once
// io_actor: the interface both program runners share, so the channel actor drives them alike:
// docker_io_actor (session mode: a container per program) and exec_io_actor (connection mode:
// an exec in the connection's container). Each owns a stream_relay that moves the bytes.
//
// accepts (from its channel_actor)  io_resize, io_signal, io_stop
// accepts (from its stream_relay)   relay_ready   (see stream_relay.hpp)
// sends   (to its channel_actor)    program_exited, program_failed (channel_actor.hpp)
// The client's input does not pass through here: the session thread pushes it into the
// channel's stdin_pipe, which the relay attaches to the stream (stdin_pipe.hpp).

#include <caf/all.hpp>
#include <string>
#include <utility>
#include <vector>


namespace cssh::actors {

struct io_resize { unsigned rows; unsigned cols; };
struct io_signal { std::string name; };
/// The client is gone: stop relaying and hand the container to the supervisor for removal.
/// The channel is gone; `connection_gone`: the whole connection ended (its containers go too).
struct io_stop { bool connection_gone = false; };

/// From the relay, on the reactor: the output ended (the owner calls stream_relay::on_ready).
struct relay_ready {};

/// Signals the client asked for before the program runs wait for it (there is nothing to signal
/// yet); both io actors hold them here and deliver them once it started.
struct held_signals {
  std::vector<std::string> names;
  /// Whether `name` may go now; if not (not started), it is held for release().
  bool pass(bool started, const std::string& name) {
    if (started) return true;
    names.push_back(name);
    return false;
  }
  std::vector<std::string> release() { return std::exchange(names, {}); }
};

using io_actor = caf::typed_actor<caf::reacts_to<io_resize>, caf::reacts_to<io_signal>, caf::reacts_to<io_stop>,
                                  caf::reacts_to<relay_ready>>;

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_resize)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_signal)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::io_stop)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::relay_ready)
