#pragma once
// connection_info: who a connection belongs to and what its containers look like, for container
// labels, environment and logs. The connection actor fills it in as the login progresses
// (authentication, config server) and hands a copy to each channel actor it spawns.

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "actors/connection_container_actor.hpp"
#include "common/login_context.hpp"
#include "config/app_config.hpp"

namespace cssh::actors {

struct connection_info {
  std::string connection_id;
  std::string username;
  std::string remote_address;  // "ip:port"
  std::string local_address;   // our end, "ip:port" ("" if unknown): for SSH_CONNECTION
  std::string proxy_address;   // the load balancer that relayed it (PROXY protocol), "" if direct
  std::string client_version;
  /// This connection's configuration: the file's, merged with the config server's answer.
  std::shared_ptr<const config::app_config> config;
  /// Environment for the connection's programs from the auth (and config) webhook answers.
  std::map<std::string, std::string> environment;
  /// The webhook answers' metadata (for the logs; sensitive values are never logged).
  value_map metadata;
  /// Files the webhook answers asked for (absolute path -> contents): written into every
  /// container of the connection before its program starts.
  value_map files;
  /// Connection mode: the actor owning the connection's container, in which sessions are execs.
  std::optional<connection_container_actor> container;
};

/// The IP of an "ip:port" or "[v6]:port" address.
inline std::string ip_of(const std::string& address) {
  if (!address.empty() && address.front() == '[') return address.substr(1, address.find(']') - 1);
  auto colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

/// The port of an "ip:port" address ("0" when there is none).
inline std::string port_of(const std::string& address) {
  auto colon = address.rfind(':');
  return colon == std::string::npos ? "0" : address.substr(colon + 1);
}

}  // namespace cssh::actors
