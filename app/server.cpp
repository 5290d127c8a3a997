#include "app/server.hpp"

#include <arpa/inet.h>
#include <libssh/libssh.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <caf/all.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "actors/auth_actor.hpp"
#include "actors/session_bridge.hpp"
#include "actors/server_context.hpp"
#include "common/forward_metrics.hpp"
#include "common/security_metrics.hpp"
#include "app/docker_startup.hpp"
#include "app/observability.hpp"
#include "common/cpu_budget.hpp"
#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "docker/engine_connection.hpp"
#include "protocol/http/endpoint.hpp"
#include "protocol/ssh/listener.hpp"
#include "protocol/ssh/session_driver.hpp"
#include "common/random_id.hpp"

namespace cssh::app {
namespace {

/// Our end of an accepted connection as "ip:port" ("[ip]:port" for IPv6), for SSH_CONNECTION;
/// "" when the socket cannot say.
std::string local_address_of(ssh_session_struct* session) {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  int fd = ssh_get_fd(session);
  if (fd < 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) return "";
  char ip[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  return "";
}

/// Live sessions, so a shutdown can ask each one to end.
class session_registry {
 public:
  void add(std::weak_ptr<ssh::session_commands> session) {
    std::lock_guard<std::mutex> guard(mutex_);
    std::erase_if(sessions_, [](auto& w) { return w.expired(); });
    sessions_.push_back(std::move(session));
  }
  /// Asks every live session to end; returns how many were asked.
  int disconnect_all(const std::string& reason) {
    std::lock_guard<std::mutex> guard(mutex_);
    int asked = 0;
    for (auto& w : sessions_) {
      if (auto s = w.lock()) {
        s->disconnect(reason);
        ++asked;
      }
    }
    return asked;
  }

 private:
  std::mutex mutex_;
  std::vector<std::weak_ptr<ssh::session_commands>> sessions_;
};

result<void> check_supported(const config::app_config& cfg) {
  if (cfg.auth.password.method.empty() && cfg.auth.public_key.method.empty()) {
    return fail("CONFIG_UNSUPPORTED", "auth: no authentication method is configured (set auth.password or auth.publicKey)");
  }
  return {};
}

/// Negotiates the Engine API version at start-up. A daemon that is not there yet is not
/// fatal: sessions negotiate on their own once it answers, and fail with a clear message until then.
/// Returns whether the Engine answered.
bool negotiate_engine(docker::engine& engine) {
  auto answer = std::make_shared<std::promise<result<std::string>>>();
  auto future = answer->get_future();
  engine.negotiate([answer](result<std::string> r) { answer->set_value(std::move(r)); });
  // /_ping and /version each have the http deadline; the margin covers scheduling.
  auto limit = 2 * engine.timeouts().http + std::chrono::seconds(1);
  const std::string host = engine.endpoint().describe();
  if (future.wait_for(limit) != std::future_status::ready) {
    log::error("DOCKER_UNAVAILABLE", "the Docker Engine did not answer /_ping and /version in time", {{"host", host}});
    return false;
  }
  auto r = future.get();
  auto info = engine.info();
  if (r) {
    log::notice("DOCKER_CONNECTED",
                "connected to " + info.engine_text() + ", using API " + r.value() + (info.pinned ? " (pinned)" : ""),
                {{"host", host}, {"apiVersion", r.value()}, {"engineVersion", info.engine_version},
                 {"tls", engine.endpoint().tls}});
  } else {
    log::error("DOCKER_UNAVAILABLE", "cannot use the Docker Engine: " + r.error().message, {{"host", host}});
  }
  return r.ok();
}

ssh::session_options session_options_from(const config::app_config& cfg) {
  ssh::session_options o;
  o.login_grace = cfg.ssh.login_grace_time;
  o.max_auth_tries = cfg.ssh.max_auth_tries;
  o.banner = cfg.ssh.banner;
  o.client_alive_interval = cfg.ssh.client_alive_interval;
  o.client_alive_count_max = cfg.ssh.client_alive_count_max;
  o.idle_timeout = cfg.ssh.idle_timeout;
  o.session_timeout = cfg.ssh.session_timeout;
  o.password = !cfg.auth.password.method.empty();
  o.public_key = !cfg.auth.public_key.method.empty();
  // keyboard-interactive is one password prompt checked by the password backend.
  o.keyboard_interactive = o.password;
  return o;
}

/// Waits up to `limit` for the sessions to end by themselves (until `busy` is false). SIGHUP
/// still reopens the log file meanwhile; a second SIGTERM/SIGINT cuts the wait short. Returns
/// whether they ended.
template <class Busy>
bool wait_for_sessions(const sigset_t& signals, Busy busy, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (busy()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    auto step = std::min<std::chrono::nanoseconds>(deadline - now, std::chrono::milliseconds(50));
    timespec wait{0, static_cast<long>(step.count())};
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGHUP) reopen_log();
    if (sig == SIGTERM || sig == SIGINT) {
      log::notice("SERVER_STOPPING", "second termination signal: not waiting for sessions any longer");
      return false;
    }
  }
  return true;
}

sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);  // not a termination: reopens the log file (logrotate)
  return set;
}

}  // namespace

