#pragma once
// What one session's container looks like: the Engine's create body built from the
// configuration plus what the SSH session asked for.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/app_config.hpp"

namespace cssh::docker {

/// Labels every container of ours carries, so a restarted server can find its orphans.
inline constexpr const char* label_managed = "containerssh_cpp";
inline constexpr const char* label_connection_id = "containerssh_connection_id";
inline constexpr const char* label_username = "containerssh_username";
inline constexpr const char* label_ip = "containerssh_ip";
inline constexpr const char* label_instance = "containerssh_instance";

struct session_request {
  std::string connection_id;
  std::string username;
  std::string remote_ip;
  std::string instance_id;                 // this server process (for orphan reaping)
  std::vector<std::string> command;        // argv to run; empty = image default / container.cmd
  bool tty = false;
  std::string term;                        // TERM from pty-req
  std::vector<std::string> env;            // "K=V" from env requests and webhooks
  /// Files from the auth/config webhook answers (absolute path -> contents), written into the
  /// container before it starts (docker/container_files.hpp). Not part of the create body.
  std::map<std::string, std::string> files;
};

/// ContainerSSH's command rule: a command whose first word starts with "/", "./" or "../"
/// runs as an argument list (split shell-style); anything else runs as /bin/sh -c <cmd>.
std::vector<std::string> command_to_argv(const std::string& command);

/// The pids limit the server sets unless `host.resources.pidslimit` is configured.
inline constexpr std::int64_t default_pids_limit = 4096;

/// HostConfig values the server sets unless the configuration gives the same key: Init
/// (signals reach the user's program), SecurityOpt ["no-new-privileges"], PidsLimit.
nlohmann::json default_host_config();

/// The create call's `platform` parameter, "os[/architecture[/variant]]", or "" when the
/// configuration names no platform.
std::string platform_query(const config::docker_execution_config& exec);

/// The POST /containers/create body for a session-mode container.
nlohmann::json build_create_body(const config::docker_execution_config& exec, const session_request& req);

}  // namespace cssh::docker
