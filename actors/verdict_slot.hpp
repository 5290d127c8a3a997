#pragma once
// verdict_slot: where the connection actor leaves a login's verdict for the session thread,
// which waits on it during an SSH auth callback.
//
// Why not a CAF scoped_actor and request: that spawned, registered and tore down a blocking
// actor for every login, and woke CAF's timer thread twice (the request's deadline going in, the
// actor's end cancelling it). A mutex and a condition variable say the same with neither.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "actors/auth_actor.hpp"

namespace cssh::actors {

class verdict_slot {
 public:
  /// The first verdict stays; later ones (a late error path) are ignored.
  void deliver(auth_verdict verdict) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (verdict_) return;
      verdict_ = std::move(verdict);
    }
    ready_.notify_one();
  }

  /// The verdict, or nullopt when none came by the deadline.
  std::optional<auth_verdict> wait_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    ready_.wait_until(lock, deadline, [this] { return verdict_.has_value(); });
    return verdict_;
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_;
  std::optional<auth_verdict> verdict_;
};

/// The connection actor's side of a slot. When the last copy goes away without an answer (the
/// actor ended, or dropped a handler), it answers "denied" itself, so the session thread never
/// waits out its deadline for an actor that is gone.
class verdict_promise {
 public:
  verdict_promise() = default;
  explicit verdict_promise(std::shared_ptr<verdict_slot> slot) : state_(std::make_shared<guard>(std::move(slot))) {}

  void deliver(auth_verdict verdict) const {
    if (state_) state_->deliver(std::move(verdict));
  }

 private:
  struct guard {
    explicit guard(std::shared_ptr<verdict_slot> s) : slot(std::move(s)) {}
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;
    ~guard() {
      if (!answered && slot) slot->deliver(denied("the connection actor ended before answering"));
    }
    void deliver(auth_verdict verdict) {
      answered = true;
      slot->deliver(std::move(verdict));
    }
    std::shared_ptr<verdict_slot> slot;
    bool answered = false;
  };
  std::shared_ptr<guard> state_;
};

}  // namespace cssh::actors
