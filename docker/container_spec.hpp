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
  /// The terminal size the client asked for with its pty (0 when unknown): the helper sets it
  /// before the program starts (docker/guest_helper.hpp).
  unsigned rows = 0;
  unsigned cols = 0;
  /// The guest helper's volume, bound read-only at /.containerssh ("" = no helper).
  std::string helper_volume;
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

/// Makes a create body (build_create_body's) start its program through `helper run --winsize`,
/// so a TTY has the client's size before the program's first instruction (API 1.41 cannot set
/// it at create). The program stays what the Engine would have run: the configured Entrypoint,
/// else the image's (`image_config` is the image's Config from inspect), followed by the
/// configured or requested Cmd, else the image's when no Entrypoint was configured. Leaves
/// the body alone when there is no program to wrap.
void wrap_with_helper(nlohmann::json& body, const nlohmann::json& image_config, unsigned rows, unsigned cols);

/// The POST /containers/create body for a connection-mode container: the configuration's
/// container, running `idleCommand` with no streams attached; sessions run as execs in it.
nlohmann::json build_connection_container_body(const config::docker_execution_config& exec,
                                               const session_request& req);

/// The POST /containers/{id}/exec body for one session in connection mode: `req.command`
/// through `helper run` (terminal size, and the `marker` that `helper signal` finds it by),
/// with the session's environment and TERM.
nlohmann::json build_exec_body(const session_request& req, const std::string& marker);

/// The exec body that delivers signal `number` to the session started with `marker`.
nlohmann::json build_signal_exec_body(const std::string& marker, int number);
/// The exec of the connection's forwarding helper (`helper forward`, docs/forwarding.md):
/// frames on stdin and stdout, diagnostics on stderr, no TTY, as the container's user.
nlohmann::json build_forward_exec_body();

}  // namespace cssh::docker
