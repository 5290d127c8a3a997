#pragma once
// The server's observability wiring, so app/server.cpp needs only a few calls: the log settings
// (level, format, destination) and the HTTP endpoints (/metrics, health) with their health check.

#include <chrono>
#include <memory>

#include "app/health_check.hpp"
#include "app/observability_server.hpp"
#include "common/result.hpp"
#include "config/app_config.hpp"
#include "protocol/http/client.hpp"
#include "protocol/http/endpoint.hpp"

namespace cssh::app {

/// log.level, log.format and log.destination (stdout, file, syslog). Fails naming the file or
/// socket that cannot be opened.
result<void> apply_log_settings(const config::log_config& log);

/// SIGHUP: the log file is opened again (logrotate moved it); logs the outcome.
void reopen_log();

class observability {
 public:
  /// Starts the enabled endpoints; fails (METRICS_LISTEN_FAILED, HEALTH_LISTEN_FAILED) naming
  /// the address. `docker` is the Engine the health check pings, within `ping_timeout`.
  static result<std::unique_ptr<observability>> start(const config::app_config& cfg,
                                                      std::shared_ptr<http::reactor> reactor, http::endpoint docker,
                                                      std::chrono::milliseconds ping_timeout);
  /// The SSH listener accepts connections: health may say ok.
  void serving();
  /// Shutdown began: health says not ok from now on; /metrics stays up.
  void draining();
  /// Closes the endpoints (before the reactor stops).
  void stop();

 private:
  std::shared_ptr<health_check> health_;
  std::unique_ptr<observability_server> server_;
};

}  // namespace cssh::app
