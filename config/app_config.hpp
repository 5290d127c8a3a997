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

/// `ssh.proxyProtocol`: connections arrive through a load balancer that puts a PROXY protocol
/// header (v1 or v2) in front of the SSH stream; the client address in it is the connection's.
struct proxy_protocol_config {
  bool enable = false;
  /// CIDR ranges (or single addresses) allowed to connect and send the header: the balancers.
  /// Required when enabled; anyone else is refused, since a header can claim any address.
  std::vector<std::string> allowed_sources;
  /// How long the header may take to arrive after the TCP connection is accepted.
  millis timeout{5000};
};

struct ssh_config {
  std::string listen = "0.0.0.0:2222";
  /// File paths or inline PEM blocks. A path that does not exist is generated (Ed25519).
  std::vector<std::string> hostkeys;
  std::string server_version = "SSH-2.0-ContainerSSH";
  /// Text shown to the client before authentication (empty: none).
  std::string banner;
  /// Algorithm lists; empty means the defaults in protocol/ssh/algorithms.hpp.
  std::vector<std::string> ciphers;
  std::vector<std::string> kex;
  std::vector<std::string> macs;
  std::vector<std::string> host_key_algorithms;
  /// Server keepalives (OpenSSH's ClientAliveInterval / ClientAliveCountMax); 0 disables.
  millis client_alive_interval{0};
  int client_alive_count_max = 3;
  /// Pre-authentication limits with OpenSSH's meanings.
  millis login_grace_time{120000};
  int max_auth_tries = 6;
  int max_startups = 100;           // unauthenticated connections held at once
  int max_startups_per_source = 10; // of those, from one address
  proxy_protocol_config proxy_protocol;
  /// No channel data in either direction for this long closes the connection (0: never).
  millis idle_timeout{0};
  /// A connection's whole life is capped at this (0: no cap).
  millis session_timeout{0};
};

/// An HTTP(S) client for a webhook (ContainerSSH's `webhook:` / `client` block).
struct webhook_client_config {
  std::string url;
  millis timeout{2000};  // per HTTP call
  std::string cacert;    // PEM text or file path: the CA the server's certificate must chain to
  std::string cert;      // client certificate (PEM text or file path), sent when the server asks
  std::string key;
  /// Follow 3xx answers (as Go's client does: 307/308 repeat the POST, 301/302/303 turn into GET).
  /// Off by default, as in ContainerSSH: a redirect is then a failed call.
  bool allow_redirects = false;
};

/// The built-in users file (`method: file`): crypt(3) hashes and authorized keys per user.
struct users_file_config {
  std::string path;
};

/// One authentication method's backend (`auth.password`, `auth.publicKey`, `auth.authz`).
struct auth_method_config {
  std::string method;  // "" (disabled), "webhook" or "file" (authz: "" or "webhook")
  webhook_client_config webhook;
  users_file_config file;
};
using password_auth_config = auth_method_config;

struct auth_config {
  /// Password logins; keyboard-interactive logins (one password prompt) use it too.
  auth_method_config password;
  auth_method_config public_key;
  /// Asked after every successful authentication, whatever the method (POST {url}/authz).
  auth_method_config authz;
  /// Overall deadline for one login: authentication, authorization and the config server,
  /// retries included.
  millis auth_timeout{60000};
};

enum class execution_mode { connection, session };
enum class image_pull_policy { always, if_not_present, never };

struct docker_connection_config {
  std::string host = "unix:///var/run/docker.sock";
  /// TLS client certificate, its key, and the CA to verify the Engine: PEM text or file paths.
  std::string cert;
  std::string key;
  std::string cacert;
  /// Pins the Engine API version ("1.24"); empty: negotiate (the lower of ours and the Engine's).
  std::string api_version;
};

