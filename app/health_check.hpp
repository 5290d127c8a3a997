#pragma once
// What `health:` answers: healthy when the SSH listener accepts connections, the server is not
// shutting down, and the Docker Engine answers GET /_ping in time. A verdict that changes is
// logged once (HEALTH_CHECK_FAILED with the reason, HEALTH_CHECK_OK when it recovers) and
// mirrored in cssh_health_ok.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "protocol/http/client.hpp"
#include "protocol/http/endpoint.hpp"

namespace cssh::app {

class health_check : public std::enable_shared_from_this<health_check> {
 public:
  using answer = std::function<void(bool healthy, std::string reason)>;

  health_check(std::shared_ptr<http::reactor> reactor, http::endpoint docker, std::chrono::milliseconds ping_timeout);

  /// The SSH listener accepts connections (set once it runs).
  void set_serving(bool serving);
  /// Shutdown began: every later check answers "not ok" (load balancers stop sending clients).
  void set_draining();

  /// Decides one request. Concurrent requests share one Engine ping; `done` runs once, on a
  /// reactor thread or the caller's.
  void check(answer done);

 private:
  void finish(bool healthy, const std::string& reason);

  std::shared_ptr<http::reactor> reactor_;
  http::endpoint docker_;
  std::chrono::milliseconds ping_timeout_;

  std::mutex mutex_;
  bool serving_ = false;
  bool draining_ = false;
  std::vector<answer> waiting_;  // requests waiting for the ping in flight
  // What was last logged, so each change is logged once.
  bool have_verdict_ = false;
  bool last_healthy_ = false;
  std::string last_reason_;
};

}  // namespace cssh::app
