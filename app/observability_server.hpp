#pragma once
// The HTTP side of observability: Prometheus' /metrics and the health endpoint, each on its own
// listening address, served by one thread of their own (Boost.Beast lives only in the .cpp).
// Neither blocks the SSH server: a scrape renders the registry, a health request waits for an
// asynchronous check.

#include <functional>
#include <memory>
#include <string>

#include "common/result.hpp"

namespace cssh::app {

/// A health verdict: healthy, or why not.
using health_answer = std::function<void(bool healthy, std::string reason)>;

struct observability_options {
  bool metrics = false;
  std::string metrics_listen;  // "host:port", "[v6]:port"
  std::string metrics_path = "/metrics";
  /// The exposition text for one scrape.
  std::function<std::string()> render_metrics;

  bool health = false;
  std::string health_listen;
  /// Decides one health request; calls its argument once, on any thread.
  std::function<void(health_answer)> check_health;
};

class observability_server {
 public:
  /// Binds every enabled endpoint (errors name the address) and starts serving.
  static result<std::unique_ptr<observability_server>> start(observability_options options);
  ~observability_server();
  observability_server(const observability_server&) = delete;
  observability_server& operator=(const observability_server&) = delete;

  /// The ports actually bound (0: that endpoint is off).
  unsigned metrics_port() const;
  unsigned health_port() const;
  /// Closes the listeners and open connections and joins the thread.
  void stop();

  struct impl;

 private:
  explicit observability_server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace cssh::app
