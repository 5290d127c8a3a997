#pragma once
// `containerssh --healthcheck [--config FILE]`: asks the health endpoint (health.client.url,
// default http://127.0.0.1:7000/) and exits 0 when it answers 200, 1 otherwise, for Docker's
// HEALTHCHECK and load balancers.

#include "config/app_config.hpp"

namespace cssh::app {

/// Prints "ok" or "not ok: <why>" and returns the exit code.
int run_healthcheck(const config::health_config& health);

}  // namespace cssh::app
