#include "actors/actor_metrics.hpp"

#include <malloc.h>

#include <atomic>
#include <chrono>

namespace cssh::actors::detail {

struct actor_probe {
  explicit actor_probe(metrics::actor_kind_cells& c) : cells(c) {}
  metrics::actor_kind_cells& cells;
  /// This actor's share of cssh_actor_mailbox_depth{kind}: what it reported last.
  std::atomic<std::int64_t> reported_depth{0};
};

namespace {

/// Delegates every call to the actor's own behavior; around each message it samples the
/// mailbox and times the handler. Only the actor that owns the behavior ever invokes it.
class observed_behavior final : public caf::detail::behavior_impl {
 public:
  observed_behavior(caf::behavior::impl_ptr inner, caf::scheduled_actor* self, std::shared_ptr<actor_probe> probe)
      : behavior_impl(inner->timeout()), inner_(std::move(inner)), self_(self), probe_(std::move(probe)) {}

  using behavior_impl::invoke;

  caf::match_case::result invoke(caf::detail::invoke_result_visitor& f, caf::type_erased_tuple& xs) override {
    sample_mailbox();
    const auto start = std::chrono::steady_clock::now();
    auto result = inner_->invoke(f, xs);
    record(start, result);
    return result;
  }

  caf::match_case::result invoke_empty(caf::detail::invoke_result_visitor& f) override {
    sample_mailbox();
    const auto start = std::chrono::steady_clock::now();
    auto result = inner_->invoke_empty(f);
    record(start, result);
    return result;
  }

  void handle_timeout() override { inner_->handle_timeout(); }

 private:
  void sample_mailbox() {
    // From inside the actor, size() is safe (it moves newly arrived messages into the queue
    // first, which the actor's own loop would do next anyway). The message being handled has
    // already left the mailbox: this counts what waits behind it.
    const auto depth = static_cast<std::int64_t>(self_->mailbox().size());
    const auto previous = probe_->reported_depth.exchange(depth, std::memory_order_relaxed);
    if (depth != previous) probe_->cells.mailbox_depth.add(depth - previous);
    probe_->cells.mailbox_depth_max.raise_to(depth);
  }

  void record(std::chrono::steady_clock::time_point start, caf::match_case::result result) {
    if (result == caf::match_case::no_match) return;  // goes to the default handler, not ours to time
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    probe_->cells.messages.inc();
    probe_->cells.handling_seconds.observe(took.count());
  }

  caf::behavior::impl_ptr inner_;
  caf::scheduled_actor* self_;
  std::shared_ptr<actor_probe> probe_;
};

}  // namespace

std::shared_ptr<actor_probe> begin_observing(caf::scheduled_actor* self, std::string_view kind) {
  auto& cells = metrics::server().actor_kind(kind);
  cells.started.inc();
  cells.alive.inc();
  auto probe = std::make_shared<actor_probe>(cells);
  // Runs once when the actor ends, whatever the reason (normal quit, exception, kill).
  self->attach_functor([probe](const caf::error& reason) {
    probe->cells.alive.dec();
    probe->cells.mailbox_depth.add(-probe->reported_depth.exchange(0, std::memory_order_relaxed));
    // user_shutdown is how the server stops its long-lived actors: an orderly end.
    if (reason && reason != caf::exit_reason::user_shutdown) probe->cells.failed.inc();
  });
  return probe;
}

caf::behavior observe_behavior(caf::behavior inner, caf::scheduled_actor* self, std::shared_ptr<actor_probe> probe) {
  if (!inner) return inner;  // an empty behavior ends the actor at once: nothing to time
  caf::behavior::impl_ptr wrapped = caf::make_counted<observed_behavior>(inner.as_behavior_impl(), self, std::move(probe));
  return caf::behavior{std::move(wrapped)};
}

}  // namespace cssh::actors::detail

namespace cssh::actors {

namespace {
std::atomic<long> live_connections{0};
}  // namespace

void count_ssh_connection(caf::scheduled_actor* self) {
  auto& m = metrics::server();
  m.ssh_connections.inc();
  m.ssh_current_connections.inc();
  live_connections.fetch_add(1);
  self->attach_functor([&m] {
    m.ssh_current_connections.dec();
    // Idle again: hand what the finished connections freed back to the system. glibc keeps it in
    // the per-thread arenas of the session threads otherwise, and RSS would stay above the idle
    // baseline after a burst of connections (tests/e2e/fault_test.py, "kills", checks the return).
    if (live_connections.fetch_sub(1) == 1) malloc_trim(0);
  });
}

}  // namespace cssh::actors
