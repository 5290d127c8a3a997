#pragma once
// connection_actor: one per SSH connection. Holds who is logged in, runs each login attempt
// through a login_sequence actor (login_sequence.hpp lists the steps), owns the connection's
// channel actors, its container supervisor and (connection mode) its container actor, and
// routes the session thread's events to the channel they belong to.
//
// accepts conn_password and conn_pubkey (the verdict goes to the message's verdict_promise),
//         conn_authenticated, conn_channel_opened, conn_forwarding (spawns the forward actor),
//         the ch_* channel events (channel_events.hpp; routed by channel id), conn_disconnected
// sends   password_check / pubkey_check to a login_sequence; ch_* to channel actors;
//         connection_container_stop, supervisor_shutdown when the connection ends
// The session thread talks to it through session_bridge (session_bridge.hpp), never directly.

#include <caf/all.hpp>
#include <memory>
#include <string>

#include "actors/channel_events.hpp"
#include "actors/connection_info.hpp"
#include "actors/forward_hub.hpp"
#include "actors/server_context.hpp"
#include "actors/verdict_slot.hpp"
#include "protocol/ssh/session_events.hpp"

namespace cssh::actors {

struct conn_password {
  std::string username;
  std::string password;
  std::string client_version;
  verdict_promise reply;
};
struct conn_pubkey {
  std::string username;
  std::string public_key;
  std::string client_version;
  verdict_promise reply;
};
struct conn_authenticated { std::string username; };
struct conn_channel_opened { ssh::channel_id ch; };
struct conn_disconnected { std::string reason; };
/// The first allowed forwarding request (connection mode): start the helper for `hub`.
struct conn_forwarding { std::shared_ptr<forward_hub> hub; };

using connection_actor = caf::typed_actor<
    caf::reacts_to<conn_password>, caf::reacts_to<conn_pubkey>, caf::reacts_to<conn_authenticated>,
    caf::reacts_to<conn_channel_opened>, caf::reacts_to<conn_disconnected>, caf::reacts_to<ch_pty>,
    caf::reacts_to<ch_env>, caf::reacts_to<ch_program>, caf::reacts_to<ch_window>, caf::reacts_to<ch_signal>,
    caf::reacts_to<ch_closed>, caf::reacts_to<conn_forwarding>>;

connection_actor spawn_connection_actor(caf::actor_system& system, context_ptr context,
                                        std::shared_ptr<ssh::session_commands> session,
                                        connection_info info);

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::conn_password)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::conn_pubkey)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::conn_authenticated)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::conn_channel_opened)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::conn_disconnected)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::conn_forwarding)
