#pragma once
// What the server does with the Docker Engine before it accepts connections: name this instance,
// remove the containers an earlier run of it left behind (a crash, kill -9), and put the guest
// helper's volume in place. Each step is bounded and none is fatal: an Engine that is not there
// yet only makes sessions fail (clearly) until it is.

#include <chrono>
#include <string>

#include "docker/engine.hpp"
#include "docker/guest_helper.hpp"

namespace cssh::app {

/// The default `instanceId`: "<host name>/<listen host>:<port>", with the port actually bound
/// (so servers on one host listening on port 0 still differ). Stable across restarts.
std::string derive_instance_id(const std::string& listen, unsigned bound_port);

/// Removes every container labelled with this instance id: at start-up no connection owns any,
/// so all of them are orphans. Waits at most `limit`.
void reap_orphans(docker::engine& engine, const std::string& instance_id, std::chrono::milliseconds limit);

/// Installs the guest helper's volume, waiting at most `limit`; a failure is logged (sessions
/// try again when they start).
void install_helper(docker::helper_installer& helper, std::chrono::milliseconds limit);

}  // namespace cssh::app
