#include "app/server.hpp"

#include <signal.h>

#include <caf/all.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "actors/auth_actor.hpp"
#include "actors/connection_actor.hpp"
#include "actors/server_context.hpp"
#include "common/log.hpp"
#include "protocol/http_endpoint.hpp"
#include "protocol/ssh_listener.hpp"
#include "protocol/ssh_session_driver.hpp"

namespace cssh::app {
namespace {

std::string random_hex_id() {
  static std::mutex mutex;
  static std::mt19937_64 generator{std::random_device{}()};
  std::lock_guard<std::mutex> guard(mutex);
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(generator()),
                static_cast<unsigned long long>(generator()));
  return buf;
}

/// Live sessions, so a shutdown can ask each one to end.
class session_registry {
 public:
  void add(std::weak_ptr<ssh::session_commands> session) {
    std::lock_guard<std::mutex> guard(mutex_);
    std::erase_if(sessions_, [](auto& w) { return w.expired(); });
    sessions_.push_back(std::move(session));
  }
  void disconnect_all(const std::string& reason) {
    std::lock_guard<std::mutex> guard(mutex_);
    for (auto& w : sessions_) {
      if (auto s = w.lock()) s->disconnect(reason);
    }
  }

 private:
  std::mutex mutex_;
  std::vector<std::weak_ptr<ssh::session_commands>> sessions_;
};

result<void> check_supported(const config::app_config& cfg) {
  if (cfg.docker.execution.mode != config::execution_mode::session) {
    return fail("CONFIG_UNSUPPORTED",
                "docker.execution.mode: \"connection\" is not implemented yet; set it to \"session\"");
  }
  if (cfg.auth.password.method != "webhook") {
    return fail("CONFIG_UNSUPPORTED", "auth.password.method: set it to \"webhook\" (no other method is implemented yet)");
  }
  return {};
}

/// Negotiates the Engine API version at start-up. A daemon that is not there yet is not
/// fatal: sessions fail with a clear message until it answers.
void negotiate_engine(docker::engine& engine) {
  std::promise<result<std::string>> answer;
  auto future = answer.get_future();
  engine.negotiate([&answer](result<std::string> r) { answer.set_value(std::move(r)); });
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    log::error("DOCKER_UNAVAILABLE", "the Docker Engine did not answer /_ping within 30s",
               {{"host", engine.endpoint().describe()}});
    return;
  }
  auto r = future.get();
  if (r) {
    log::notice("DOCKER_CONNECTED", "connected to the Docker Engine",
                {{"host", engine.endpoint().describe()}, {"apiVersion", r.value()}});
  } else {
    log::error("DOCKER_UNAVAILABLE", "cannot reach the Docker Engine: " + r.error().message,
               {{"host", engine.endpoint().describe()}});
  }
}

sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

int run_server(config::app_config cfg) {
  log::set_level(cfg.log.level);
  log::set_format_json(cfg.log.format == "ljson");
  for (const auto& key : cfg.ignored_keys) {
    log::warning("CONFIG_KEY_IGNORED", "configuration key is not implemented by this server and is ignored",
                 {{"key", key}});
  }
  if (auto ok = check_supported(cfg); !ok) {
    log::error(ok.error().code, ok.error().message);
    return 1;
  }
  auto docker_endpoint = http::parse_docker_host(cfg.docker.connection.host);
  if (!docker_endpoint) {
    log::error(docker_endpoint.error().code, "docker.connection.host: " + docker_endpoint.error().message);
    return 1;
  }

  // Threads created from here on inherit the blocked set; main collects the signals.
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t signals = termination_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  caf::actor_system_config caf_config;
  caf_config.set("logger.console", caf::atom("none"));
  caf::actor_system system{caf_config};

  auto context = std::make_shared<actors::server_context>();
  context->system = &system;
  context->config = std::make_shared<const config::app_config>(cfg);
  context->reactor = std::make_shared<http::reactor>(2);
  context->engine =
      std::make_shared<docker::engine>(*context->reactor, docker_endpoint.value(), cfg.docker.execution.timeouts.http);
  context->auth = actors::spawn_auth_actor(system, context->reactor, cfg.auth);
  context->instance_id = random_hex_id();
  negotiate_engine(*context->engine);

  ssh::listener_options options{cfg.ssh.listen, cfg.ssh.hostkeys, cfg.ssh.server_version};
  auto opened = ssh::listener::open(options);
  if (!opened) {
    log::error(opened.error().code, opened.error().message);
    return 1;
  }
  auto listener = std::move(opened.value());
  session_registry sessions;
  actors::context_ptr shared_context = context;
  ssh::session_limits limits;
  listener->start([&](ssh_session_struct* session, int, std::string peer) {
    actors::connection_info info{random_hex_id(), "", peer, "", context->config, {}};
    auto bridge = std::make_shared<actors::session_bridge>(shared_context, info);
    ssh::start_session_thread(session, bridge, limits, peer, [&](std::shared_ptr<ssh::session_commands> commands) {
      sessions.add(commands);
      bridge->bind(std::move(commands));
    });
  });
  log::notice("SSH_LISTENING", "SSH server listening",
              {{"listen", cfg.ssh.listen}, {"port", listener->port()}, {"instanceId", context->instance_id}});

  int received = 0;
  sigwait(&signals, &received);
  log::notice("SERVER_STOPPING", std::string("received ") + (received == SIGINT ? "SIGINT" : "SIGTERM") +
                                     ", closing connections and removing their containers");
  listener->stop();
  sessions.disconnect_all("server shutting down");
  // Supervisors remove the containers; wait for every actor but the auth actor to finish,
  // bounded by containerStop plus a margin.
  auto deadline = std::chrono::steady_clock::now() + cfg.docker.execution.timeouts.container_stop +
                  std::chrono::seconds(2);
  while (system.registry().running() > 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  caf::anon_send_exit(context->auth, caf::exit_reason::user_shutdown);
  context->reactor->stop();
  log::notice("SERVER_STOPPED", "server stopped");
  return 0;
}

}  // namespace cssh::app
