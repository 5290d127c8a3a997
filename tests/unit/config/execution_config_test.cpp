// The execution keys of issue 6: instanceId, the connection mode's idleCommand default.

#include <doctest/doctest.h>

#include <string>

#include "config_test_helpers.hpp"

using namespace cssh::config;
using config_test::minimal_config;

TEST_CASE("instanceId: empty by default (derived at start-up), taken as given otherwise") {
  auto defaults = load_from_string(minimal_config);
  REQUIRE(defaults.ok());
  CHECK(defaults->instance_id.empty());
  auto given = load_from_string("instanceId: replica-a\n" + minimal_config);
  REQUIRE(given.ok());
  CHECK(given->instance_id == "replica-a");
  auto cased = load_from_string("instanceid: replica-b\n" + minimal_config);
  REQUIRE(cased.ok());
  CHECK(cased->instance_id == "replica-b");
}

TEST_CASE("instanceId: an empty or non-string value is refused with its path") {
  auto empty = load_from_string("instanceId: \"\"\n" + minimal_config);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message.find("instanceId: must not be empty") != std::string::npos);
  auto list = load_from_string("instanceId: [a]\n" + minimal_config);
  REQUIRE_FALSE(list.ok());
  CHECK(list.error().message.find("instanceId") != std::string::npos);
}

TEST_CASE("connection mode is the default and idles with the guest helper") {
  auto c = load_from_string(minimal_config);
  REQUIRE(c.ok());
  CHECK(c->docker.execution.mode == execution_mode::connection);
  CHECK(c->docker.execution.idle_command == std::vector<std::string>{"/.containerssh/helper", "idle"});
  CHECK(c->docker.execution.shell_command == std::vector<std::string>{"/bin/sh"});
}
