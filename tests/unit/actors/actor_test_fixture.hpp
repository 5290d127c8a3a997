// A deterministic CAF actor system for doctest cases: the actors run on CAF's test coordinator,
// so nothing happens until the test calls run(), timers fire only when the test moves the clock,
// and every handler runs on the test's own thread. Completions that come from other threads
// (the HTTP reactor answering a fake Engine) land in mailboxes and are handled at the next run().
//
//   TEST_CASE_FIXTURE(actor_test_fixture, "...") {
//     auto a = spawn(behaviour, args...);
//     caf::anon_send(a, message{});
//     run();                                  // handle everything that is queued
//     CHECK(...);
//   }
#pragma once

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

struct actor_test_fixture {
  static caf::actor_system_config& testing_config(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));  // caf::scheduler::test_coordinator
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    return cfg;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys{testing_config(cfg)};
  caf::scheduler::test_coordinator& sched{dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())};

  actor_test_fixture() = default;
  actor_test_fixture(const actor_test_fixture&) = delete;
  actor_test_fixture& operator=(const actor_test_fixture&) = delete;

  /// Ends the test without hanging: kills what it spawned and what it tracked, drops pending
  /// timers (a delayed message holds its receiver alive), and does not wait for actors kept
  /// alive elsewhere.
  ~actor_test_fixture() {
    for (auto& addr : tracked_)
      if (auto hdl = caf::actor_cast<caf::actor>(addr)) caf::anon_send_exit(hdl, caf::exit_reason::kill);
    tracked_.clear();
    sched.run();
    sched.clock().cancel_all();
    sched.run();
    sys.await_actors_before_shutdown(false);
  }

  /// Remembers an actor spawned elsewhere (e.g. by a spawn_* function) for the destructor.
  template <class Handle>
  Handle track(Handle hdl) {
    tracked_.push_back(caf::actor_cast<caf::actor_addr>(hdl));
    return hdl;
  }

  /// Handles every queued message, until no actor has one left. Fires no timer.
  std::size_t run() { return sched.run(); }

  /// Moves the fake clock forward; timers due by then deliver their messages; then runs.
  std::size_t advance_time(caf::timespan d) {
    auto fired = sched.advance_time(d);
    run();
    return fired;
  }

  /// Waits (in real time, up to `limit`) until a message from another thread (the HTTP
  /// reactor's completion of a fake Engine call) is in `hdl`'s mailbox, then runs. The test
  /// coordinator's job queue is not thread-safe: nothing runs while the other thread may be
  /// enqueueing, and the short pause lets its send finish before the queue is read.
  template <class Handle>
  bool run_when_mail(const Handle& hdl, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto* ptr = caf::actor_cast<caf::abstract_actor*>(hdl);
    auto* local = dynamic_cast<caf::scheduled_actor*>(ptr);
    if (local == nullptr) return false;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (local->peek_at_next_mailbox_element() == nullptr) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    run();
    return true;
  }

  /// Whether the actor has ended.
  template <class Handle>
  static bool ended(const Handle& hdl) {
    auto* ptr = caf::actor_cast<caf::abstract_actor*>(hdl);
    return ptr == nullptr || ptr->getf(caf::abstract_actor::is_terminated_flag);
  }

 private:
  std::vector<caf::actor_addr> tracked_;
};
