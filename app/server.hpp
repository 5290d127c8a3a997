#pragma once
// The daemon: wires configuration, the actor system, the Docker client, the auth actor and
// the SSH listener together, and shuts them down in order on SIGINT/SIGTERM.

#include <string>

#include "config/app_config.hpp"

namespace cssh::app {

/// Runs until a termination signal; returns the process exit code.
int run_server(config::app_config config);

}  // namespace cssh::app
