#pragma once
// channel_actor: one per SSH session channel. Collects pty/env, starts the program in a
// container (through a docker_io_actor) when shell/exec/subsystem arrives, passes the
// client's input on, and reports exit status, EOF and close in that order. The program's
// output and the input credits do not pass through here: the io actor's stream_relay hands
// them to the SSH session directly.
//
// accepts (from connection_actor, i.e. from the client):
//   ch_pty, ch_env, ch_program, ch_window, ch_signal, ch_data, ch_eof, ch_closed
// accepts (from its docker_io_actor):
//   program_exited, program_failed
// sends: commands to the SSH session (write, exit-status, EOF, close) and io_* to docker_io

#include <caf/all.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "actors/connection_container_actor.hpp"
#include "actors/container_supervisor.hpp"
#include "actors/server_context.hpp"
#include "protocol/auth_webhook.hpp"
#include "protocol/ssh_session_events.hpp"

namespace cssh::actors {

struct ch_pty { ssh::channel_id ch; std::string term; unsigned cols; unsigned rows; };
struct ch_env { ssh::channel_id ch; std::string name; std::string value; };
/// What the channel runs. `forced`: security.forceCommand replaced the request (then kind is
/// exec and `original_command`, if set, becomes SSH_ORIGINAL_COMMAND).
struct ch_program {
  ssh::channel_id ch;
  ssh::program_kind kind;
  std::string argument;
  bool forced = false;
  std::optional<std::string> original_command;
};
struct ch_window { ssh::channel_id ch; unsigned cols; unsigned rows; };
struct ch_signal { ssh::channel_id ch; std::string name; };
struct ch_data { ssh::channel_id ch; std::string bytes; };
struct ch_eof { ssh::channel_id ch; };
/// The channel is gone (client closed it, or the connection ended).
struct ch_closed { ssh::channel_id ch; };

/// `signal_name` is set (RFC 4254 name, e.g. "KILL") when the program died of a signal.
struct program_exited { int exit_code; std::string signal_name; };
struct program_failed { int exit_code; std::string message; };

using channel_actor = caf::typed_actor<
    caf::reacts_to<ch_pty>, caf::reacts_to<ch_env>, caf::reacts_to<ch_program>, caf::reacts_to<ch_window>,
    caf::reacts_to<ch_signal>, caf::reacts_to<ch_data>, caf::reacts_to<ch_eof>,
    caf::reacts_to<ch_closed>, caf::reacts_to<program_exited>, caf::reacts_to<program_failed>>;

/// Who a connection belongs to and what its containers look like: for container labels,
/// environment and logs. Filled in as the connection progresses (authentication, config server).
struct connection_info {
  std::string connection_id;
  std::string username;
  std::string remote_address;  // "ip:port"
  std::string local_address;   // our end, "ip:port" ("" if unknown): for SSH_CONNECTION
  std::string proxy_address;   // the load balancer that relayed it (PROXY protocol), "" if direct
  std::string client_version;
  /// This connection's configuration: the file's, merged with the config server's answer.
  std::shared_ptr<const config::app_config> config;
  /// Environment for the connection's programs from the auth (and config) webhook answers.
  std::map<std::string, std::string> environment;
  /// The webhook answers' metadata (for the logs; sensitive values are never logged).
  auth_webhook::value_map metadata;
  /// Files the webhook answers asked for (absolute path -> contents): written into every
  /// container of the connection before its program starts.
  auth_webhook::value_map files;
  /// Connection mode: the actor owning the connection's container, in which sessions are execs.
  std::optional<connection_container_actor> container;
};

channel_actor spawn_channel_actor(caf::actor_system& system, context_ptr context, ssh::channel_id ch,
                                  std::shared_ptr<ssh::session_commands> session,
                                  connection_info info, container_supervisor supervisor);

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_pty)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_env)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_program)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_window)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_signal)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_data)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_eof)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::ch_closed)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::program_exited)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::program_failed)
