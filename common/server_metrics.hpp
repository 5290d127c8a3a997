#pragma once
// Every metric this server exports on /metrics, created once in metrics::default_registry().
//
// ContainerSSH's metrics keep their names, types and labels (containerssh_*). Its `country`
// label comes from a GeoIP database; this server has none, so it is always "XX", the value
// ContainerSSH uses for an unknown country. Metrics of our own start with cssh_.
//
// Instrumentation sites keep references to cells (see common/metrics.hpp): looking a labelled
// cell up takes a mutex, incrementing it does not.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/metrics.hpp"
#include "common/result.hpp"

namespace cssh::metrics {

/// ContainerSSH's `country` label without a GeoIP database.
inline constexpr std::string_view unknown_country = "XX";

/// The cells of one actor kind (see actors/actor_metrics.hpp).
struct actor_kind_cells {
  gauge& alive;
  counter& started;
  counter& failed;
  counter& messages;
  histogram& handling_seconds;
  gauge& mailbox_depth;
  gauge& mailbox_depth_max;
};

/// The cells of one Docker Engine endpoint (create, start, attach, wait, remove, ...).
struct docker_endpoint_cells {
  counter& requests;
  counter& errors;
  counter& backend_requests;  // containerssh_backend_requests_total{backend="docker"}
  counter& backend_errors;
};

struct server_metrics {
  // --- ContainerSSH's ---------------------------------------------------------------------
  counter& ssh_connections;            // containerssh_ssh_connections_total
  gauge& ssh_current_connections;      // containerssh_ssh_current_connections
  counter& ssh_successful_handshakes;  // containerssh_ssh_successful_handshakes_total
  counter& ssh_failed_handshakes;      // containerssh_ssh_failed_handshakes_total
  counter& auth_server_requests;       // containerssh_auth_server_requests_total
  counter_family& auth_server_failures;  // containerssh_auth_server_failures_total{type=soft|hard}
  counter_family& auth_success;        // containerssh_auth_success_total{authtype,country}
  counter_family& auth_failures;       // containerssh_auth_failures_total{authtype,country}
  counter& config_server_requests;     // containerssh_config_server_requests_total
  counter& config_server_failures;     // containerssh_config_server_failures_total
  counter_family& backend_requests;    // containerssh_backend_requests_total{backend}
  counter_family& backend_errors;      // containerssh_backend_errors_total{backend}

  // --- sessions and containers ---------------------------------------------------------------
  counter_family& sessions;            // cssh_sessions_total{mode,kind}
  counter_family& session_bytes;       // cssh_session_bytes_total{direction=in|out}
  counter& session_bytes_in;           //   its two cells, for the data path
  counter& session_bytes_out;
  counter_family& session_exits;       // cssh_session_exits_total{class}
  gauge& containers_active;            // cssh_containers_active
  histogram& container_create_seconds; // cssh_container_create_seconds
  histogram& container_start_seconds;  // cssh_container_start_seconds
  counter_family& docker_requests;     // cssh_docker_requests_total{endpoint}
  counter_family& docker_errors;       // cssh_docker_errors_total{endpoint}

  // --- actors ---------------------------------------------------------------------------------
  gauge_family& actors_alive;          // cssh_actors_alive{kind}
  counter_family& actors_started;      // cssh_actors_started_total{kind}
  counter_family& actors_failed;       // cssh_actors_failed_total{kind}
  counter_family& actor_messages;      // cssh_actor_messages_total{kind}
  histogram_family& actor_handling_seconds;  // cssh_actor_message_handling_seconds{kind}
  gauge_family& actor_mailbox_depth;   // cssh_actor_mailbox_depth{kind}
  gauge_family& actor_mailbox_depth_max;  // cssh_actor_mailbox_depth_max{kind}

  // --- the process ----------------------------------------------------------------------------
  gauge& healthy;                      // cssh_health_ok: the last health check's verdict (1/0)

  // --- load balancing and lifecycle -------------------------------------------------------------
  counter_family& proxy_rejected_family;  // cssh_proxy_protocol_rejected_total{reason}
  counter_family& timeouts_family;        // cssh_connection_timeouts_total{kind=idle|session|shutdown}

  /// A connection refused for its PROXY header or source: "source_denied", "missing",
  /// "invalid", "timeout" or "closed" (closed mid-header).
  counter& proxy_rejected(std::string_view reason) { return proxy_rejected_family.with({reason}); }
  /// A connection closed by ssh.idleTimeout, ssh.sessionTimeout or the end of shutdownTimeout.
  counter& timeouts(std::string_view kind) { return timeouts_family.with({kind}); }

  /// The cells of an actor kind ("connection", "channel", ...), created on first use.
  actor_kind_cells& actor_kind(std::string_view kind);
  /// The cells of a Docker Engine endpoint ("create", "start", ...), created on first use.
  docker_endpoint_cells& docker_endpoint(std::string_view endpoint);
};

/// The server's metrics in the default registry (created on first call).
server_metrics& server();

/// One authentication decided: containerssh_auth_{success,failures}_total{authtype, country="XX"}.
/// `authtype` is ContainerSSH's: "password", "pubkey" or "keyboard-interactive".
void count_authentication(std::string_view authtype, bool success);

/// One HTTP attempt at the authentication webhook (authz included), as ContainerSSH counts them:
/// every attempt is a request; a failed one is a `soft` failure, and a `hard` one too when the
/// client gives up after it.
void count_auth_server_attempt(bool ok, bool giving_up = false);
/// One HTTP attempt at the configuration server; a failed one counts as a failure.
void count_config_server_attempt(bool ok);

/// The exit class of a session's program for cssh_session_exits_total: "ok" (0), "error"
/// (1-125), "not_executable" (126), "not_found" (127), "signal" (killed by a signal, or a code
/// above 128 the Engine reports for one), "start_failed" (the container could not run it).
std::string_view exit_class(int exit_code, bool by_signal);

/// Every failure is the Engine's (see count_docker_call).
inline bool any_failure(const failure&) { return true; }

/// Wraps a Docker Engine callback so that the call counts: cssh_docker_requests_total and
/// containerssh_backend_requests_total now, the *_errors_total when it completes with a failure
/// that `engine_fault` says is one (an answer the caller expects, like a create's absent image
/// under a pull policy, is not).
template <class T, class Callback>
auto count_docker_call(std::string_view endpoint, Callback done, bool (*engine_fault)(const failure&) = any_failure) {
  auto& cells = server().docker_endpoint(endpoint);
  cells.requests.inc();
  cells.backend_requests.inc();
  return [&cells, engine_fault, done = std::move(done)](result<T> r) mutable {
    if (!r.ok() && engine_fault(r.error())) {
      cells.errors.inc();
      cells.backend_errors.inc();
    }
    done(std::move(r));
  };
}

/// Wraps a callback so that a successful completion observes the time since now into `h`.
template <class T, class Callback>
auto time_success(histogram& h, Callback done) {
  const auto start = std::chrono::steady_clock::now();
  return [&h, start, done = std::move(done)](result<T> r) mutable {
    if (r.ok()) h.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    done(std::move(r));
  };
}

}  // namespace cssh::metrics
