// limits: connections in all and per user, containers; places come back when their slot goes.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "actors/resource_limits.hpp"
#include "common/security_metrics.hpp"

using cssh::actors::resource_limits;

TEST_CASE("limits: the per-user cap refuses that user's next login, not another user's") {
  cssh::config::limits_config cfg;
  cfg.max_connections_per_user = 2;
  resource_limits limits(cfg);
  auto a1 = limits.admit_connection("alice");
  auto a2 = limits.admit_connection("alice");
  REQUIRE(a1.held);
  REQUIRE(a2.held);
  auto a3 = limits.admit_connection("alice");
  CHECK_FALSE(a3.held);
  CHECK(a3.code == "LIMIT_CONNECTIONS_PER_USER");
  CHECK(a3.limit == "connections_per_user");
  CHECK(a3.reason.find("\"alice\": 2 open (limits.maxConnectionsPerUser: 2)") != std::string::npos);
  auto b1 = limits.admit_connection("bob");
  CHECK(b1.held);
  CHECK(limits.connections() == 3);
  CHECK(limits.connections_of("alice") == 2);
  CHECK(cssh::metrics::security().connections.value() == 3);
  CHECK(cssh::metrics::security().connections_user_max.value() == 2);
  a1.held.reset();  // alice closes one connection
  CHECK(limits.connections_of("alice") == 1);
  CHECK(cssh::metrics::security().connections_user_max.value() == 1);
  CHECK(limits.admit_connection("alice").held);  // admitted, and given back at once (temporary)
  CHECK(limits.connections() == 2);
}

TEST_CASE("limits: the total cap counts every user") {
  cssh::config::limits_config cfg;
  cfg.max_connections = 2;
  resource_limits limits(cfg);
  auto a = limits.admit_connection("alice");
  auto b = limits.admit_connection("bob");
  auto c = limits.admit_connection("carol");
  CHECK(a.held);
  CHECK(b.held);
  CHECK_FALSE(c.held);
  CHECK(c.code == "LIMIT_CONNECTIONS");
  CHECK(c.reason.find("limits.maxConnections: 2") != std::string::npos);
  b.held.reset();
  CHECK(limits.admit_connection("carol").held);
}

TEST_CASE("limits: -1 means no cap; 0 refuses everything") {
  cssh::config::limits_config cfg;
  resource_limits open(cfg);
  std::vector<resource_limits::slot> held;
  std::string why;
  for (int i = 0; i < 1000; ++i) {
    held.push_back(open.admit_connection("alice").held);
    held.push_back(open.reserve_container("c", why));
  }
  CHECK(open.connections() == 1000);
  CHECK(open.containers() == 1000);
  held.clear();
  CHECK(open.connections() == 0);
  CHECK(open.containers() == 0);
  CHECK(open.connections_of("alice") == 0);

  cfg.max_connections = 0;
  cfg.max_containers = 0;
  resource_limits closed(cfg);
  CHECK_FALSE(closed.admit_connection("alice").held);
  CHECK_FALSE(closed.reserve_container("c", why));
}

TEST_CASE("limits: containers: a refused reservation says why and counts; places outlive the limits object") {
  cssh::config::limits_config cfg;
  cfg.max_containers = 1;
  resource_limits::slot kept;
  {
    resource_limits limits(cfg);
    std::string why;
    kept = limits.reserve_container("conn-1", why);
    REQUIRE(kept);
    CHECK(why.empty());
    auto before = cssh::metrics::security().limit_refusals.with({"containers"}).value();
    CHECK_FALSE(limits.reserve_container("conn-2", why));
    CHECK(why.find("maximum of 1 containers (limits.maxContainers)") != std::string::npos);
    CHECK(cssh::metrics::security().limit_refusals.with({"containers"}).value() == before + 1);
    CHECK(cssh::metrics::security().containers.value() == 1);
  }
  kept.reset();  // the last holder gives its place back after the limits object is gone: no crash
  CHECK(cssh::metrics::security().containers.value() == 0);
}
