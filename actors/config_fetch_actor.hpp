#pragma once
// config_fetch_actor: makes one connection's configuration after a successful authentication.
// One per server. With `configserver.url` set it POSTs the authz-shaped body there (retried with
// back-off until the login's deadline), merges the answer's `config` over the file's (only
// backend, docker/dockerrun, security and log.level) and validates the result as a file is
// validated; the users file's per-user image goes on top. Without a config server it only
// applies that image.
//
// accepts config_request -> replies config_answer
// internal webhook_reply (webhook_reply.hpp, from the HTTP reactor thread)

#include <caf/all.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/app_config.hpp"
#include "common/login_context.hpp"
#include "protocol/http/client.hpp"

namespace cssh::actors {

struct config_request {
  /// Who logged in, with the metadata, environment and files authentication gathered.
  login_context login;
  std::string authenticated_username;
  /// The users file's per-user image, "" for none. Wins over the config server's.
  std::string image;
  std::chrono::steady_clock::time_point deadline;
};

struct config_answer {
  bool ok = false;
  /// Why not: for the log. Names the failed step and, for an invalid answer, every bad key.
  std::string reason;
  /// This connection's configuration (the base one when nothing changes it).
  std::shared_ptr<const config::app_config> config;
  /// metadata, environment and files from the config server's answer.
  connection_metadata meta;
};

using config_fetch_actor = caf::typed_actor<caf::replies_to<config_request>::with<config_answer>>;

/// Fails when configserver's URL or TLS settings cannot work (checked before the server listens).
result<config_fetch_actor> spawn_config_fetch_actor(caf::actor_system& system, std::shared_ptr<http::reactor> reactor,
                                                    std::shared_ptr<const config::app_config> base,
                                                    std::vector<std::string>* warnings = nullptr);

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::config_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::config_answer)
