#pragma once
// What every actor of one server process shares: the configuration, the HTTP reactor,
// the Docker Engine client and the server-wide actors. Immutable after start-up.

#include <memory>
#include <string>

#include "actors/auth_actor.hpp"
#include "actors/config_fetch_actor.hpp"
#include "actors/resource_limits.hpp"
#include "config/app_config.hpp"
#include "docker/engine.hpp"
#include "docker/guest_helper.hpp"
#include "protocol/http/client.hpp"

namespace caf {
class actor_system;
}

namespace cssh::actors {

struct server_context {
  caf::actor_system* system = nullptr;
  std::shared_ptr<const config::app_config> config;
  std::shared_ptr<http::reactor> reactor;
  std::shared_ptr<docker::engine> engine;
  auth_actor auth;
  /// Makes each connection's configuration after authentication (config server, per-user image).
  config_fetch_actor config_fetch;
  /// Identifies this server instance in container labels: `instanceId`, by default derived from
  /// the host name and the listen address, so a restarted server finds its orphans.
  std::string instance_id;
  /// Puts the guest helper's volume on the Engine (docker/guest_helper.hpp); null in tests.
  std::shared_ptr<docker::helper_installer> helper;
  /// The caps of `limits:` (connections, containers); null: none (tests).
  std::shared_ptr<resource_limits> limits;
};

using context_ptr = std::shared_ptr<const server_context>;

}  // namespace cssh::actors
