#pragma once
// What the client did on one session channel, as the session thread saw it and the security
// policy let through (actors/session_bridge.cpp). The session bridge sends these to the
// connection actor, which routes each by `ch` to that channel's actor: both accept them.
// The client's bytes and EOF are not among them: they go straight to the program's
// stdin_pipe (stdin_pipe.hpp).

#include <caf/all.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/stdin_pipe.hpp"
#include "protocol/ssh/session_events.hpp"

namespace cssh::actors {

struct ch_pty { ssh::channel_id ch; std::string term; unsigned cols; unsigned rows; };
struct ch_env { ssh::channel_id ch; std::string name; std::string value; };
/// The program the channel runs, decided once on the session thread: `kind` as requested (or
/// exec under security.forceCommand), `argument` the command line or subsystem name, `argv`
/// what the container runs (empty: the image's own command). `forced`: forceCommand replaced
/// the request; `original_command`, if set, becomes SSH_ORIGINAL_COMMAND. `input` is where the
/// session thread puts the client's bytes for this program from now on (stdin_pipe.hpp).
struct ch_program {
  ssh::channel_id ch;
  ssh::program_kind kind;
  std::string argument;
  std::vector<std::string> argv;
  bool forced = false;
  std::optional<std::string> original_command;
  std::shared_ptr<stdin_pipe> input;
};
struct ch_window { ssh::channel_id ch; unsigned cols; unsigned rows; };
struct ch_signal { ssh::channel_id ch; std::string name; };
/// The channel is gone (client closed it, or the connection ended).
/// The channel is gone; `connection_gone`: because the connection ended.
struct ch_closed { ssh::channel_id ch; bool connection_gone = false; };

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_pty)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_env)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_program)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_window)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_signal)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_closed)
