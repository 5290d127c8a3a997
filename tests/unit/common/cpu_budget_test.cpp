// cpu_budget: the worker count follows a cgroup CPU quota, not the host's core count.

#include <doctest/doctest.h>

#include <thread>

#include "common/cpu_budget.hpp"

using namespace cssh;

TEST_CASE("cgroup v2 cpu.max: a quota in whole CPUs, rounded up; max is none") {
  CHECK(cpus_from_cgroup2("200000 100000") == 2u);
  CHECK(cpus_from_cgroup2("150000 100000") == 2u);
  CHECK(cpus_from_cgroup2("50000 100000") == 1u);
  CHECK(cpus_from_cgroup2("max 100000") == std::nullopt);
  CHECK(cpus_from_cgroup2("") == std::nullopt);
  CHECK(cpus_from_cgroup2("garbage") == std::nullopt);
  CHECK(cpus_from_cgroup2("0 100000") == std::nullopt);
}

TEST_CASE("cgroup v1 cfs quota and period; -1 is none") {
  CHECK(cpus_from_cgroup1("400000", "100000") == 4u);
  CHECK(cpus_from_cgroup1("10000", "100000") == 1u);
  CHECK(cpus_from_cgroup1("-1", "100000") == std::nullopt);
  CHECK(cpus_from_cgroup1("100000", "0") == std::nullopt);
  CHECK(cpus_from_cgroup1("x", "100000") == std::nullopt);
}

TEST_CASE("this process: at least one CPU, never more than the host has, and a source") {
  auto budget = usable_cpus();
  CHECK(budget.cpus >= 1u);
  CHECK(budget.cpus <= std::max(1u, std::thread::hardware_concurrency()));
  CHECK_FALSE(budget.source.empty());
}