int run_server(config::app_config cfg) {
  if (auto ok = apply_log_settings(cfg.log); !ok) {
    std::fprintf(stderr, "containerssh: %s: %s\n", ok.error().code.c_str(), ok.error().message.c_str());
    return 1;
  }
  for (const auto& key : cfg.ignored_keys) {
    log::warning("CONFIG_KEY_IGNORED", "configuration key is not implemented by this server and is ignored",
                 {{"key", key}});
  }
  for (const auto& warning : cfg.warnings) log::warning("CONFIG_WARNING", warning);
  if (auto ok = check_supported(cfg); !ok) {
    log::error(ok.error().code, ok.error().message);
    return 1;
  }
  auto docker_connection = docker::make_engine_connection(cfg.docker.connection);
  if (!docker_connection) {
    log::error(docker_connection.error().code, docker_connection.error().message);
    return 1;
  }
  for (const auto& warning : docker_connection->warnings) {
    log::warning(docker_connection->plain_tcp ? "DOCKER_INSECURE_CONNECTION" : "DOCKER_CONNECTION_WARNING", warning,
                 {{"host", cfg.docker.connection.host}});
  }

  // Threads created from here on inherit the blocked set; main collects the signals.
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t signals = termination_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  caf::actor_system_config caf_config;
  caf_config.set("logger.console", caf::atom("none"));
  // Work sharing, not CAF 0.17's default work stealing: an idle stealing worker sleeps 10 ms
  // between polls and nothing wakes it, so every message to a quiet actor system waited up to
  // 10 ms (stdout relayed at 9 MB/s; perf showed 70% of samples in nanosleep). Sharing workers
  // block on a condition variable and wake on the enqueue: no polling while idle, no latency.
  caf_config.set("scheduler.policy", caf::atom("sharing"));
  // As many workers as usable CPUs (CAF's default is at least 4, and counts the host's cores
  // even under a container's CPU quota): every extra sleeping worker is one more thread a
  // message may wake; fewer workers cut the stdin relay's CPU by a fifth. At least two, so one
  // slow handler never holds up every actor.
  const auto cpus = usable_cpus();
  const unsigned workers = std::max(2u, cpus.cpus);
  caf_config.set("scheduler.max-threads", workers);
  log::info("SERVER_WORKERS", std::to_string(workers) + " actor worker threads",
            {{"usableCpus", cpus.cpus}, {"cpuSource", cpus.source}});
  caf::actor_system system{caf_config};

  auto context = std::make_shared<actors::server_context>();
  context->system = &system;
  context->config = std::make_shared<const config::app_config>(cfg);
  context->limits = std::make_shared<actors::resource_limits>(cfg.limits);
  metrics::security();  // its series exist (at 0) from the first scrape
  metrics::forwarding();
  // One reactor thread: with two, a handler posted from another thread (a credit from a session
  // thread, a write from an actor) often woke both, and relaying stdout cost three times the
  // context switches (bench row 3: 66k vs 21k per 200 MB, daemon CPU 950 vs 610 ms). What runs
  // there is I/O and short parsing; password checks and other CPU work stay off it.
  context->reactor = std::make_shared<http::reactor>(1);
  const auto& timeouts = cfg.docker.execution.timeouts;
  context->engine = std::make_shared<docker::engine>(
      *context->reactor, docker_connection->endpoint,
      docker::engine_timeouts{timeouts.http, timeouts.container_start, timeouts.container_stop, timeouts.signal});
  if (!docker_connection->pinned_api_version.empty()) {
    context->engine->set_api_version(docker_connection->pinned_api_version);
  }
  // The server-wide actors; a backend that cannot work (bad URL or TLS files, unusable users
  // file) stops the server here, before it listens.
  std::vector<std::string> auth_warnings;
  auto auth = actors::spawn_auth_actor(system, context->reactor, cfg.auth, &auth_warnings);
  if (!auth) {
    log::error(auth.error().code, auth.error().message);
    return 1;
  }
  context->auth = auth.value();
  auto config_fetch = actors::spawn_config_fetch_actor(system, context->reactor, context->config, &auth_warnings);
  if (!config_fetch) {
    caf::anon_send_exit(context->auth, caf::exit_reason::user_shutdown);
    log::error(config_fetch.error().code, config_fetch.error().message);
    return 1;
  }
  context->config_fetch = config_fetch.value();
  for (const auto& warning : auth_warnings) log::warning("CONFIG_WARNING", warning);
  // Everything running now lives as long as the server; shutdown waits for the rest.
  const std::size_t server_wide_actors = system.registry().running();
  const bool engine_answered = negotiate_engine(*context->engine);
  // /metrics and health; the health ping must answer before `containerssh --healthcheck` gives up.
  auto observed = observability::start(cfg, context->reactor, context->engine->endpoint(),
                                       std::min(timeouts.http, cfg.health.client_timeout * 3 / 4));
  if (!observed) {
    log::error(observed.error().code, observed.error().message);
    return 1;
  }

  ssh::listener_options options;
  options.listen = cfg.ssh.listen;
  options.hostkeys = cfg.ssh.hostkeys;
  options.server_version = cfg.ssh.server_version;
  options.ciphers = cfg.ssh.ciphers;
  options.kex = cfg.ssh.kex;
  options.macs = cfg.ssh.macs;
  options.host_key_algorithms = cfg.ssh.host_key_algorithms;
  options.max_startups = cfg.ssh.max_startups;
  options.max_startups_per_source = cfg.ssh.max_startups_per_source;
  options.proxy_protocol = cfg.ssh.proxy_protocol.enable;
  options.proxy_timeout = cfg.ssh.proxy_protocol.timeout;
  for (const auto& range : cfg.ssh.proxy_protocol.allowed_sources) {
    if (auto parsed = cidr::parse(range)) options.proxy_sources.push_back(parsed.value());  // checked by config
  }
  auto opened = ssh::listener::open(options);
  if (!opened) {
    log::error(opened.error().code, opened.error().message);
    return 1;
  }
  auto listener = std::move(opened.value());
  // Before the first connection: this instance's name, its orphans gone, the guest helper in place.
  context->instance_id =
      cfg.instance_id.empty() ? derive_instance_id(cfg.ssh.listen, listener->port()) : cfg.instance_id;
  context->helper = std::make_shared<docker::helper_installer>(context->engine, context->instance_id);
  if (engine_answered) {
    reap_orphans(*context->engine, context->instance_id,
                 timeouts.http + timeouts.container_stop + std::chrono::seconds(1));
    install_helper(*context->helper, 2 * timeouts.http + 3 * timeouts.container_start);
  } else {
    // Waiting for an Engine that is not there would only delay the listener; sessions install
    // the helper themselves once it answers.
    log::error("DOCKER_ORPHAN_REAPING_FAILED",
               "the Docker Engine did not answer at start-up: containers an earlier run of this instance left "
               "behind are not removed until the next start",
               {{"instanceId", context->instance_id}});
  }
  session_registry sessions;
  actors::context_ptr shared_context = context;
  ssh::session_options session_template = session_options_from(cfg);
  listener->start([&](ssh_session_struct* session, ssh::connection_addresses addresses,
                       std::function<void()> release_startup) {
    const std::string& peer = addresses.peer;
    actors::connection_info info;
    info.connection_id = random_hex_id();
    info.remote_address = peer;
    info.local_address = addresses.local.empty() ? local_address_of(session) : addresses.local;
    info.proxy_address = addresses.proxy;
    info.config = context->config;
    auto bridge = std::make_shared<actors::session_bridge>(shared_context, info);
    ssh::session_options session_options = session_template;
    session_options.connection_id = info.connection_id;
    session_options.startup_done = std::move(release_startup);
    ssh::start_session_thread(session, bridge, std::move(session_options), peer,
                              [&](std::shared_ptr<ssh::session_commands> commands) {
      sessions.add(commands);
      bridge->bind(std::move(commands));
    });
  });
  log::notice("SSH_LISTENING", "SSH server listening",
              {{"listen", cfg.ssh.listen}, {"port", listener->port()}, {"instanceId", context->instance_id}});
  observed.value()->serving();

  int received = 0;
  while (sigwait(&signals, &received) == 0 && received == SIGHUP) reopen_log();
  log::notice("SERVER_STOPPING", std::string("received ") + (received == SIGINT ? "SIGINT" : "SIGTERM") +
                                     ", no longer accepting connections; running sessions have shutdownTimeout to end",
              {{"shutdownTimeout", std::to_string(cfg.shutdown_timeout.count()) + "ms"}});
  observed.value()->draining();
  listener->stop();
  // Every actor but the server-wide ones belongs to a connection: when they are gone, so are
  // the sessions and their containers.
  auto connections_left = [&] { return system.registry().running() > server_wide_actors; };
  if (!wait_for_sessions(signals, connections_left, cfg.shutdown_timeout)) {
    int asked = sessions.disconnect_all("the server is shutting down (shutdownTimeout reached)");
    log::notice("SERVER_SHUTDOWN_TIMEOUT",
                "sessions still running at the end of shutdownTimeout: closing their connections and removing their "
                "containers",
                {{"connections", asked}});
    if (asked > 0) metrics::server().timeouts("shutdown").inc(static_cast<std::uint64_t>(asked));
    // Supervisors signal the programs and remove the containers: bounded by containerStop plus a margin.
    auto deadline = std::chrono::steady_clock::now() + cfg.docker.execution.timeouts.container_stop +
                    std::chrono::seconds(2);
    while (connections_left() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  caf::anon_send_exit(context->auth, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(context->config_fetch, caf::exit_reason::user_shutdown);
  observed.value()->stop();
  context->reactor->stop();
  log::notice("SERVER_STOPPED", "server stopped");
  return 0;
}

}  // namespace cssh::app
