#include "app/observability.hpp"

#include "common/log.hpp"
#include "common/metrics.hpp"
#include "common/server_metrics.hpp"
#include "common/prometheus_text.hpp"

namespace cssh::app {

result<void> apply_log_settings(const config::log_config& cfg) {
  log::set_level(cfg.level);
  log::set_format_json(cfg.format == "ljson");
  if (cfg.destination == "file") return log::to_file(cfg.file);
  if (cfg.destination == "syslog") {
    log::syslog_target target;
    target.destination = cfg.syslog.destination;
    target.facility = log::syslog_facility(cfg.syslog.facility);
    target.tag = cfg.syslog.tag;
    target.pid = cfg.syslog.pid;
    return log::to_syslog(target);
  }
  log::to_stdout();
  return {};
}

void reopen_log() {
  if (auto ok = log::reopen(); !ok) {
    log::error(ok.error().code, "SIGHUP: " + ok.error().message + "; still writing to the old file");
    return;
  }
  log::notice("LOG_REOPENED", "SIGHUP: log file reopened");
}

result<std::unique_ptr<observability>> observability::start(const config::app_config& cfg,
                                                            std::shared_ptr<http::reactor> reactor,
                                                            http::endpoint docker,
                                                            std::chrono::milliseconds ping_timeout) {
  auto o = std::make_unique<observability>();
  // Created even when nothing serves it: cssh_health_ok and the draining state stay meaningful.
  o->health_ = std::make_shared<health_check>(std::move(reactor), std::move(docker), ping_timeout);
  metrics::server();  // every metric exists (at 0) before the first scrape
  if (!cfg.metrics.enable && !cfg.health.enable) return o;
  observability_options options;
  options.metrics = cfg.metrics.enable;
  options.metrics_listen = cfg.metrics.listen;
  options.metrics_path = cfg.metrics.path;
  options.render_metrics = [] { return prometheus_text::render(metrics::default_registry().collect()); };
  options.health = cfg.health.enable;
  options.health_listen = cfg.health.listen;
  std::weak_ptr<health_check> health = o->health_;
  options.check_health = [health](health_answer done) {
    if (auto h = health.lock()) return h->check(std::move(done));
    done(false, "the server is shutting down");
  };
  auto started = observability_server::start(std::move(options));
  if (!started) return started.error();
  o->server_ = std::move(started.value());
  if (cfg.metrics.enable)
    log::notice("METRICS_LISTENING", "Prometheus metrics served",
                {{"listen", cfg.metrics.listen}, {"port", o->server_->metrics_port()}, {"path", cfg.metrics.path}});
  if (cfg.health.enable)
    log::notice("HEALTH_LISTENING", "health endpoint served",
                {{"listen", cfg.health.listen}, {"port", o->server_->health_port()}});
  return o;
}

void observability::serving() { health_->set_serving(true); }

void observability::draining() { health_->set_draining(); }

void observability::stop() {
  if (server_) server_->stop();
}

}  // namespace cssh::app
