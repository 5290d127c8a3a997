#pragma once
// auth_actor: asks the authentication webhook whether a login may proceed.
// One per server; it never blocks (HTTP runs on the reactor) and keeps no per-user state.
//
// accepts  password_check            -> replies auth_verdict
//          pubkey_check              -> replies auth_verdict   (the signature is already verified)
// internal webhook_answer (from the HTTP reactor thread)

#include <caf/all.hpp>
#include <cstdint>
#include <map>
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

/// Does this public key belong to the user? The server has verified the client holds it.
struct pubkey_check {
  std::string username;
  std::string public_key;  // authorized_keys format: "ssh-ed25519 AAAA..."
  std::string remote_address;
  std::string connection_id;
  std::string client_version;
};

struct auth_verdict {
  bool success = false;
  std::string reason;  // why not, for the log (never contains the password)
  /// The name the backend says the user is (ContainerSSH's authenticatedUsername); empty = as typed.
  std::string authenticated_username;
  /// Environment for the user's containers from the answer.
  std::map<std::string, std::string> environment;
};

/// A refusal with its reason.
inline auth_verdict denied(std::string reason) {
  auth_verdict v;
  v.reason = std::move(reason);
  return v;
}

using auth_actor = caf::typed_actor<caf::replies_to<password_check>::with<auth_verdict>,
                                    caf::replies_to<pubkey_check>::with<auth_verdict>>;

auth_actor spawn_auth_actor(caf::actor_system& system, std::shared_ptr<http::reactor> reactor,
                            config::auth_config config);

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::password_check)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::pubkey_check)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::auth_verdict)
