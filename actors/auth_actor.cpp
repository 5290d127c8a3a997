#include "actors/auth_actor.hpp"

#include <unordered_map>

#include "common/log.hpp"
#include "protocol/auth_webhook.hpp"
#include "protocol/http_endpoint.hpp"

namespace cssh::actors {
namespace {

// The webhook's answer, carried from the reactor thread back into the actor.
struct webhook_answer {
  std::uint64_t request_id = 0;
  bool transport_ok = false;
  unsigned status = 0;
  std::string body;
  std::string error;
};

}  // namespace
}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::webhook_answer)

namespace cssh::actors {
namespace {

using auth_actor_impl = auth_actor::extend<caf::reacts_to<webhook_answer>>;

struct auth_state {
  std::shared_ptr<http::reactor> reactor;
  config::auth_config config;
  std::optional<http::endpoint> endpoint;
  std::string endpoint_error;
  std::uint64_t next_id = 1;
  struct pending_check {
    caf::typed_response_promise<auth_verdict> promise;
    std::string username;
    std::string connection_id;
  };
  std::unordered_map<std::uint64_t, pending_check> pending;
};

auth_verdict verdict_from(const webhook_answer& answer) {
  if (!answer.transport_ok) return denied("authentication webhook unreachable: " + answer.error);
  if (answer.status != 200) {
    return denied("authentication webhook answered HTTP " + std::to_string(answer.status));
  }
  auto decoded = auth_webhook::decode_auth_response(answer.body);
  if (!decoded) return denied(decoded.error().message);
  if (!decoded->success) return denied("authentication webhook rejected the password");
  return {true, "", decoded->authenticated_username, decoded->environment};
}

auth_actor_impl::behavior_type auth_behavior(auth_actor_impl::stateful_pointer<auth_state> self,
                                             std::shared_ptr<http::reactor> reactor,
                                             config::auth_config config) {
  auto& st = self->state;
  st.reactor = std::move(reactor);
  st.config = std::move(config);
  if (st.config.password.method == "webhook") {
    auto ep = http::parse_url(st.config.password.webhook.url);
    if (ep) {
      st.endpoint = ep.value();
    } else {
      st.endpoint_error = ep.error().message;
    }
  }
  return {
      [=](password_check& check) -> caf::result<auth_verdict> {
        auto& s = self->state;
        if (s.config.password.method != "webhook") {
          return denied("password authentication is not configured");
        }
        if (!s.endpoint) return denied(s.endpoint_error);
        auto id = s.next_id++;
        auto promise = self->make_response_promise<auth_verdict>();
        s.pending.emplace(id, auth_state::pending_check{promise, check.username, check.connection_id});

        auth_webhook::password_request body{check.username, check.remote_address, check.connection_id,
                                            check.client_version, check.password};
        http::request req;
        req.method = "POST";
        req.target = s.endpoint->base_path + "/password";
        req.body = auth_webhook::encode_password_request(body);
        req.timeout = s.config.password.webhook.timeout;
        auto me = caf::actor_cast<caf::actor>(self);
        http::async_call(*s.reactor, *s.endpoint, std::move(req), [me, id](result<http::response> r) {
          webhook_answer answer;
          answer.request_id = id;
          answer.transport_ok = r.ok();
          if (r.ok()) {
            answer.status = r->status;
            answer.body = std::move(r->body);
          } else {
            answer.error = r.error().message;
          }
          caf::anon_send(me, std::move(answer));
        });
        return promise;
      },
      [=](pubkey_check&) -> caf::result<auth_verdict> {
        // Public key backends arrive with issue 8.
        return denied("public key authentication is not configured");
      },
      [=](webhook_answer& answer) {
        auto& s = self->state;
        auto it = s.pending.find(answer.request_id);
        if (it == s.pending.end()) return;
        auto verdict = verdict_from(answer);
        if (!verdict.success && answer.transport_ok && answer.status == 200) {
          log::info("AUTH_FAILED", "password rejected",
                    {{"username", it->second.username}, {"connectionId", it->second.connection_id},
                     {"reason", verdict.reason}});
        } else if (!verdict.success) {
          log::warning("AUTH_WEBHOOK_FAILED", verdict.reason,
                       {{"username", it->second.username}, {"connectionId", it->second.connection_id}});
        }
        it->second.promise.deliver(std::move(verdict));
        s.pending.erase(it);
      },
  };
}

}  // namespace

auth_actor spawn_auth_actor(caf::actor_system& system, std::shared_ptr<http::reactor> reactor,
                            config::auth_config config) {
  auto impl = system.spawn(auth_behavior, std::move(reactor), std::move(config));
  return caf::actor_cast<auth_actor>(impl);
}

}  // namespace cssh::actors
