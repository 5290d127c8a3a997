#pragma once
// auth_actor: decides whether a login may proceed. One per server; keeps no per-user state.
//
// Each method (password, public key) goes to its configured backend: the ContainerSSH webhook
// (POST {url}/password or /pubkey, retried with back-off until the login's deadline) or the
// built-in users file (checked on detached worker threads, since crypt(3) blocks). After a
// successful authentication, `auth.authz` (POST {url}/authz) may still refuse the login: that is
// a step of its own (authz_check), asked by the login sequence (login_sequence.hpp).
//
// accepts  password_check            -> replies auth_verdict
//          pubkey_check              -> replies auth_verdict   (the signature is already verified)
//          authz_check               -> replies auth_verdict   (success at once without auth.authz)
// internal webhook_reply (webhook_reply.hpp, from the HTTP reactor thread); file checks go to its
//          worker actors

#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.hpp"
#include "config/app_config.hpp"
#include "common/login_context.hpp"
#include "protocol/http/client.hpp"

namespace cssh::actors {

using login_deadline = std::chrono::steady_clock::time_point;

struct password_check {
  std::string username;
  std::string password;
  std::string remote_address;  // "ip:port"
  std::string connection_id;
  std::string client_version;
  /// When the whole login must be decided (default: auth.authTimeout from now).
  login_deadline deadline{};
};

/// Does this public key belong to the user? The server has verified the client holds it.
struct pubkey_check {
  std::string username;
  std::string public_key;  // authorized_keys format: "ssh-ed25519 AAAA..."
  std::string remote_address;
  std::string connection_id;
  std::string client_version;
  login_deadline deadline{};
};

/// May the authenticated user log in (auth.authz)? `login.meta` holds what authentication gathered.
struct authz_check {
  login_context login;
  std::string authenticated_username;
  const char* method = "";  // "password" / "publickey", for the log
  login_deadline deadline{};
};

struct auth_verdict {
  bool success = false;
  std::string reason;  // why not, for the log (never contains the password)
  /// The name the backend says the user is (ContainerSSH's authenticatedUsername); empty = as typed.
  std::string authenticated_username;
  /// metadata, environment and files from the answers (authentication, then authorization).
  connection_metadata meta;
  /// The users file's per-user image; empty = the configuration's.
  std::string image;
  /// Set by the connection actor on success: the connection's configuration (the config
  /// server's answer merged in), which the session thread enforces `security:` from.
  std::shared_ptr<const config::app_config> config;
};

/// A refusal with its reason.
inline auth_verdict denied(std::string reason) {
  auth_verdict v;
  v.reason = std::move(reason);
  return v;
}

using auth_actor = caf::typed_actor<caf::replies_to<password_check>::with<auth_verdict>,
                                    caf::replies_to<pubkey_check>::with<auth_verdict>,
                                    caf::replies_to<authz_check>::with<auth_verdict>>;

/// Builds every backend first (webhook URLs and TLS settings, users files with their hashes):
/// a configuration that cannot work fails here, before the server listens. `warnings` gets
/// settings that are accepted but unused (e.g. cacert on an http:// URL).
result<auth_actor> spawn_auth_actor(caf::actor_system& system, std::shared_ptr<http::reactor> reactor,
                                    const config::auth_config& config, std::vector<std::string>* warnings = nullptr);

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::password_check)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::pubkey_check)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::authz_check)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::auth_verdict)
