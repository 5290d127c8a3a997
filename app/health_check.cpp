#include "app/health_check.hpp"

#include "common/log.hpp"
#include "common/server_metrics.hpp"

namespace cssh::app {

health_check::health_check(std::shared_ptr<http::reactor> reactor, http::endpoint docker,
                           std::chrono::milliseconds ping_timeout)
    : reactor_(std::move(reactor)), docker_(std::move(docker)), ping_timeout_(ping_timeout) {}

void health_check::set_serving(bool serving) {
  std::lock_guard<std::mutex> guard(mutex_);
  serving_ = serving;
}

void health_check::set_draining() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    draining_ = true;
    // An orderly state, not a failure: logged as such, and later checks say the same quietly.
    have_verdict_ = true;
    last_healthy_ = false;
    last_reason_ = "the server is shutting down";
  }
  metrics::server().healthy.set(0);
  log::notice("HEALTH_DRAINING", "shutting down: the health endpoint answers \"not ok\" from now on");
}

void health_check::check(answer done) {
  std::string refusal;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (draining_) {
      refusal = "the server is shutting down";
    } else if (!serving_) {
      refusal = "the SSH listener is not accepting connections";
    } else {
      waiting_.push_back(std::move(done));
      if (waiting_.size() > 1) return;  // a ping is already on its way; share its answer
    }
  }
  if (!refusal.empty()) {
    finish(false, refusal);
    done(false, refusal);
    return;
  }
  http::request ping;
  ping.method = "GET";
  ping.target = "/_ping";  // unversioned: every Engine API version serves it
  ping.timeout = ping_timeout_;
  auto self = shared_from_this();
  http::async_call(*reactor_, docker_, std::move(ping), [self](result<http::response> r) {
    bool healthy = r.ok() && r->status == 200;
    std::string reason;
    if (!r.ok()) {
      reason = "the Docker Engine did not answer a ping: " + r.error().message;
    } else if (!healthy) {
      reason = "the Docker Engine at " + self->docker_.describe() + " answered GET /_ping with HTTP " +
               std::to_string(r->status);
    }
    self->finish(healthy, reason);
    std::vector<answer> answers;
    {
      std::lock_guard<std::mutex> guard(self->mutex_);
      answers.swap(self->waiting_);
    }
    for (auto& a : answers) a(healthy, reason);
  });
}

void health_check::finish(bool healthy, const std::string& reason) {
  metrics::server().healthy.set(healthy ? 1 : 0);
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (have_verdict_ && healthy == last_healthy_ && reason == last_reason_) return;
    have_verdict_ = true;
    last_healthy_ = healthy;
    last_reason_ = reason;
  }
  if (healthy) {
    log::notice("HEALTH_CHECK_OK", "health check passed: accepting SSH connections and the Docker Engine answers",
                {{"dockerHost", docker_.describe()}});
  } else {
    log::warning("HEALTH_CHECK_FAILED", "health check failed: " + reason, {{"dockerHost", docker_.describe()}});
  }
}

}  // namespace cssh::app
