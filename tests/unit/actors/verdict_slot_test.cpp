// verdict_slot / verdict_promise: how a login's verdict reaches the session thread waiting in an
// SSH auth callback, including the answers nobody sent.

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "actors/verdict_slot.hpp"

using namespace cssh::actors;
using namespace std::chrono_literals;

namespace {

auth_verdict admitted(std::string user) {
  auth_verdict v;
  v.success = true;
  v.authenticated_username = std::move(user);
  return v;
}

}  // namespace

TEST_CASE("a verdict delivered from another thread wakes the waiter") {
  auto slot = std::make_shared<verdict_slot>();
  verdict_promise promise{slot};
  std::thread actor([promise] {
    std::this_thread::sleep_for(20ms);
    promise.deliver(admitted("alice"));
  });
  auto verdict = slot->wait_until(std::chrono::steady_clock::now() + 10s);
  actor.join();
  REQUIRE(verdict.has_value());
  CHECK(verdict->success);
  CHECK(verdict->authenticated_username == "alice");
}

TEST_CASE("the first verdict stays") {
  auto slot = std::make_shared<verdict_slot>();
  verdict_promise promise{slot};
  promise.deliver(denied("wrong password"));
  promise.deliver(admitted("alice"));
  auto verdict = slot->wait_until(std::chrono::steady_clock::now());
  REQUIRE(verdict.has_value());
  CHECK_FALSE(verdict->success);
}

TEST_CASE("no verdict by the deadline is nullopt") {
  auto slot = std::make_shared<verdict_slot>();
  verdict_promise promise{slot};  // kept alive, never answers
  const auto start = std::chrono::steady_clock::now();
  auto verdict = slot->wait_until(start + 50ms);
  CHECK_FALSE(verdict.has_value());
  CHECK(std::chrono::steady_clock::now() - start >= 50ms);
}

TEST_CASE("a promise dropped unanswered denies at once instead of leaving the waiter to its deadline") {
  auto slot = std::make_shared<verdict_slot>();
  {
    verdict_promise promise{slot};
    verdict_promise copy = promise;  // a handler's capture: the last copy is what counts
    (void)copy;
  }
  auto verdict = slot->wait_until(std::chrono::steady_clock::now());
  REQUIRE(verdict.has_value());
  CHECK_FALSE(verdict->success);
}

TEST_CASE("an answered promise adds nothing when it goes away") {
  auto slot = std::make_shared<verdict_slot>();
  {
    verdict_promise promise{slot};
    promise.deliver(admitted("bob"));
  }
  auto verdict = slot->wait_until(std::chrono::steady_clock::now());
  REQUIRE(verdict.has_value());
  CHECK(verdict->success);
}
