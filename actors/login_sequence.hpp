#pragma once
// login_sequence: one login attempt, from the client's credential to the verdict, and the one
// place a login is refused. One actor per attempt, spawned by the connection actor; it answers
// the attempt once and ends. The steps, in order (each refusal ends the sequence):
//
//   1. credential     the method's backend checks the password or key: the auth webhook
//                     (POST /password, /pubkey) or the users file          auth_actor
//   2. authorization  auth.authz (POST /authz), when configured            auth_actor (authz_check)
//   3. configuration  the config server's answer merged over the file's and validated, and the
//                     users file's per-user image                          config_fetch_actor
//                     A failing config server also closes the connection (the client must not
//                     retry against a broken server).
//   4. limits         a place under limits.maxConnections(PerUser)         take_place() below
//                     Taken when the outcome reaches the connection actor, which knows then
//                     which place it holds (a connection holds one, for its latest user). A
//                     refusal also closes the connection, telling the client to retry later.
//
// Bounds of the whole sequence, enforced outside it:
//   - one deadline, auth.authTimeout from the start: every webhook retry stops at it, and the
//     session thread stops waiting a second after it (session_bridge::ask, AUTH_TIMEOUT);
//   - maxAuthTries: refused attempts are counted on the session thread, which closes the
//     connection past the limit (protocol/ssh/auth_callbacks.cpp).
//
// accepts password_check, pubkey_check -> replies login_outcome (then the actor ends)
// The connection actor runs one attempt at a time (libssh asks one after the other) and drops
// the outcome of an attempt the session thread stopped waiting for once a later one started.

#include <caf/all.hpp>
#include <string>

#include "actors/auth_actor.hpp"
#include "actors/resource_limits.hpp"
#include "actors/server_context.hpp"

namespace cssh::actors {

struct login_outcome {
  /// On success: the authenticated name, the gathered metadata/environment/files and the
  /// connection's configuration. On refusal: why (for the log).
  auth_verdict verdict;
  /// Who logged in (the authenticated name, else the typed one): the user step 4 counts.
  std::string user;
  /// Set when the connection must close after this attempt; the client reads it.
  std::string disconnect;
};

/// The place a connection holds under `limits:`, for its latest user (no slot: none held).
struct held_place {
  resource_limits::slot slot;
  std::string user;
};

using login_sequence = caf::typed_actor<caf::replies_to<password_check>::with<login_outcome>,
                                        caf::replies_to<pubkey_check>::with<login_outcome>>;

login_sequence spawn_login_sequence(caf::actor_system& system, context_ptr context);

/// Step 4, in the connection actor: a successful outcome takes a place for its user, unless
/// `held` is one for that user already (a second login of the same user needs no second place).
/// A full server turns the outcome into a refusal that closes the connection (logged as
/// LIMIT_*, counted). `connection_id` and `remote_address` are for the log.
void take_place(const server_context& context, held_place& held, login_outcome& outcome,
                const std::string& connection_id, const std::string& remote_address);

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::login_outcome)
