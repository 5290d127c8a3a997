#include "actors/resource_limits.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "common/security_metrics.hpp"

namespace cssh::actors {
namespace {

bool reached(int cap, std::size_t held) { return cap >= 0 && held >= static_cast<std::size_t>(cap); }

}  // namespace

resource_limits::resource_limits(config::limits_config config)
    : config_(config), counts_(std::make_shared<counts>()) {}

void resource_limits::counts::publish_connections() {
  std::size_t most = 0;
  for (const auto& [user, n] : per_user) most = std::max(most, n);
  auto& m = metrics::security();
  m.connections.set(static_cast<std::int64_t>(connections));
  m.connections_user_max.set(static_cast<std::int64_t>(most));
}

resource_limits::admission resource_limits::admit_connection(const std::string& user) {
  std::lock_guard<std::mutex> guard(counts_->mutex);
  auto& c = *counts_;
  auto it = c.per_user.find(user);
  std::size_t of_user = it == c.per_user.end() ? 0 : it->second;
  if (reached(config_.max_connections_per_user, of_user)) {
    return admission{nullptr, "LIMIT_CONNECTIONS_PER_USER", "connections_per_user",
                     "too many connections for user \"" + user + "\": " + std::to_string(of_user) +
                         " open (limits.maxConnectionsPerUser: " + std::to_string(config_.max_connections_per_user) +
                         ")"};
  }
  if (reached(config_.max_connections, c.connections)) {
    return admission{nullptr, "LIMIT_CONNECTIONS", "connections",
                     "the server is at its connection limit: " + std::to_string(c.connections) +
                         " open (limits.maxConnections: " + std::to_string(config_.max_connections) + ")"};
  }
  ++c.connections;
  ++c.per_user[user];
  c.publish_connections();
  auto held = counts_;
  slot s(static_cast<const void*>(counts_.get()), [held, user](const void*) {
    std::lock_guard<std::mutex> g(held->mutex);
    --held->connections;
    auto found = held->per_user.find(user);
    if (found != held->per_user.end() && --found->second == 0) held->per_user.erase(found);
    held->publish_connections();
  });
  return admission{std::move(s), "", "", ""};
}

resource_limits::slot resource_limits::reserve_container(const std::string& connection_id, std::string& refusal) {
  std::lock_guard<std::mutex> guard(counts_->mutex);
  auto& c = *counts_;
  if (reached(config_.max_containers, c.containers)) {
    refusal = "the server holds its maximum of " + std::to_string(config_.max_containers) +
              " containers (limits.maxContainers); try again later";
    log::notice("LIMIT_CONTAINERS", "container refused: " + refusal, {{"connectionId", connection_id}});
    metrics::security().count_limit_refusal("containers");
    return nullptr;
  }
  ++c.containers;
  metrics::security().containers.set(static_cast<std::int64_t>(c.containers));
  auto held = counts_;
  return slot(static_cast<const void*>(counts_.get()), [held](const void*) {
    std::lock_guard<std::mutex> g(held->mutex);
    --held->containers;
    metrics::security().containers.set(static_cast<std::int64_t>(held->containers));
  });
}

std::size_t resource_limits::connections() const {
  std::lock_guard<std::mutex> guard(counts_->mutex);
  return counts_->connections;
}

std::size_t resource_limits::connections_of(const std::string& user) const {
  std::lock_guard<std::mutex> guard(counts_->mutex);
  auto it = counts_->per_user.find(user);
  return it == counts_->per_user.end() ? 0 : it->second;
}

std::size_t resource_limits::containers() const {
  std::lock_guard<std::mutex> guard(counts_->mutex);
  return counts_->containers;
}

}  // namespace cssh::actors
