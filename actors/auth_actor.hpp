#pragma once
// auth_actor: asks the authentication webhook whether a login may proceed.
// One per server; it never blocks (HTTP runs on the reactor) and keeps no per-user state.
//
// accepts  password_check            -> replies password_verdict
// internal webhook_answer (from the HTTP reactor thread)

#include <caf/all.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "config/app_config.hpp"
#include "protocol/http_client.hpp"

namespace cssh::actors {

struct password_check {
  std::string username;
  std::string password;
  std::string remote_address;  // "ip:port"
  std::string connection_id;
  std::string client_version;
};

struct password_verdict {
  bool success = false;
  std::string reason;  // why not, for the log (never contains the password)
};

using auth_actor = caf::typed_actor<caf::replies_to<password_check>::with<password_verdict>>;

auth_actor spawn_auth_actor(caf::actor_system& system, std::shared_ptr<http::reactor> reactor,
                            config::auth_config config);

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::password_check)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::password_verdict)
