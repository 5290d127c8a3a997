#include "common/security_metrics.hpp"

namespace cssh::metrics {
namespace {

security_metrics make(registry& r) {
  security_metrics m{
      r.counters("cssh_security_refusals_total", "Requests refused by the security policy, by request", {"request"}),
      r.counters("cssh_limit_refusals_total", "Logins and containers refused by the limits, by limit", {"limit"}),
      r.gauges("cssh_limit_connections", "Logged-in connections counted against limits.maxConnections").with({}),
      r.gauges("cssh_limit_connections_user_max",
               "Logged-in connections of the user who has the most (against limits.maxConnectionsPerUser)")
          .with({}),
      r.gauges("cssh_limit_containers", "Containers held by this server, counted against limits.maxContainers")
          .with({}),
  };
  // Known label values start at 0, so a rate() sees the first refusal.
  for (auto request : {"env", "tty", "exec", "shell", "subsystem", "signal", "session", "forwarding"})
    m.refusals.with({request});
  for (auto limit : {"connections", "connections_per_user", "containers"}) m.limit_refusals.with({limit});
  return m;
}

}  // namespace

security_metrics& security() {
  static security_metrics* instance = new security_metrics(make(default_registry()));  // never destroyed
  return *instance;
}

}  // namespace cssh::metrics
