#pragma once
// The server's configuration as typed structs, in ContainerSSH's layout.
// Only config/ includes yaml-cpp; everything else sees these structs.

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/log.hpp"

namespace cssh::config {

using millis = std::chrono::milliseconds;

struct ssh_config {
  std::string listen = "0.0.0.0:2222";
  /// File paths or inline PEM blocks. A path that does not exist is generated (Ed25519).
  std::vector<std::string> hostkeys;
  std::string server_version = "SSH-2.0-ContainerSSH";
};

/// An HTTP(S) client for a webhook (ContainerSSH's `webhook:` / `client` block).
struct webhook_client_config {
  std::string url;
  millis timeout{2000};
  std::string cacert;
  std::string cert;
  std::string key;
};

struct password_auth_config {
  std::string method;  // "" (disabled) or "webhook"
  webhook_client_config webhook;
};

struct auth_config {
  password_auth_config password;
  /// Overall deadline for one authentication attempt, retries included.
  millis auth_timeout{60000};
};

enum class execution_mode { connection, session };
enum class image_pull_policy { always, if_not_present, never };

struct docker_connection_config {
  std::string host = "unix:///var/run/docker.sock";
  std::string cert;
  std::string key;
  std::string cacert;
};

/// The Engine's container create structure, as the YAML gives it (lowercase keys).
struct container_config {
  std::string image;
  std::vector<std::string> env;
  std::vector<std::string> cmd;
  std::vector<std::string> entrypoint;
  std::string user;
  std::string workingdir;
  std::string hostname;
  std::map<std::string, std::string> labels;
};

struct docker_timeouts {
  millis container_start{60000};
  millis container_stop{60000};
  millis command_start{60000};
  millis signal{60000};
  millis window{60000};
  millis http{15000};
};

struct docker_execution_config {
  execution_mode mode = execution_mode::connection;  // ContainerSSH's default
  container_config container;
  /// Engine HostConfig / NetworkingConfig / platform as given (lowercase keys); mapped by docker/.
  nlohmann::json host = nlohmann::json::object();
  nlohmann::json network = nlohmann::json::object();
  nlohmann::json platform = nlohmann::json::object();
  std::string container_name;
  std::map<std::string, std::string> subsystems{{"sftp", "/usr/lib/openssh/sftp-server"}};
  bool disable_command = false;
  bool disable_shell = false;
  bool disable_subsystem = false;
  std::vector<std::string> shell_command{"/bin/sh"};
  std::vector<std::string> idle_command{"/bin/sh", "-c", "sleep infinity & wait"};
  image_pull_policy pull_policy = image_pull_policy::if_not_present;
  docker_timeouts timeouts;
};

struct docker_config {
  docker_connection_config connection;
  docker_execution_config execution;
};

struct log_config {
  log::level level = log::level::notice;
  std::string format = "text";  // "ljson" or "text"
};

struct app_config {
  ssh_config ssh;
  auth_config auth;
  std::string backend = "docker";  // "docker" or "dockerrun" (legacy shape, mapped onto docker)
  docker_config docker;
  log_config log;
  /// Keys ContainerSSH knows that this server does not implement yet (warned about at start).
  std::vector<std::string> ignored_keys;
};

}  // namespace cssh::config
