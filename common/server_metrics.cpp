#include "common/server_metrics.hpp"

#include <chrono>
#include <map>
#include <mutex>

#ifndef CSSH_VERSION
#define CSSH_VERSION "0.1.0"
#endif

namespace cssh::metrics {
namespace {

// Message handling is usually microseconds; a blocked handler shows up in the top buckets.
const std::vector<double> handling_bounds = {1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1};
// Containers take tens of milliseconds to seconds (longer with a pull).
const std::vector<double> container_bounds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

server_metrics make(registry& r) {
  server_metrics m{
      r.counters("containerssh_ssh_connections_total", "Number of SSH connections since start").with({}),
      r.gauges("containerssh_ssh_current_connections", "Number of currently open SSH connections").with({}),
      r.counters("containerssh_ssh_successful_handshakes_total",
                 "Successful SSH handshakes (authenticated connections) since start")
          .with({}),
      r.counters("containerssh_ssh_failed_handshakes_total",
                 "Failed SSH handshakes (connections that ended without authenticating) since start")
          .with({}),
      r.counters("containerssh_auth_server_requests_total", "The number of requests sent to the authentication server.")
          .with({}),
      r.counters("containerssh_auth_server_failures_total",
                 "The number of request failures to the authentication server (soft: retried, hard: given up).",
                 {"type"}),
      r.counters("containerssh_auth_success_total", "The number of successful authentications.",
                 {"authtype", "country"}),
      r.counters("containerssh_auth_failures_total", "The number of failed authentications.", {"authtype", "country"}),
      r.counters("containerssh_config_server_requests_total", "The number of requests sent to the configuration server.")
          .with({}),
      r.counters("containerssh_config_server_failures_total",
                 "The number of failed requests to the configuration server.")
          .with({}),
      r.counters("containerssh_backend_requests_total", "The number of requests sent to the backend.", {"backend"}),
      r.counters("containerssh_backend_errors_total", "The number of failed requests to the backend.", {"backend"}),

      r.counters("cssh_sessions_total", "Programs started in containers, by execution mode and SSH request kind",
                 {"mode", "kind"}),
      r.counters("cssh_session_bytes_total",
                 "Bytes relayed between SSH clients and their programs (in: client to program)", {"direction"}),
      r.counters("cssh_session_bytes_total", "", {"direction"}).with({"in"}),
      r.counters("cssh_session_bytes_total", "", {"direction"}).with({"out"}),
      r.counters("cssh_session_exits_total", "Programs that ended, by exit class", {"class"}),
      r.gauges("cssh_containers_active", "Containers created by this server and not removed yet").with({}),
      r.histograms("cssh_container_create_seconds", "Duration of the Docker Engine's container create call", {},
                   container_bounds)
          .with({}),
      r.histograms("cssh_container_start_seconds",
                   "From a program request to its container running (image check or pull, create, attach, start)", {},
                   container_bounds)
          .with({}),
      r.counters("cssh_docker_requests_total", "Docker Engine API calls made for sessions, by endpoint", {"endpoint"}),
      r.counters("cssh_docker_errors_total", "Docker Engine API calls that failed, by endpoint", {"endpoint"}),

      r.gauges("cssh_actors_alive", "Actors currently running, by kind", {"kind"}),
      r.counters("cssh_actors_started_total", "Actors started, by kind", {"kind"}),
      r.counters("cssh_actors_failed_total", "Actors that ended abnormally (an error exit reason), by kind", {"kind"}),
      r.counters("cssh_actor_messages_total", "Messages handled by actors' behaviors, by kind", {"kind"}),
      r.histograms("cssh_actor_message_handling_seconds", "Time actors spent handling one message, by kind", {"kind"},
                   handling_bounds),
      r.gauges("cssh_actor_mailbox_depth",
               "Messages waiting in actors' mailboxes (summed over the kind, sampled at each message)", {"kind"}),
      r.gauges("cssh_actor_mailbox_depth_max", "The deepest mailbox seen for an actor of the kind", {"kind"}),

      r.gauges("cssh_health_ok", "1 when the last health check passed, 0 when it failed").with({}),

      r.counters("cssh_proxy_protocol_rejected_total",
                 "Connections refused for their PROXY protocol header or source, by reason", {"reason"}),
      r.counters("cssh_connection_timeouts_total",
                 "Connections closed by idleTimeout, sessionTimeout or the end of shutdownTimeout", {"kind"}),
  };
  // Label values known in advance start at 0, so a rate() sees the first event.
  for (auto type : {"soft", "hard"}) m.auth_server_failures.with({type});
  for (auto authtype : {"password", "pubkey"}) {
    m.auth_success.with({authtype, unknown_country});
    m.auth_failures.with({authtype, unknown_country});
  }
  m.backend_requests.with({"docker"});
  m.backend_errors.with({"docker"});
  for (auto cls : {"ok", "error", "not_executable", "not_found", "signal", "start_failed"}) m.session_exits.with({cls});
  for (auto reason : {"source_denied", "missing", "invalid", "timeout", "closed"}) m.proxy_rejected_family.with({reason});
  for (auto kind : {"idle", "session", "shutdown"}) m.timeouts_family.with({kind});
  r.gauges("cssh_build_info", "Always 1; the version label says which build runs", {"version"})
      .with({CSSH_VERSION})
      .set(1);
  r.gauges("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds")
      .with({})
      .set(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  return m;
}

struct lookup_tables {
  std::mutex mutex;
  std::map<std::string, actor_kind_cells, std::less<>> kinds;
  std::map<std::string, docker_endpoint_cells, std::less<>> endpoints;
};

lookup_tables& tables() {
  static lookup_tables* t = new lookup_tables;  // never destroyed, like the registry
  return *t;
}

}  // namespace

server_metrics& server() {
  static server_metrics* instance = new server_metrics(make(default_registry()));  // never destroyed
  return *instance;
}

actor_kind_cells& server_metrics::actor_kind(std::string_view kind) {
  auto& t = tables();
  std::lock_guard<std::mutex> guard(t.mutex);
  auto it = t.kinds.find(kind);
  if (it == t.kinds.end()) {
    it = t.kinds
             .emplace(std::string(kind),
                      actor_kind_cells{actors_alive.with({kind}), actors_started.with({kind}), actors_failed.with({kind}),
                                       actor_messages.with({kind}), actor_handling_seconds.with({kind}),
                                       actor_mailbox_depth.with({kind}), actor_mailbox_depth_max.with({kind})})
             .first;
  }
  return it->second;
}

docker_endpoint_cells& server_metrics::docker_endpoint(std::string_view endpoint) {
  auto& t = tables();
  std::lock_guard<std::mutex> guard(t.mutex);
  auto it = t.endpoints.find(endpoint);
  if (it == t.endpoints.end()) {
    it = t.endpoints
             .emplace(std::string(endpoint),
                      docker_endpoint_cells{docker_requests.with({endpoint}), docker_errors.with({endpoint}),
                                            backend_requests.with({"docker"}), backend_errors.with({"docker"})})
             .first;
  }
  return it->second;
}

void count_authentication(std::string_view authtype, bool success) {
  auto& m = server();
  (success ? m.auth_success : m.auth_failures).with({authtype, unknown_country}).inc();
}

void count_auth_server_attempt(bool ok, bool giving_up) {
  auto& m = server();
  m.auth_server_requests.inc();
  if (ok) return;
  m.auth_server_failures.with({"soft"}).inc();
  if (giving_up) m.auth_server_failures.with({"hard"}).inc();
}

void count_config_server_attempt(bool ok) {
  auto& m = server();
  m.config_server_requests.inc();
  if (!ok) m.config_server_failures.inc();
}

std::string_view exit_class(int exit_code, bool by_signal) {
  if (by_signal || exit_code > 128) return "signal";
  if (exit_code == 0) return "ok";
  if (exit_code == 126) return "not_executable";
  if (exit_code == 127) return "not_found";
  return "error";
}

}  // namespace cssh::metrics
