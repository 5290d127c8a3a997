#pragma once
// webhook_reply: how the server-wide actors that call webhooks (auth_actor, config_fetch_actor)
// hear of a call's outcome: the HTTP reactor's completion becomes a message to the actor, and
// `id` finds the continuation the actor kept for it. The same idea as engine_reply.hpp, for calls
// whose continuations the actor keeps in a table (one actor serves every login at once).

#include <caf/all.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.hpp"
#include "protocol/http/client.hpp"
#include "protocol/webhook/client.hpp"

namespace cssh::actors {

struct webhook_reply {
  std::uint64_t id = 0;
  result<std::string> body;  // the 200 answer's body, or the final failure (after retries)
};

/// POSTs `call` through `client` and sends the outcome to `me` as webhook_reply{id}.
/// `count_success` counts the attempt that succeeded; failed attempts are counted and logged by
/// the call's own on_failed_attempt (describe_attempt below words them).
inline void post_webhook(http::reactor& reactor, const std::shared_ptr<const webhook::client>& client,
                         webhook::call call, caf::actor me, std::uint64_t id, void (*count_success)()) {
  webhook::post(reactor, client, std::move(call), [me = std::move(me), id, count_success](result<std::string> r) {
    if (r.ok()) count_success();  // failed attempts are counted by the call's on_failed_attempt
    caf::anon_send(me, webhook_reply{id, std::move(r)});
  });
}

/// "<reason>; retrying in N ms" or "<reason>; giving up", for the log line of a failed attempt.
inline std::string describe_attempt(const webhook::attempt_failure& f) {
  return f.reason + (f.will_retry ? "; retrying in " + std::to_string(f.retry_in.count()) + " ms" : "; giving up");
}

}  // namespace cssh::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cssh::actors::webhook_reply)