/// Registry credentials for pulls (`execution.auth`, Docker's AuthConfig), sent as X-Registry-Auth.
struct registry_auth_config {
  std::string username;
  std::string password;
  std::string auth;  // base64("username:password"), as in ~/.docker/config.json
  std::string email;
  std::string serveraddress;
  std::string identitytoken;
  std::string registrytoken;
  bool empty() const {
    return username.empty() && password.empty() && auth.empty() && email.empty() && serveraddress.empty() &&
           identitytoken.empty() && registrytoken.empty();
  }
};

/// The Engine's ContainerConfig (`container:`; config/engine_schema.cpp lists every key). The
/// fields the server itself uses are typed; every other configured key is in `other`, already
/// under the Engine's JSON name (e.g. {"StopSignal": "SIGINT", "NetworkDisabled": true}).
struct container_config {
  std::string image;
  std::vector<std::string> env;
  std::vector<std::string> cmd;
  std::vector<std::string> entrypoint;
  std::string user;
  std::string workingdir;
  std::string hostname;
  std::map<std::string, std::string> labels;
  nlohmann::json other = nlohmann::json::object();
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
  /// The Engine's HostConfig and NetworkingConfig as configured, already in the Engine's JSON
  /// names (Resources inlined); the server's defaults (docker/container_spec.cpp) are not in it.
  nlohmann::json host = nlohmann::json::object();
  nlohmann::json network = nlohmann::json::object();
  /// The OCI platform as configured: {"os", "architecture", "variant"} (create's platform=).
  nlohmann::json platform = nlohmann::json::object();
  std::string container_name;
  std::map<std::string, std::string> subsystems{{"sftp", "/usr/lib/openssh/sftp-server"}};
  bool disable_command = false;
  bool disable_shell = false;
  bool disable_subsystem = false;
  std::vector<std::string> shell_command{"/bin/sh"};
  /// What a connection-mode container runs while sessions come and go as execs. The default is
  /// the server's guest helper (mounted into every container), so it works in any image.
  std::vector<std::string> idle_command{"/.containerssh/helper", "idle"};
  image_pull_policy pull_policy = image_pull_policy::if_not_present;
  registry_auth_config auth;
  docker_timeouts timeouts;
};

struct docker_config {
  docker_connection_config connection;
  docker_execution_config execution;
};

/// `log.syslog`: where and how syslog lines go (ContainerSSH's defaults).
struct syslog_config {
  std::string destination = "/dev/log";  // a Unix datagram socket path, or udp://host:port
  std::string facility = "auth";         // syslog facility name (kern ... local7)
  std::string tag = "ContainerSSH";
  bool pid = false;                      // add [pid] after the tag
};

struct log_config {
  log::level level = log::level::notice;
  std::string format = "text";  // "ljson" or "text"
  std::string destination = "stdout";  // "stdout", "file" (reopened on SIGHUP) or "syslog"
  std::string file = "/var/log/containerssh/containerssh.log";
  syslog_config syslog;
};

/// `metrics:`: the Prometheus endpoint (ContainerSSH's keys and defaults).
struct metrics_config {
  bool enable = false;
  std::string listen = "0.0.0.0:9100";
  std::string path = "/metrics";
};

/// `health:`: answers `ok` (200) or `not ok` (503) on any path; `client` is what
/// `containerssh --healthcheck` asks.
struct health_config {
  bool enable = false;
  std::string listen = "0.0.0.0:7000";
  std::string client_url = "http://127.0.0.1:7000/";
  millis client_timeout{2000};
};

/// ContainerSSH's execution policy for one kind of request (`security:`). `unset` falls back to
/// `security.defaultMode`, and that, when unset too, to `enable`.
enum class security_mode { unset, enable, filter, disable };

/// A request kind with allow/deny lists: `enable` admits all but `deny`, `filter` only `allow`,
/// `disable` nothing. (`command` has no deny list; `shell` and `tty` no lists at all.)
struct security_list_policy {
  security_mode mode = security_mode::unset;
  std::vector<std::string> allow;
  std::vector<std::string> deny;
};

