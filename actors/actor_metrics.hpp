#pragma once
// Actor metrics without CAF telemetry (0.17 has none). An actor spawned through
// spawn_observed(system, "kind", behavior_function, args...) counts itself under its kind:
//
//   cssh_actors_started_total{kind}   at spawn
//   cssh_actors_alive{kind}           +1 at spawn, -1 when it ends (an attach_functor exit hook)
//   cssh_actors_failed_total{kind}    when it ends with an error exit reason (not normal, not
//                                     user_shutdown): an exception, a kill, an unreachable peer
//   cssh_actor_messages_total{kind} and cssh_actor_message_handling_seconds{kind}
//                                     for every message its behavior handles (responses to its
//                                     own requests and down/exit messages are not behavior messages)
//   cssh_actor_mailbox_depth{kind}    messages waiting, sampled before each handled message and
//                                     summed over the kind's actors; an ended actor takes its share out
//   cssh_actor_mailbox_depth_max{kind} the deepest mailbox any actor of the kind had
//
// It works by wrapping the behavior the function returns, so the actor's code stays as it was:
// `system.spawn(f, args...)` becomes `spawn_observed(system, "kind", f, args...)`. The function
// takes the actor's self pointer first (typed, stateful or not), or no self at all.

#include <caf/all.hpp>
#include <concepts>
#include <memory>
#include <string_view>
#include <type_traits>

#include "common/server_metrics.hpp"

namespace cssh::actors {
namespace detail {

/// What one observed actor shares between its behavior wrapper and its exit hook.
struct actor_probe;

/// Counts the start and attaches the exit hook; runs inside the new actor.
std::shared_ptr<actor_probe> begin_observing(caf::scheduled_actor* self, std::string_view kind);
/// Wraps `inner` so each message is timed and the mailbox sampled first.
caf::behavior observe_behavior(caf::behavior inner, caf::scheduled_actor* self, std::shared_ptr<actor_probe> probe);

inline caf::behavior rewrap(caf::behavior b, caf::scheduled_actor* self, std::shared_ptr<actor_probe> probe) {
  return observe_behavior(std::move(b), self, std::move(probe));
}

template <class... Sigs>
caf::typed_behavior<Sigs...> rewrap(caf::typed_behavior<Sigs...> b, caf::scheduled_actor* self,
                                    std::shared_ptr<actor_probe> probe) {
  using typed = caf::typed_behavior<Sigs...>;
  return typed{typename typed::unsafe_init{}, observe_behavior(std::move(b.unbox()), self, std::move(probe))};
}

/// The self pointer CAF gives a behavior function that takes none.
template <class Behavior>
struct implied_self;
template <>
struct implied_self<caf::behavior> {
  using type = caf::event_based_actor*;
};
template <class... Sigs>
struct implied_self<caf::typed_behavior<Sigs...>> {
  using type = caf::typed_event_based_actor<Sigs...>*;
};

template <class T>
concept actor_pointer = std::is_pointer_v<T> && std::is_base_of_v<caf::scheduled_actor, std::remove_pointer_t<T>>;

/// The function CAF spawns: same self type as the wrapped one, so CAF infers the same actor.
/// (A plain class with one non-template call operator, which CAF's callable traits can read.)
template <class R, class Self, class... Args>
struct observed_with_self {
  R (*fun)(Self, Args...);
  std::string_view kind;
  R operator()(Self self, Args... args) const {
    auto probe = begin_observing(self, kind);
    return rewrap(fun(self, std::move(args)...), self, std::move(probe));
  }
};

template <class R, class... Args>
struct observed_without_self {
  using self_type = typename implied_self<R>::type;
  R (*fun)(Args...);
  std::string_view kind;
  R operator()(self_type self, Args... args) const {
    auto probe = begin_observing(self, kind);
    return rewrap(fun(std::move(args)...), self, std::move(probe));
  }
};

}  // namespace detail

/// containerssh_ssh_connections_total and containerssh_ssh_current_connections for a connection
/// actor: counts it now, and out of the current connections when it ends, however it ends.
void count_ssh_connection(caf::scheduled_actor* self);

/// Spawns `fun(self, args...)` like actor_system::spawn, with the actor counted under `kind`
/// (a string literal: it is kept as a view).
template <caf::spawn_options Os = caf::no_spawn_options, class R, class Self, class... Args, class... Ts>
  requires detail::actor_pointer<Self>
auto spawn_observed(caf::actor_system& system, std::string_view kind, R (*fun)(Self, Args...), Ts&&... xs) {
  return system.spawn<Os>(detail::observed_with_self<R, Self, Args...>{fun, kind}, std::forward<Ts>(xs)...);
}

/// The same for a behavior function without a self parameter.
template <caf::spawn_options Os = caf::no_spawn_options, class R, class... Args, class... Ts>
  requires(sizeof...(Args) == 0 || !detail::actor_pointer<std::tuple_element_t<0, std::tuple<Args..., void*>>>)
auto spawn_observed(caf::actor_system& system, std::string_view kind, R (*fun)(Args...), Ts&&... xs) {
  return system.spawn<Os>(detail::observed_without_self<R, Args...>{fun, kind}, std::forward<Ts>(xs)...);
}

}  // namespace cssh::actors
