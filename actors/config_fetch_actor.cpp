#include "actors/config_fetch_actor.hpp"

#include <unordered_map>

#include "actors/actor_metrics.hpp"
#include "actors/webhook_reply.hpp"
#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "config/loader.hpp"
#include "protocol/webhook/config_webhook.hpp"
#include "protocol/webhook/client.hpp"

namespace cssh::actors {
namespace {

}  // namespace
}  // namespace cssh::actors


namespace cssh::actors {
namespace {

using config_fetch_impl = config_fetch_actor::extend<caf::reacts_to<webhook_reply>>;

struct pending_fetch {
  caf::typed_response_promise<config_answer> promise;
  config_request request;
};

struct fetch_state {
  std::shared_ptr<http::reactor> reactor;
  std::shared_ptr<const config::app_config> base;
  std::shared_ptr<const webhook::client> client;  // null: no config server
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, pending_fetch> pending;
};

using self_ptr = config_fetch_impl::stateful_pointer<fetch_state>;

config_answer refused(std::string reason) {
  config_answer a;
  a.reason = std::move(reason);
  return a;
}

config_answer with_image(std::shared_ptr<const config::app_config> cfg, const std::string& image) {
  config_answer a;
  a.ok = true;
  if (!image.empty() && image != cfg->docker.execution.container.image) {
    auto own = std::make_shared<config::app_config>(*cfg);
    own->docker.execution.container.image = image;
    cfg = std::move(own);
  }
  a.config = std::move(cfg);
  return a;
}

bool same_connection(const config::docker_connection_config& a, const config::docker_connection_config& b) {
  return a.host == b.host && a.cert == b.cert && a.key == b.key && a.cacert == b.cacert && a.api_version == b.api_version;
}

/// The config server's answer made into this connection's configuration, or why not.
config_answer apply_answer(self_ptr self, const pending_fetch& p, const std::string& body, const nlohmann::json& details) {
  const auto& base = *self->state.base;
  auto decoded = config_webhook::decode_config_response(body);
  if (!decoded) return refused(decoded.error().message);
  auto merged = config::merge_connection_config(base, decoded->config);
  if (!merged) return refused(merged.error().message);
  for (const auto& key : merged->left_out) {
    log::notice("CONFIG_SERVER_KEY_IGNORED", "the configuration server set `" + key +
                                                 "`, which cannot change per connection; left out",
                details);
  }
  const config::app_config& cfg = merged->config;
  // The Engine client is shared by the whole server: another Engine per connection is not possible.
  if (!same_connection(cfg.docker.connection, base.docker.connection))
    return refused("the configuration server's answer changes docker.connection (host, TLS files or apiVersion), "
                   "which this server cannot change per connection");
  if (cfg.log.level != base.log.level)
    log::notice("CONFIG_SERVER_LOG_LEVEL_IGNORED",
                "the configuration server set log.level " + std::string(log::level_name(cfg.log.level)) +
                    "; the log level is server-wide here, so it is not applied to this connection",
                details);
  auto answer = with_image(std::make_shared<const config::app_config>(cfg), p.request.image);
  answer.meta = std::move(decoded->meta);
  return answer;
}

config_fetch_impl::behavior_type fetch_behavior(self_ptr self, std::shared_ptr<http::reactor> reactor,
                                                std::shared_ptr<const config::app_config> base,
                                                std::shared_ptr<const webhook::client> client) {
  auto& st = self->state;
  st.reactor = std::move(reactor);
  st.base = std::move(base);
  st.client = std::move(client);
  return {
      [=](config_request& req) -> caf::result<config_answer> {
        auto& s = self->state;
        if (!s.client) return with_image(s.base, req.image);
        auto id = s.next_id++;
        auto promise = self->make_response_promise<config_answer>();
        nlohmann::json details{{"username", req.login.username}, {"connectionId", req.login.connection_id}};
        webhook::call c;
        c.body = auth_webhook::encode_authz_request(req.login, req.authenticated_username);
        c.deadline = req.deadline;
        c.on_failed_attempt = [details](const webhook::attempt_failure& f) {
          metrics::count_config_server_attempt(false);
          auto d = details;
          d["attempt"] = f.attempt;
          log::warning("CONFIG_SERVER_ATTEMPT_FAILED", "configuration server call failed: " + describe_attempt(f), d);
        };
        s.pending.emplace(id, pending_fetch{promise, std::move(req)});
        post_webhook(*s.reactor, s.client, std::move(c), caf::actor_cast<caf::actor>(self), id,
                     [] { metrics::count_config_server_attempt(true); });
        return promise;
      },
      [=](webhook_reply& done) {
        auto& s = self->state;
        auto it = s.pending.find(done.id);
        if (it == s.pending.end()) return;
        pending_fetch p = std::move(it->second);
        s.pending.erase(it);
        nlohmann::json details{{"username", p.request.login.username},
                               {"connectionId", p.request.login.connection_id}};
        config_answer answer = done.body ? apply_answer(self, p, done.body.value(), details)
                                         : refused("the configuration server failed: " + done.body.error().message);
        if (answer.ok) {
          log::debug("CONFIG_SERVER_ANSWERED", "per-connection configuration received",
                     {{"username", p.request.login.username},
                      {"connectionId", p.request.login.connection_id},
                      {"image", answer.config->docker.execution.container.image},
                      {"metadata", loggable(answer.meta.metadata)},
                      {"environment", loggable(answer.meta.environment)},
                      {"files", loggable_files(answer.meta.files)}});
        }
        p.promise.deliver(std::move(answer));
      },
  };
}

}  // namespace

result<config_fetch_actor> spawn_config_fetch_actor(caf::actor_system& system, std::shared_ptr<http::reactor> reactor,
                                                    std::shared_ptr<const config::app_config> base,
                                                    std::vector<std::string>* warnings) {
  std::shared_ptr<const webhook::client> client;
  if (!base->configserver.url.empty()) {
    const auto& c = base->configserver;
    auto made = webhook::make_client({c.url, c.timeout, c.cacert, c.cert, c.key, c.allow_redirects}, "configserver",
                                     warnings);
    if (!made) return made.error();
    client = made.value();
  }
  auto impl = spawn_observed(system, "config_fetch", fetch_behavior, std::move(reactor), std::move(base),
                             std::move(client));
  return caf::actor_cast<config_fetch_actor>(impl);
}

}  // namespace cssh::actors
