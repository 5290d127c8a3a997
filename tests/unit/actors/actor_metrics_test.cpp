// spawn_observed: an actor counts itself under its kind (started, alive, failed, messages,
// handling time, mailbox depth) without changing its behaviour.
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <chrono>
#include <thread>

#include "actors/actor_metrics.hpp"

namespace {

struct ping { int n; };
struct stall { int millis; };
struct fail_now {};

}  // namespace

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ping)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stall)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fail_now)

namespace {

using test_actor = caf::typed_actor<caf::replies_to<ping>::with<int>, caf::reacts_to<stall>, caf::reacts_to<fail_now>>;

struct test_state {
  int handled = 0;
};

test_actor::behavior_type stateful_behavior(test_actor::stateful_pointer<test_state> self, int offset) {
  return {
      [=](ping p) {
        ++self->state.handled;
        return p.n + offset;
      },
      [](stall s) { std::this_thread::sleep_for(std::chrono::milliseconds(s.millis)); },
      [=](fail_now) { self->quit(caf::make_error(caf::sec::runtime_error, "failing on purpose")); },
  };
}

test_actor::behavior_type selfless_behavior(int offset) {
  return {
      [=](ping p) { return p.n + offset; },
      [](stall) {},
      [](fail_now) {},
  };
}

// (With at least one argument: CAF 0.17's spawn dereferences a null argument tuple for none,
// which UBSan reports whether or not the actor is observed.)
caf::behavior untyped_behavior(caf::event_based_actor* self, int factor) {
  return {[=](int x) {
    if (x < 0) self->quit();
    return x * factor;
  }};
}

/// Waits (briefly) until `pred` holds: exit hooks run on the actor's thread after its last message.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 200; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

}  // namespace

TEST_CASE("spawn_observed: counts start, messages, handling time and a normal end") {
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  auto& cells = cssh::metrics::server().actor_kind("unit_stateful");
  const auto started = cells.started.value();
  const auto messages = cells.messages.value();
  const auto failed = cells.failed.value();
  {
    auto a = cssh::actors::spawn_observed(system, "unit_stateful", stateful_behavior, 10);
    caf::scoped_actor self{system};
    for (int i = 0; i < 5; ++i) {
      int answer = 0;
      self->request(a, caf::infinite, ping{i}).receive([&](int r) { answer = r; }, [](caf::error&) {});
      CHECK(answer == i + 10);  // the behaviour is untouched
    }
    CHECK(cells.started.value() == started + 1);
    CHECK(cells.alive.value() >= 1);
    // A handler's time is recorded after it returns, which may be after its reply arrived.
    CHECK(eventually([&] { return cells.messages.value() == messages + 5; }));
    CHECK(eventually([&] { return cells.handling_seconds.read().cumulative.back() >= messages + 5; }));
    self->send_exit(a, caf::exit_reason::user_shutdown);
  }
  CHECK(eventually([&] { return cells.alive.value() == 0; }));
  CHECK(cells.failed.value() == failed);  // user_shutdown is an orderly end
}

TEST_CASE("spawn_observed: an error exit counts as failed") {
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  auto& cells = cssh::metrics::server().actor_kind("unit_failing");
  const auto failed = cells.failed.value();
  auto a = cssh::actors::spawn_observed(system, "unit_failing", stateful_behavior, 0);
  caf::anon_send(a, fail_now{});
  CHECK(eventually([&] { return cells.failed.value() == failed + 1; }));
  CHECK(eventually([&] { return cells.alive.value() == 0; }));
}

TEST_CASE("spawn_observed: mailbox depth and its high-water mark") {
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  auto& cells = cssh::metrics::server().actor_kind("unit_mailbox");
  auto a = cssh::actors::spawn_observed(system, "unit_mailbox", stateful_behavior, 0);
  // The first message blocks the actor while 50 more queue behind it.
  caf::anon_send(a, stall{200});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (int i = 0; i < 50; ++i) caf::anon_send(a, stall{0});
  caf::scoped_actor self{system};
  self->request(a, caf::infinite, ping{1}).receive([](int) {}, [](caf::error&) {});
  CHECK(cells.mailbox_depth_max.value() >= 40);
  // Once drained, the depth it reports is small again, and nothing once it ended.
  self->send_exit(a, caf::exit_reason::user_shutdown);
  CHECK(eventually([&] { return cells.alive.value() == 0 && cells.mailbox_depth.value() == 0; }));
}

TEST_CASE("spawn_observed: functions without self, untyped behaviours and detached actors") {
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  auto& plain = cssh::metrics::server().actor_kind("unit_selfless");
  auto& untyped = cssh::metrics::server().actor_kind("unit_untyped");
  auto a = cssh::actors::spawn_observed<caf::detached>(system, "unit_selfless", selfless_behavior, 7);
  auto b = cssh::actors::spawn_observed(system, "unit_untyped", untyped_behavior, 2);
  caf::scoped_actor self{system};
  int first = 0;
  int second = 0;
  self->request(a, caf::infinite, ping{1}).receive([&](int r) { first = r; }, [](caf::error&) {});
  self->request(b, caf::infinite, 21).receive([&](int r) { second = r; }, [](caf::error&) {});
  CHECK(first == 8);
  CHECK(second == 42);
  CHECK(eventually([&] { return plain.messages.value() >= 1 && untyped.messages.value() >= 1; }));
  self->send_exit(a, caf::exit_reason::user_shutdown);
  self->send(b, -1);
  CHECK(eventually([&] { return plain.alive.value() == 0 && untyped.alive.value() == 0; }));
  CHECK(untyped.failed.value() == 0);
}
