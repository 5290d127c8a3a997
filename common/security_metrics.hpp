#pragma once
// Metrics of the security policy (`security:`) and the server-wide caps (`limits:`), registered
// in the default registry on first use (app/server.cpp touches them at start, so every series
// exists from the first scrape).

#include <string_view>

#include "common/metrics.hpp"

namespace cssh::metrics {

struct security_metrics {
  /// cssh_security_refusals_total{request}: requests the `security:` policy refused, by request
  /// (env, tty, exec, shell, subsystem, signal, session, forwarding).
  counter_family& refusals;
  /// cssh_limit_refusals_total{limit}: logins or containers refused by `limits:`
  /// (connections, connections_per_user, containers).
  counter_family& limit_refusals;
  gauge& connections;           // cssh_limit_connections: logged-in connections counted by limits
  gauge& connections_user_max;  // cssh_limit_connections_user_max: the most one user holds now
  gauge& containers;            // cssh_limit_containers: containers held (created, not yet removed)

  void count_refusal(std::string_view request) { refusals.with({request}).inc(); }
  void count_limit_refusal(std::string_view limit) { limit_refusals.with({limit}).inc(); }
};

security_metrics& security();

}  // namespace cssh::metrics
