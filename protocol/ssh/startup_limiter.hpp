#pragma once
// OpenSSH's MaxStartups, plus a per-source cap: how many unauthenticated connections may be
// held at once, in total and from one address. A connection over either limit is refused
// at once, so a flood of silent connections from one place never delays anyone else's login.

#include <map>
#include <mutex>
#include <string>

namespace cssh::ssh {

class startup_limiter {
 public:
  startup_limiter(int max_total, int max_per_source) : max_total_(max_total), max_per_source_(max_per_source) {}

  /// Takes a slot for a new connection from `source`; false when a limit is reached.
  bool try_acquire(const std::string& source);
  /// Takes a slot counted in the total only: behind a load balancer the client's address is
  /// known once its PROXY header is read, and the balancer's own must not count as the source.
  bool try_acquire_unattributed();
  /// Counts a slot from try_acquire_unattributed against `source`; false when that source is at
  /// its limit (the slot stays taken, unattributed: release it with release("")).
  bool try_attribute(const std::string& source);
  /// Gives the slot back (the connection authenticated or ended); "" for an unattributed slot.
  void release(const std::string& source);

  int in_use() const;

 private:
  mutable std::mutex mutex_;
  int max_total_;
  int max_per_source_;
  int total_ = 0;
  std::map<std::string, int> per_source_;
};

}  // namespace cssh::ssh
