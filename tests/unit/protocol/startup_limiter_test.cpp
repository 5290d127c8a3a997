#include <doctest/doctest.h>

#include "protocol/ssh/startup_limiter.hpp"

using cssh::ssh::startup_limiter;

TEST_CASE("startup limiter: per-source and total limits") {
  startup_limiter l(3, 2);
  CHECK(l.try_acquire("10.0.0.1"));
  CHECK(l.try_acquire("10.0.0.1"));
  CHECK_FALSE(l.try_acquire("10.0.0.1"));  // per source
  CHECK(l.try_acquire("10.0.0.2"));
  CHECK_FALSE(l.try_acquire("10.0.0.3"));  // total
  l.release("10.0.0.1");
  CHECK(l.in_use() == 2);
  CHECK(l.try_acquire("10.0.0.3"));
}

TEST_CASE("startup limiter: behind a balancer the slot is counted first, attributed to the client later") {
  startup_limiter l(4, 1);
  // Two connections from the balancer: the balancer's own address is never a source.
  REQUIRE(l.try_acquire_unattributed());
  REQUIRE(l.try_acquire_unattributed());
  CHECK(l.in_use() == 2);
  CHECK(l.try_attribute("203.0.113.7"));
  CHECK_FALSE(l.try_attribute("203.0.113.7"));  // the same client already holds its one slot
  l.release("");  // the refused one gives back its unattributed slot
  CHECK(l.in_use() == 1);
  // A direct connection from that client is now over its limit too.
  CHECK_FALSE(l.try_acquire("203.0.113.7"));
  l.release("203.0.113.7");
  CHECK(l.in_use() == 0);
  CHECK(l.try_acquire("203.0.113.7"));
}

TEST_CASE("startup limiter: unattributed slots count against the total") {
  startup_limiter l(2, 10);
  REQUIRE(l.try_acquire_unattributed());
  REQUIRE(l.try_acquire("10.0.0.1"));
  CHECK_FALSE(l.try_acquire_unattributed());
  CHECK_FALSE(l.try_acquire("10.0.0.2"));
}
