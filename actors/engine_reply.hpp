#pragma once
// engine_reply: how every actor here hears of its Engine calls. One style for all of them:
//
//   struct created {};                                       // a tag naming the step
//   engine->create_container(body, name, reply_as<created, std::string>(self));
//   ...
//   [=](engine_reply<created, std::string>& r) { if (!r.value) return fail(r.value.error()); ... }
//
// The Engine's callback runs on the HTTP reactor thread; reply_as turns its result<T> into a
// message to the actor, so the step continues inside the actor, in its handler for that step.
// Each step is its own message type (a typed handler, no dispatch on names), and every reply
// carries the call's whole result<T>: the failure's code travels with its message, so exit codes
// and refusals are decided from codes (exit_codes.hpp), never by searching error text.

#include <caf/all.hpp>
#include <string_view>
#include <type_traits>
#include <utility>

#include "common/result.hpp"
#include "common/server_metrics.hpp"

namespace cssh::actors {

/// The completion of one Engine call (or of any reactor-side operation) for step `Step`.
template <class Step, class T = void>
struct engine_reply {
  result<T> value;
};

/// A callback for an Engine call whose completion continues as step `Step` in actor `me`.
template <class Step, class T = void>
auto reply_as(caf::actor me) {
  return [me = std::move(me)](result<T> r) { caf::anon_send(me, engine_reply<Step, T>{std::move(r)}); };
}

/// The same, counted in the Docker call metrics under `endpoint` (cssh_docker_requests_total).
template <class Step, class T = void>
auto counted_reply_as(caf::actor me, std::string_view endpoint,
                      bool (*engine_fault)(const failure&) = metrics::any_failure) {
  return metrics::count_docker_call<T>(endpoint, reply_as<Step, T>(std::move(me)), engine_fault);
}

}  // namespace cssh::actors

namespace caf {
// Every engine_reply is a local message (never serialized): allow it like the other message types.
template <class Step, class T>
struct allowed_unsafe_message_type<cssh::actors::engine_reply<Step, T>> : std::true_type {};
}  // namespace caf
