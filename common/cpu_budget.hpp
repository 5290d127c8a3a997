#pragma once
// How many CPUs this process may really use: the cores it is allowed to run on, capped by a
// cgroup CPU quota. std::thread::hardware_concurrency() counts the host's cores, so a daemon
// limited to one CPU in a container on a 64-core host would otherwise size its pools for 64.

#include <optional>
#include <string>

namespace cssh {

struct cpu_budget {
  unsigned cpus = 1;   // what the daemon sizes its worker pools for
  std::string source;  // where the number came from, for the start-up log
};

/// Reads the affinity mask and the cgroup quota (v2 cpu.max, else v1 cfs_quota_us/cfs_period_us).
cpu_budget usable_cpus();

/// A cgroup v2 cpu.max line ("150000 100000", or "max 100000" for no quota): the quota in
/// whole CPUs, rounded up; nullopt when unlimited or unreadable.
std::optional<unsigned> cpus_from_cgroup2(const std::string& cpu_max);

/// cgroup v1's cpu.cfs_quota_us and cpu.cfs_period_us: the same; a quota of -1 means none.
std::optional<unsigned> cpus_from_cgroup1(const std::string& quota_us, const std::string& period_us);

}  // namespace cssh
