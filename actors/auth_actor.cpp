#include "actors/auth_actor.hpp"

#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

#include "actors/actor_metrics.hpp"
#include "actors/webhook_reply.hpp"
#include "auth/users_file_backend.hpp"
#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "protocol/webhook/auth_webhook.hpp"
#include "protocol/webhook/client.hpp"

namespace cssh::actors {
namespace {

// Work for the users-file workers (crypt(3) blocks, so it runs on their own threads).
struct file_password_job {
  std::string username;
  std::string password;
};
struct file_key_job {
  std::string username;
  std::string public_key;
};

}  // namespace
}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::file_password_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::file_key_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::auth::file_verdict)

namespace cssh::actors {
namespace {

using auth_actor_impl = auth_actor::extend<caf::reacts_to<webhook_reply>>;

using file_worker = caf::typed_actor<caf::replies_to<file_password_job>::with<auth::file_verdict>,
                                     caf::replies_to<file_key_job>::with<auth::file_verdict>>;

/// Users-file checks per worker thread; two workers per file let two slow hashes run at once.
constexpr int workers_per_file = 2;

file_worker::behavior_type file_worker_behavior(std::shared_ptr<auth::users_file_backend> backend) {
  return {
      [backend](file_password_job& job) { return backend->check_password(job.username, job.password); },
      [backend](file_key_job& job) { return backend->check_public_key(job.username, job.public_key); },
  };
}

/// Where one method's checks go, prepared before the actor starts.
struct method_backend {
  const char* method = "";  // for logs: "password" / "publickey"
  std::shared_ptr<const webhook::client> webhook;
  std::shared_ptr<auth::users_file_backend> file;
  std::vector<file_worker> workers;  // spawned by the actor for `file`
  std::size_t next_worker = 0;
  std::string unusable;  // why this method cannot be used (not configured)
};

struct prepared_backends {
  method_backend password;
  method_backend public_key;
  std::shared_ptr<const webhook::client> authz;
  std::chrono::milliseconds auth_timeout{60000};
};

struct auth_state {
  std::shared_ptr<http::reactor> reactor;
  prepared_backends backends;
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, std::function<void(result<std::string>)>> pending;
};

using self_ptr = auth_actor_impl::stateful_pointer<auth_state>;

nlohmann::json details_of(const login_context& login, const char* method) {
  return {{"username", login.username}, {"connectionId", login.connection_id}, {"method", method}};
}

login_deadline effective_deadline(self_ptr self, login_deadline given) {
  if (given != login_deadline{}) return given;
  return std::chrono::steady_clock::now() + self->state.backends.auth_timeout;
}

/// POSTs to a webhook; `then` runs inside the actor with the 200 body or the final failure.
void call_webhook(self_ptr self, const std::shared_ptr<const webhook::client>& client, const std::string& path,
                  std::string body, login_deadline deadline, nlohmann::json log_details,
                  std::function<void(result<std::string>)> then) {
  auto& st = self->state;
  auto id = st.next_id++;
  st.pending.emplace(id, std::move(then));
  webhook::call c;
  c.path = path;
  c.body = std::move(body);
  c.deadline = deadline;
  c.on_failed_attempt = [log_details, path](const webhook::attempt_failure& f) {
    metrics::count_auth_server_attempt(false, !f.will_retry);
    auto d = log_details;
    d["attempt"] = f.attempt;
    d["endpoint"] = path;
    log::warning("AUTH_WEBHOOK_ATTEMPT_FAILED", "webhook call failed: " + describe_attempt(f), d);
  };
  post_webhook(*st.reactor, client, std::move(c), caf::actor_cast<caf::actor>(self), id,
               [] { metrics::count_auth_server_attempt(true); });
}

/// `auth.authz`: may the authenticated user log in? Without it configured, yes at once.
caf::result<auth_verdict> authorize(self_ptr self, authz_check c) {
  auth_verdict verdict;
  verdict.success = true;
  auto& st = self->state;
  if (!st.backends.authz) return verdict;
  auto promise = self->make_response_promise<auth_verdict>();
  auto details = details_of(c.login, c.method);
  details["authenticatedUsername"] = c.authenticated_username;
  call_webhook(self, st.backends.authz, "/authz", auth_webhook::encode_authz_request(c.login, c.authenticated_username),
               effective_deadline(self, c.deadline), details, [=](result<std::string> r) mutable {
                 if (!r) {
                   log::warning("AUTHZ_WEBHOOK_FAILED", "authorization webhook failed: " + r.error().message, details);
                   promise.deliver(denied("authorization webhook failed: " + r.error().message));
                   return;
                 }
                 auto answer = auth_webhook::decode_auth_response(r.value());
                 if (!answer) {
                   log::warning("AUTHZ_WEBHOOK_BAD_RESPONSE", "authorization " + answer.error().message, details);
                   promise.deliver(denied(answer.error().message));
                   return;
                 }
                 if (!answer->success) {
                   log::info("AUTHZ_DENIED", "the authorization webhook refused the login", details);
                   promise.deliver(denied("the authorization webhook refused the login"));
                   return;
                 }
                 auth_verdict allowed;
                 allowed.success = true;
                 allowed.meta = std::move(answer->meta);
                 allowed.authenticated_username = answer->authenticated_username;
                 promise.deliver(std::move(allowed));
               });
  return promise;
}

/// Checks one credential against the method's backend.
template <class Job>
caf::result<auth_verdict> check(self_ptr self, method_backend& backend, const std::string& endpoint,
                                std::string body, Job job, login_context login,
                                login_deadline deadline) {
  if (!backend.webhook && !backend.file) return denied(backend.unusable);
  auto promise = self->make_response_promise<auth_verdict>();
  const char* method = backend.method;
  auto details = details_of(login, method);
  if (backend.file) {
    auto worker = backend.workers[backend.next_worker++ % backend.workers.size()];
    self->request(worker, caf::infinite, std::move(job))
        .then(
            [=](auth::file_verdict& v) mutable {
              if (!v.success) {
                auto d = details;
                d["reason"] = v.reason;
                log::info("AUTH_FAILED", "the users file refused the login", d);
                promise.deliver(denied(v.reason));
                return;
              }
              auth_verdict verdict;
              verdict.success = true;
              verdict.image = v.image;
              for (auto& [name, value] : v.environment) verdict.meta.environment[name] = {value, false};
              promise.deliver(std::move(verdict));
            },
            [=](caf::error& err) mutable {
              promise.deliver(denied("users file worker failed: " + self->system().render(err)));
            });
    return promise;
  }
  call_webhook(self, backend.webhook, endpoint, std::move(body), deadline, details,
               [=](result<std::string> r) mutable {
                 if (!r) {
                   log::warning("AUTH_WEBHOOK_FAILED", "authentication webhook failed: " + r.error().message, details);
                   promise.deliver(denied(r.error().message));
                   return;
                 }
                 auto answer = auth_webhook::decode_auth_response(r.value());
                 if (!answer) {
                   log::warning("AUTH_WEBHOOK_BAD_RESPONSE", answer.error().message + " (not retried)", details);
                   promise.deliver(denied(answer.error().message));
                   return;
                 }
                 if (!answer->success) {
                   log::info("AUTH_FAILED", "the authentication webhook refused the login", details);
                   promise.deliver(denied("the authentication webhook refused the credentials"));
                   return;
                 }
                 auth_verdict verdict;
                 verdict.success = true;
                 verdict.authenticated_username = answer->authenticated_username;
                 verdict.meta = std::move(answer->meta);
                 promise.deliver(std::move(verdict));
               });
  return promise;
}

login_context login_of(const std::string& username, const std::string& remote_address,
                                     const std::string& connection_id, const std::string& client_version) {
  login_context login;
  login.username = username;
  login.remote_address = remote_address;
  login.connection_id = connection_id;
  login.client_version = client_version;
  return login;
}

auth_actor_impl::behavior_type auth_behavior(self_ptr self, std::shared_ptr<http::reactor> reactor,
                                             prepared_backends backends) {
  auto& st = self->state;
  st.reactor = std::move(reactor);
  st.backends = std::move(backends);
  // Linked: when this actor ends (server shutdown), its workers end with it.
  for (method_backend* m : {&st.backends.password, &st.backends.public_key})
    for (auto& w : m->workers) self->link_to(w);
  return {
      [=](password_check& c) -> caf::result<auth_verdict> {
        auto login = login_of(c.username, c.remote_address, c.connection_id, c.client_version);
        std::string body = self->state.backends.password.webhook ? auth_webhook::encode_password_request(login, c.password)
                                                                 : std::string();
        return check(self, self->state.backends.password, "/password", std::move(body),
                     file_password_job{c.username, c.password}, login, effective_deadline(self, c.deadline));
      },
      [=](pubkey_check& c) -> caf::result<auth_verdict> {
        auto login = login_of(c.username, c.remote_address, c.connection_id, c.client_version);
        std::string body = self->state.backends.public_key.webhook
                               ? auth_webhook::encode_pubkey_request(login, c.public_key)
                               : std::string();
        return check(self, self->state.backends.public_key, "/pubkey", std::move(body),
                     file_key_job{c.username, c.public_key}, login, effective_deadline(self, c.deadline));
      },
      [=](authz_check& c) -> caf::result<auth_verdict> { return authorize(self, std::move(c)); },
      [=](webhook_reply& done) {
        auto& s = self->state;
        auto it = s.pending.find(done.id);
        if (it == s.pending.end()) return;
        auto then = std::move(it->second);
        s.pending.erase(it);
        then(std::move(done.body));
      },
  };
}

webhook::client_settings settings_of(const config::webhook_client_config& w) {
  return {w.url, w.timeout, w.cacert, w.cert, w.key, w.allow_redirects};
}

}  // namespace

result<auth_actor> spawn_auth_actor(caf::actor_system& system, std::shared_ptr<http::reactor> reactor,
                                    const config::auth_config& config, std::vector<std::string>* warnings) {
  prepared_backends b;
  b.auth_timeout = config.auth_timeout;
  std::map<std::string, std::shared_ptr<auth::users_file_backend>> files;  // one per path
  auto prepare = [&](const config::auth_method_config& cfg, const char* key, const char* method,
                     method_backend& out) -> result<void> {
    out.method = method;
    if (cfg.method == "webhook") {
      auto client = webhook::make_client(settings_of(cfg.webhook), std::string("auth.") + key + ".webhook", warnings);
      if (!client) return client.error();
      out.webhook = client.value();
    } else if (cfg.method == "file") {
      auto& shared = files[cfg.file.path];
      if (!shared) {
        auto opened = auth::users_file_backend::open(cfg.file.path);
        if (!opened) return fail(opened.error().code, std::string("auth.") + key + ".file: " + opened.error().message);
        shared = opened.value();
      }
      out.file = shared;
    } else {
      out.unusable = std::string(method) + " authentication is not configured";
    }
    return {};
  };
  if (auto r = prepare(config.password, "password", "password", b.password); !r) return r.error();
  if (auto r = prepare(config.public_key, "publicKey", "publickey", b.public_key); !r) return r.error();
  if (config.authz.method == "webhook") {
    auto client = webhook::make_client(settings_of(config.authz.webhook), "auth.authz.webhook", warnings);
    if (!client) return client.error();
    b.authz = client.value();
  }
  // One set of workers per users file, shared by the methods that use it. Spawned here rather
  // than by the actor so that they exist (and count as server-wide actors) once this returns.
  std::map<auth::users_file_backend*, std::vector<file_worker>> pools;
  for (method_backend* m : {&b.password, &b.public_key}) {
    if (!m->file) continue;
    auto& pool = pools[m->file.get()];
    if (pool.empty())
      for (int i = 0; i < workers_per_file; ++i)
        pool.push_back(spawn_observed<caf::detached>(system, "auth_file_worker", file_worker_behavior, m->file));
    m->workers = pool;
  }
  auto impl = spawn_observed(system, "auth", auth_behavior, std::move(reactor), std::move(b));
  return caf::actor_cast<auth_actor>(impl);
}

}  // namespace cssh::actors
