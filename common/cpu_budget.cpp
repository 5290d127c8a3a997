#include "common/cpu_budget.hpp"

#include <sched.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace cssh {
namespace {

std::optional<long long> parse_number(const std::string& text) {
  std::istringstream in(text);
  long long value = 0;
  if (!(in >> value)) return std::nullopt;
  return value;
}

std::optional<unsigned> whole_cpus(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return std::nullopt;
  return static_cast<unsigned>((quota + period - 1) / period);  // 1.5 CPUs of quota: 2 workers
}

std::optional<std::string> read_file(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text;
  std::getline(in, text);
  return text;
}

}  // namespace

std::optional<unsigned> cpus_from_cgroup2(const std::string& cpu_max) {
  std::istringstream in(cpu_max);
  std::string quota, period;
  if (!(in >> quota >> period) || quota == "max") return std::nullopt;
  auto q = parse_number(quota);
  auto p = parse_number(period);
  if (!q || !p) return std::nullopt;
  return whole_cpus(*q, *p);
}

std::optional<unsigned> cpus_from_cgroup1(const std::string& quota_us, const std::string& period_us) {
  auto q = parse_number(quota_us);
  auto p = parse_number(period_us);
  if (!q || !p) return std::nullopt;
  return whole_cpus(*q, *p);
}

cpu_budget usable_cpus() {
  cpu_budget budget;
  budget.cpus = std::max(1u, std::thread::hardware_concurrency());
  budget.source = "cores";
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    budget.cpus = static_cast<unsigned>(CPU_COUNT(&set));
    budget.source = "affinity";
  }
  std::optional<unsigned> quota;
  if (auto v2 = read_file("/sys/fs/cgroup/cpu.max")) {
    quota = cpus_from_cgroup2(*v2);
  } else {
    for (const char* dir : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"}) {
      auto q = read_file((std::string(dir) + "/cpu.cfs_quota_us").c_str());
      auto p = read_file((std::string(dir) + "/cpu.cfs_period_us").c_str());
      if (q && p) {
        quota = cpus_from_cgroup1(*q, *p);
        break;
      }
    }
  }
  if (quota && *quota < budget.cpus) {
    budget.cpus = *quota;
    budget.source = "cgroup CPU quota";
  }
  return budget;
}

}  // namespace cssh
