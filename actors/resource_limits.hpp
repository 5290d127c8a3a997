#pragma once
// The server-wide caps of `limits:`: logged-in connections (in all and per user) and containers
// held at once. One instance per server, shared by every connection; thread-safe.
//
// A granted place is a `slot`: a handle whose last copy gives the place back, so a place is
// returned on every path (connection closed, actor gone, container removed) without
// bookkeeping at each of them.

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "config/app_config.hpp"

namespace cssh::actors {

class resource_limits {
 public:
  using slot = std::shared_ptr<const void>;

  explicit resource_limits(config::limits_config config);

  /// A logged-in connection of `user`. On refusal `held` is null and `code` (LIMIT_*) and
  /// `reason` (for the client and the log) say which cap was reached.
  struct admission {
    slot held;
    std::string code;
    std::string limit;  // metric label: connections or connections_per_user
    std::string reason;
  };
  admission admit_connection(const std::string& user);

  /// A container about to be created; null when limits.maxContainers are held already (then
  /// the refusal is logged as LIMIT_CONTAINERS and counted, and `refusal` says why).
  slot reserve_container(const std::string& connection_id, std::string& refusal);

  std::size_t connections() const;
  std::size_t connections_of(const std::string& user) const;
  std::size_t containers() const;
  const config::limits_config& config() const { return config_; }

 private:
  struct counts {
    mutable std::mutex mutex;
    std::size_t connections = 0;
    std::size_t containers = 0;
    std::map<std::string, std::size_t> per_user;
    void publish_connections();  // with the mutex held
  };
  config::limits_config config_;
  std::shared_ptr<counts> counts_;  // slots keep it alive: they may outlive this object
};

}  // namespace cssh::actors
