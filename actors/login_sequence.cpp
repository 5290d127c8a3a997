#include "actors/login_sequence.hpp"

#include "actors/actor_metrics.hpp"
#include "common/log.hpp"
#include "common/security_metrics.hpp"

namespace cssh::actors {
namespace {

struct login_state {
  context_ptr context;
  login_context login;                 // who, as typed, with what the steps gathered so far
  const char* method = "";             // "password" / "publickey"
  login_deadline deadline{};
  auth_verdict verdict;                // what the steps have decided so far
  caf::typed_response_promise<login_outcome> promise;
};

using self_ptr = login_sequence::stateful_pointer<login_state>;

const std::string& authenticated_name(const login_state& st) {
  return st.verdict.authenticated_username.empty() ? st.login.username : st.verdict.authenticated_username;
}

void finish(self_ptr self, login_outcome outcome) {
  self->state.promise.deliver(std::move(outcome));
  self->quit();
}

void refuse(self_ptr self, std::string reason, std::string disconnect = "") {
  login_outcome outcome;
  outcome.verdict = denied(std::move(reason));
  outcome.disconnect = std::move(disconnect);
  finish(self, std::move(outcome));
}

/// A request to a server-wide actor that died is a refusal naming it.
auto refuse_on_error(self_ptr self, std::string who) {
  return [self, who](caf::error& err) { refuse(self, who + " failed: " + self->system().render(err)); };
}

// --- 3. configuration --------------------------------------------------------------------
void configure(self_ptr self) {
  auto& st = self->state;
  config_request req;
  req.login = st.login;
  req.login.meta = st.verdict.meta;
  req.authenticated_username = authenticated_name(st);
  req.image = st.verdict.image;
  req.deadline = st.deadline;
  self->request(st.context->config_fetch, caf::infinite, std::move(req))
      .then(
          [self](config_answer& answer) {
            auto& s = self->state;
            if (!answer.ok) {
              log::warning("CONFIG_SERVER_FAILED", "login refused: " + answer.reason,
                           {{"connectionId", s.login.connection_id}, {"username", s.login.username}});
              return refuse(self, answer.reason, "login refused: the configuration server could not be used");
            }
            s.verdict.meta.merge(answer.meta);
            s.verdict.config = answer.config;
            login_outcome outcome;
            outcome.user = authenticated_name(s);
            outcome.verdict = std::move(s.verdict);
            finish(self, std::move(outcome));  // step 4 follows in the connection actor
          },
          refuse_on_error(self, "config fetch actor"));
}

// --- 2. authorization ----------------------------------------------------------------------
void authorize(self_ptr self) {
  auto& st = self->state;
  if (st.context->config->auth.authz.method != "webhook") return configure(self);
  authz_check check;
  check.login = st.login;
  check.login.meta = st.verdict.meta;
  check.authenticated_username = authenticated_name(st);
  check.method = st.method;
  check.deadline = st.deadline;
  self->request(st.context->auth, caf::infinite, std::move(check))
      .then(
          [self](auth_verdict& answer) {
            auto& s = self->state;
            if (!answer.success) return refuse(self, std::move(answer.reason));
            s.verdict.meta.merge(answer.meta);
            if (!answer.authenticated_username.empty()) s.verdict.authenticated_username = answer.authenticated_username;
            configure(self);
          },
          refuse_on_error(self, "auth actor"));
}

// --- 1. credential ---------------------------------------------------------------------------
template <class Check>
caf::result<login_outcome> start(self_ptr self, Check check, const char* method) {
  auto& st = self->state;
  st.promise = self->make_response_promise<login_outcome>();
  st.method = method;
  st.deadline = std::chrono::steady_clock::now() + st.context->config->auth.auth_timeout;
  st.login.username = check.username;
  st.login.remote_address = check.remote_address;
  st.login.connection_id = check.connection_id;
  st.login.client_version = check.client_version;
  check.deadline = st.deadline;
  self->request(st.context->auth, caf::infinite, std::move(check))
      .then(
          [self](auth_verdict& verdict) {
            if (!verdict.success) return finish(self, login_outcome{std::move(verdict), "", ""});
            self->state.verdict = std::move(verdict);
            authorize(self);
          },
          refuse_on_error(self, "auth actor"));
  return st.promise;
}

login_sequence::behavior_type login_behavior(self_ptr self, context_ptr context) {
  self->state.context = std::move(context);
  return {
      [=](password_check& c) { return start(self, std::move(c), "password"); },
      [=](pubkey_check& c) { return start(self, std::move(c), "publickey"); },
  };
}

}  // namespace

login_sequence spawn_login_sequence(caf::actor_system& system, context_ptr context) {
  return spawn_observed(system, "login", login_behavior, std::move(context));
}

// --- 4. limits, in the connection actor -------------------------------------------------------
void take_place(const server_context& context, held_place& held, login_outcome& outcome,
                const std::string& connection_id, const std::string& remote_address) {
  if (!outcome.verdict.success || !context.limits) return;
  if (held.slot && held.user == outcome.user) return;
  auto admission = context.limits->admit_connection(outcome.user);
  if (!admission.held) {
    log::notice(admission.code, "login refused: " + admission.reason,
                {{"connectionId", connection_id}, {"username", outcome.user}, {"remoteAddress", remote_address}});
    metrics::security().count_limit_refusal(admission.limit);
    outcome.verdict = denied(admission.reason);
    outcome.disconnect = "login refused: " + admission.reason + "; try again later";
    return;
  }
  held.slot = std::move(admission.held);
  held.user = outcome.user;
}

}  // namespace cssh::actors