/// One entry of permitOpen / permitListen, as sshd_config writes them: "host:port" ("[v6]:port"),
/// host `*` for any host, port `*` for any port; permitListen also takes a bare "port".
struct permit_entry {
  std::string host;  // "*": any
  int port = -1;     // -1: any
};

/// `security.forwarding`: each defaults to `disable` whatever `defaultMode` says (ContainerSSH).
/// `enable` allows the requests (within permitOpen / permitListen when they are set), `filter`
/// allows only what those lists name, `disable` nothing. Unix-socket forwarding (socket*) cannot
/// be served with libssh 0.10 and is refused in any mode (docs/forwarding.md).
struct security_forwarding_config {
  security_mode reverse_forwarding = security_mode::disable;
  security_mode forwarding = security_mode::disable;
  security_mode socket_forwarding = security_mode::disable;
  security_mode socket_listen = security_mode::disable;
  security_mode x11_forwarding = security_mode::disable;
  /// This server's extension: ssh -A (ContainerSSH has no agent forwarding).
  security_mode agent_forwarding = security_mode::disable;
  /// This server's extensions, as sshd's PermitOpen / PermitListen: where -L/-D may connect and
  /// where -R may listen. Empty: anywhere (under `enable`).
  std::vector<permit_entry> permit_open;
  std::vector<permit_entry> permit_listen;
};

/// ContainerSSH's `security:` block. A configuration server may set it per connection.
struct security_config {
  security_mode default_mode = security_mode::unset;
  /// Runs instead of whatever the client asked (exec, shell, subsystem); the original command
  /// (or subsystem name) is in SSH_ORIGINAL_COMMAND. Empty: off.
  std::string force_command;
  security_list_policy env;
  security_list_policy command;  // allow only (an exact match)
  security_mode shell = security_mode::unset;
  security_list_policy subsystem;
  security_mode tty = security_mode::unset;
  security_list_policy signal;   // names without SIG, as SSH sends them
  security_forwarding_config forwarding;
  /// Session channels open at once on one connection; -1: unlimited.
  int max_sessions = -1;
};

/// `limits:` (not in ContainerSSH): server-wide caps so that one user cannot take the host.
/// -1: no cap. They come from the file only; a configuration server cannot change them.
struct limits_config {
  int max_connections = -1;           // logged-in connections at once, all users together
  int max_connections_per_user = -1;  // logged-in connections at once of one (authenticated) user
  int max_containers = -1;            // containers this server holds at once (created, not yet removed)
};

struct app_config {
  ssh_config ssh;
  auth_config auth;
  std::string backend = "docker";  // "docker" or "dockerrun" (legacy shape, mapped onto docker)
  /// `instanceId`: names this server instance in its containers' labels, so that after a crash it
  /// removes its own orphans and no one else's. Empty: derived from the host name and the listen
  /// address (stable across restarts). Replicas sharing one Docker Engine need distinct values.
  std::string instance_id;
  /// `shutdownTimeout`: on SIGTERM/SIGINT, how long running sessions may go on before their
  /// connections are closed and their containers removed.
  millis shutdown_timeout{30000};
  docker_config docker;
  security_config security;
  limits_config limits;
  log_config log;
  metrics_config metrics;
  health_config health;
  /// The configuration server asked after authentication (`configserver:`); empty url = none.
  webhook_client_config configserver;
  /// The YAML text this configuration was loaded from: config server answers are merged over
  /// it (config/loader.hpp merge_connection_config). Empty for configurations built in code.
  std::string source_text;
  /// Keys ContainerSSH knows that this server does not implement yet (warned about at start).
  std::vector<std::string> ignored_keys;
  /// "path: why" for settings accepted but not used as written (logged at start as warnings).
  std::vector<std::string> warnings;
};

}  // namespace cssh::config
