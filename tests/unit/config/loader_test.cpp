#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "config_test_helpers.hpp"

using namespace cssh::config;
using config_test::contains;
using config_test::load_bad;
using config_test::load_ok;
using config_test::minimal_config;
using std::chrono::milliseconds;

namespace {

std::size_t line_count(const std::string& s) { return std::count(s.begin(), s.end(), '\n') + 1; }

}  // namespace

TEST_CASE("a minimal configuration gets ContainerSSH's defaults") {
  app_config c = load_ok(minimal_config);
  CHECK(c.backend == "docker");
  CHECK(c.ssh.listen == "0.0.0.0:2222");
  CHECK(c.ssh.server_version == "SSH-2.0-ContainerSSH");
  CHECK(c.docker.connection.host == "unix:///var/run/docker.sock");
  CHECK(c.docker.execution.container.image == "busybox");
  CHECK(c.docker.execution.mode == execution_mode::connection);
  CHECK(c.docker.execution.pull_policy == image_pull_policy::if_not_present);
  CHECK(c.docker.execution.subsystems.at("sftp") == "/usr/lib/openssh/sftp-server");
  CHECK(c.docker.execution.timeouts.http == milliseconds(15000));
  CHECK(c.auth.auth_timeout == milliseconds(60000));
  CHECK(c.log.level == cssh::log::level::notice);
  CHECK(c.log.format == "text");
  CHECK(c.ignored_keys.empty());
}

TEST_CASE("every supported key is read") {
  app_config c = load_ok(R"(
ssh:
  listen: 127.0.0.1:2022
  hostkeys:
    - /etc/containerssh/host.key
    - /etc/containerssh/host2.key
  serverVersion: SSH-2.0-Test
auth:
  password:
    method: webhook
    webhook:
      url: http://127.0.0.1:8080
      timeout: 5s
      cacert: /ca.pem
      cert: /c.pem
      key: /k.pem
  authTimeout: 30s
backend: docker
docker:
  connection:
    host: tcp://127.0.0.1:2375
    cert: /dc.pem
    key: /dk.pem
    cacert: /dca.pem
  execution:
    mode: session
    container:
      image: alpine:3.19
      env: [A=1, B=2]
      cmd: [/bin/sh, -c, "echo hi"]
      entrypoint: [/init]
      user: 1000
      workingdir: /home
      hostname: box
      labels:
        team: infra
    host:
      binds: ["/a:/b:ro"]
      readonlyrootfs: true
      resources:
        memory: 1073741824
      networkmode: none
      init: false
    network:
      endpointsconfig:
        mynet: {}
    platform:
      os: linux
    containerName: fixed
    subsystems:
      sftp: /usr/libexec/sftp-server
      other: /bin/other
    disableCommand: true
    disableShell: false
    disableSubsystem: true
    shellCommand: [/bin/bash, -l]
    idleCommand: [/bin/sleep, infinity]
    imagePullPolicy: Never
    timeouts:
      containerStart: 1m
      containerStop: 2m
      commandStart: 3s
      signal: 4s
      window: 500ms
      http: 90s
log:
  level: debug
  format: ljson
)");
  CHECK(c.ssh.listen == "127.0.0.1:2022");
  CHECK(c.ssh.hostkeys == std::vector<std::string>{"/etc/containerssh/host.key", "/etc/containerssh/host2.key"});
  CHECK(c.ssh.server_version == "SSH-2.0-Test");
  CHECK(c.auth.password.method == "webhook");
  CHECK(c.auth.password.webhook.url == "http://127.0.0.1:8080");
  CHECK(c.auth.password.webhook.timeout == milliseconds(5000));
  CHECK(c.auth.password.webhook.cacert == "/ca.pem");
  CHECK(c.auth.password.webhook.cert == "/c.pem");
  CHECK(c.auth.password.webhook.key == "/k.pem");
  CHECK(c.auth.auth_timeout == milliseconds(30000));
  CHECK(c.docker.connection.host == "tcp://127.0.0.1:2375");
  CHECK(c.docker.connection.cert == "/dc.pem");
  CHECK(c.docker.connection.key == "/dk.pem");
  CHECK(c.docker.connection.cacert == "/dca.pem");

  const auto& e = c.docker.execution;
  CHECK(e.mode == execution_mode::session);
  CHECK(e.container.image == "alpine:3.19");
  CHECK(e.container.env == std::vector<std::string>{"A=1", "B=2"});
  CHECK(e.container.cmd == std::vector<std::string>{"/bin/sh", "-c", "echo hi"});
  CHECK(e.container.entrypoint == std::vector<std::string>{"/init"});
  CHECK(e.container.user == "1000");
  CHECK(e.container.workingdir == "/home");
  CHECK(e.container.hostname == "box");
  CHECK(e.container.labels == std::map<std::string, std::string>{{"team", "infra"}});
  // In the Engine's names, Resources inlined (tests/unit/config/engine_schema_test.cpp has every key).
  CHECK(e.host == nlohmann::json{{"Binds", {"/a:/b:ro"}},
                                 {"ReadonlyRootfs", true},
                                 {"Memory", 1073741824},
                                 {"NetworkMode", "none"},
                                 {"Init", false}});
  CHECK(e.network == nlohmann::json{{"EndpointsConfig", {{"mynet", nlohmann::json::object()}}}});
  CHECK(e.platform == nlohmann::json{{"os", "linux"}});
  CHECK(e.container_name == "fixed");
  CHECK(e.subsystems ==
        std::map<std::string, std::string>{{"sftp", "/usr/libexec/sftp-server"}, {"other", "/bin/other"}});
  CHECK(e.disable_command);
  CHECK_FALSE(e.disable_shell);
  CHECK(e.disable_subsystem);
  CHECK(e.shell_command == std::vector<std::string>{"/bin/bash", "-l"});
  CHECK(e.idle_command == std::vector<std::string>{"/bin/sleep", "infinity"});
  CHECK(e.pull_policy == image_pull_policy::never);
  CHECK(e.timeouts.container_start == milliseconds(60000));
  CHECK(e.timeouts.container_stop == milliseconds(120000));
  CHECK(e.timeouts.command_start == milliseconds(3000));
  CHECK(e.timeouts.signal == milliseconds(4000));
  CHECK(e.timeouts.window == milliseconds(500));
  CHECK(e.timeouts.http == milliseconds(90000));
  CHECK(c.log.level == cssh::log::level::debug);
  CHECK(c.log.format == "ljson");
}

TEST_CASE("keys match case-insensitively") {
  app_config c = load_ok(R"(
DOCKER:
  Execution:
    containername: lower
    ImagePullPolicy: always
    MODE: Session
    container:
      Image: busybox
      WorkingDir: /w
)");
  CHECK(c.docker.execution.container_name == "lower");
  CHECK(c.docker.execution.pull_policy == image_pull_policy::always);
  CHECK(c.docker.execution.mode == execution_mode::session);
  CHECK(c.docker.execution.container.workingdir == "/w");
}

TEST_CASE("the same key twice in different case is an error") {
  std::string msg = load_bad(minimal_config + "    containerName: a\n    containername: b\n");
  CHECK(contains(msg, "docker.execution.containerName: given more than once (also as `containerName`)"));
}

TEST_CASE("single values where Docker accepts them") {
  app_config c = load_ok(R"(
docker:
  execution:
    container:
      image: busybox
      cmd: /bin/true
      entrypoint: /init
      user: "root"
)");
  CHECK(c.docker.execution.container.cmd == std::vector<std::string>{"/bin/true"});
  CHECK(c.docker.execution.container.entrypoint == std::vector<std::string>{"/init"});
  CHECK(c.docker.execution.container.user == "root");
}

TEST_CASE("timeouts: ContainerSSH's docker.timeouts, integers as nanoseconds") {
  app_config c = load_ok(minimal_config + R"(
  timeouts:
    containerStart: 120000000000
    http: "5000000000"
)");
  CHECK(c.docker.execution.timeouts.container_start == milliseconds(120000));
  CHECK(c.docker.execution.timeouts.http == milliseconds(5000));
  CHECK(c.docker.execution.timeouts.signal == milliseconds(60000));

  std::string msg = load_bad(minimal_config + R"(
    timeouts:
      http: 1s
  timeouts:
    http: 2s
)");
  CHECK(contains(msg, "docker.timeouts: also given as docker.execution.timeouts; keep one"));
}

TEST_CASE("known but unimplemented keys are accepted and listed") {
  app_config c = load_ok(R"(
audit:
  enable: true
geoip: {provider: dummy}
metrics: {enable: false}
health: {enable: false}
security: {}
kubernetes: {}
sshproxy: {}
listen: 0.0.0.0:2222
auth:
  keyboardInteractive: {method: oauth2}
  gssapi: {method: kerberos}
docker:
  execution:
    agentPath: /usr/bin/containerssh-agent
    disableAgent: true
    exposeAuthMetadataAsEnv: true
    auth: {username: u}
    container: {image: busybox}
)");
  std::vector<std::string> expected = {
      "audit", "geoip", "kubernetes", "sshproxy", "listen",
      "auth.keyboardInteractive", "auth.gssapi",
      "docker.execution.agentPath", "docker.execution.disableAgent", "docker.execution.exposeAuthMetadataAsEnv"};
  CHECK(c.ignored_keys == expected);
}

TEST_CASE("ssh: algorithms, keepalives and pre-auth limits land in the config") {
  app_config c = load_ok(minimal_config + R"(ssh:
  ciphers: [aes128-ctr, aes256-gcm@openssh.com]
  kex: [curve25519-sha256]
  macs: [hmac-sha2-256]
  hostKeyAlgorithms: [ssh-ed25519]
  banner: "Welcome\n"
  clientAliveInterval: 10s
  clientAliveCountMax: 4
  loginGraceTime: 30s
  maxAuthTries: 3
  maxStartups: 50
  maxStartupsPerSource: 5
)");
  CHECK(c.ssh.ciphers == std::vector<std::string>{"aes128-ctr", "aes256-gcm@openssh.com"});
  CHECK(c.ssh.kex == std::vector<std::string>{"curve25519-sha256"});
  CHECK(c.ssh.macs == std::vector<std::string>{"hmac-sha2-256"});
  CHECK(c.ssh.host_key_algorithms == std::vector<std::string>{"ssh-ed25519"});
  CHECK(c.ssh.banner == "Welcome\n");
  CHECK(c.ssh.client_alive_interval == std::chrono::seconds(10));
  CHECK(c.ssh.client_alive_count_max == 4);
  CHECK(c.ssh.login_grace_time == std::chrono::seconds(30));
  CHECK(c.ssh.max_auth_tries == 3);
  CHECK(c.ssh.max_startups == 50);
  CHECK(c.ssh.max_startups_per_source == 5);
  CHECK(c.ignored_keys.empty());
}

TEST_CASE("ssh: an unknown algorithm or a bad limit names the key and the value") {
  std::string msg = load_bad(minimal_config + "ssh:\n  ciphers: [aes128-ctr, rot13]\n  maxAuthTries: 0\n  macs: []\n");
  CHECK(contains(msg, "ssh.ciphers[1]: unknown algorithm \"rot13\""));
  CHECK(contains(msg, "ssh.maxAuthTries: expected an integer between 1 and 100, got \"0\""));
  CHECK(contains(msg, "ssh.macs: must list at least one algorithm"));
}

TEST_CASE("auth.publicKey with a webhook is read like auth.password") {
  app_config c = load_ok(minimal_config + "auth:\n  publicKey:\n    method: webhook\n    webhook: {url: http://127.0.0.1:9/keys, timeout: 3s}\n");
  CHECK(c.auth.public_key.method == "webhook");
  CHECK(c.auth.public_key.webhook.url == "http://127.0.0.1:9/keys");
  CHECK(c.auth.public_key.webhook.timeout == std::chrono::seconds(3));
  CHECK(contains(load_bad(minimal_config + "auth:\n  publicKey: {method: webhook}\n"),
                 "auth.publicKey.webhook.url: required when the method is webhook"));
}

TEST_CASE("unknown keys name their full path and suggest a near key") {
  std::string msg = load_bad(minimal_config + "    containerNmae: x\n    disableShel: true\n    frobnicate: 1\n");
  CHECK(contains(msg, "docker.execution.containerNmae: unknown key (did you mean `containerName`?)"));
  CHECK(contains(msg, "docker.execution.disableShel: unknown key (did you mean `disableShell`?)"));
  CHECK(contains(msg, "docker.execution.frobnicate: unknown key (line "));
  CHECK_FALSE(contains(msg, "frobnicate: unknown key (did you mean"));

  CHECK(contains(load_bad(minimal_config + "sh:\n  listen: 0.0.0.0:22\n"), "sh: unknown key (did you mean `ssh`?)"));
}

TEST_CASE("container keys the server sets are warned about, unknown ones are errors") {
  std::string msg = load_bad(R"(
docker:
  execution:
    container:
      image: busybox
      tty: true
      stopsignal: SIGTERM
      imagee: x
)");
  CHECK(contains(msg, "docker.execution.container.imagee: unknown key in ContainerConfig (did you mean `image`?)"));
  CHECK_FALSE(contains(msg, "tty"));
  CHECK_FALSE(contains(msg, "stopsignal"));

  app_config c = load_ok(minimal_config + "      tty: true\n      stopsignal: SIGINT\n");
  CHECK(c.warnings == std::vector<std::string>{
                          "docker.execution.container.tty: set by the server for each session; the configured "
                          "value is ignored"});
  CHECK(c.docker.execution.container.other == nlohmann::json{{"StopSignal", "SIGINT"}});
}

TEST_CASE("type errors name the path, the expected type and what was given") {
  std::string msg = load_bad(minimal_config + "    disableCommand: yes\n");
  CHECK(contains(msg, "docker.execution.disableCommand: expected a boolean, got \"yes\""));

  msg = load_bad(minimal_config + "    disableShell: \"true\"\n");
  CHECK(contains(msg, "docker.execution.disableShell: expected a boolean, got \"true\" (quoted, so a string)"));

  msg = load_bad(minimal_config + "    shellCommand: {a: b}\n");
  CHECK(contains(msg, "docker.execution.shellCommand: expected a list of strings, got a map"));

  msg = load_bad(minimal_config + "    idleCommand: [/bin/sh, [x]]\n");
  CHECK(contains(msg, "docker.execution.idleCommand[1]: expected a string, got a list"));

  msg = load_bad(minimal_config + "    host: [a]\n");
  CHECK(contains(msg, "docker.execution.host: expected a map (HostConfig), got a list"));

  msg = load_bad(minimal_config + "    platform: linux\n");
  CHECK(contains(msg, "docker.execution.platform: expected a map (Platform), got \"linux\""));

  msg = load_bad(minimal_config + "    mode: sometimes\n");
  CHECK(contains(msg, "docker.execution.mode: expected one of connection, session, got \"sometimes\""));

  msg = load_bad(minimal_config + "    imagePullPolicy: Sometimes\n");
  CHECK(contains(msg, "expected one of Always, IfNotPresent, Never"));

  msg = load_bad(minimal_config + "auth:\n  authTimeout: soon\n");
  CHECK(contains(msg, "auth.authTimeout: invalid duration \"soon\""));

  msg = load_bad(minimal_config + "ssh:\n  listen: nowhere\n");
  CHECK(contains(msg, "ssh.listen: expected \"address:port\""));

  msg = load_bad(minimal_config + "ssh:\n  serverVersion: OpenSSH\n");
  CHECK(contains(msg, "ssh.serverVersion: must start with \"SSH-2.0-\""));

  msg = load_bad(minimal_config + "log:\n  level: loud\n  format: xml\n");
  CHECK(contains(msg, "log.level: expected one of debug"));
  CHECK(contains(msg, "log.format: expected one of ljson, text, got \"xml\""));

  msg = load_bad(minimal_config + "backend: kubernetes\n");
  CHECK(contains(msg, "backend: \"kubernetes\" is not supported yet"));
  msg = load_bad(minimal_config + "backend: podman\n");
  CHECK(contains(msg, "backend: expected docker or dockerrun, got \"podman\""));
}

TEST_CASE("all errors are reported together, one per line") {
  std::string msg = load_bad(R"(
ssh:
  listn: x
docker:
  execution:
    disableCommand: nope
    container:
      env: A=1
log:
  level: 7x
)");
  CHECK(line_count(msg) == 5);
  CHECK(contains(msg, "ssh.listn: unknown key (did you mean `listen`?)"));
  CHECK(contains(msg, "docker.execution.disableCommand: expected a boolean, got \"nope\""));
  CHECK(contains(msg, "docker.execution.container.env: expected a list of strings, got \"A=1\""));
  CHECK(contains(msg, "log.level:"));
  CHECK(contains(msg, "docker.execution.container.image: required"));
}

TEST_CASE("an image is required") {
  CHECK(contains(load_bad(""), "docker.execution.container.image: required"));
  CHECK(contains(load_bad("log:\n  level: info\n"), "docker.execution.container.image: required"));
  CHECK(contains(load_bad("docker:\n  execution:\n    container:\n      image: \"\"\n"),
                 "docker.execution.container.image: required"));
}

TEST_CASE("commands that must exist may not be emptied") {
  std::string msg = load_bad(minimal_config + "    shellCommand: []\n    idleCommand: []\n");
  CHECK(contains(msg, "docker.execution.shellCommand: must not be empty unless disableShell is true"));
  CHECK(contains(msg, "docker.execution.idleCommand: must not be empty"));
  load_ok(minimal_config + "    shellCommand: []\n    disableShell: true\n");
  load_ok(minimal_config + "    idleCommand: []\n    mode: session\n");
}

TEST_CASE("YAML syntax errors give line and column") {
  std::string msg = load_bad("ssh:\n  listen: [unclosed\n");
  CHECK(contains(msg, "not valid YAML at line "));
  CHECK(contains(msg, ", column "));
  CHECK(contains(load_bad("- a list\n- at the top\n"), "configuration: expected a map, got a list"));
}

TEST_CASE("legacy dockerrun layout maps onto docker, one container per session") {
  app_config c = load_ok(R"(
backend: dockerrun
dockerrun:
  host: tcp://10.0.0.1:2376
  cacert: /ca.pem
  cert: /c.pem
  key: /k.pem
  config:
    container:
      image: containerssh/containerssh-guest-image
      cmd: [/bin/bash]
    host:
      autoremove: true
    containername: legacy
    subsystems:
      sftp: /sftp
    disableCommand: true
    shellCommand: [/bin/zsh]
    idleCommand: [/bin/sleep, "1000"]
    imagePullPolicy: Always
    timeout: 42s
)");
  CHECK(c.backend == "dockerrun");
  CHECK(c.docker.connection.host == "tcp://10.0.0.1:2376");
  CHECK(c.docker.connection.cacert == "/ca.pem");
  CHECK(c.docker.connection.cert == "/c.pem");
  CHECK(c.docker.connection.key == "/k.pem");
  const auto& e = c.docker.execution;
  CHECK(e.mode == execution_mode::session);
  CHECK(e.container.image == "containerssh/containerssh-guest-image");
  CHECK(e.container.cmd == std::vector<std::string>{"/bin/bash"});
  CHECK(e.host == nlohmann::json::object());  // autoremove: the server removes containers itself
  CHECK(c.warnings == std::vector<std::string>{"dockerrun.config.host.autoremove: ignored: the server removes "
                                               "each container itself when its session ends"});
  CHECK(e.container_name == "legacy");
  CHECK(e.subsystems.at("sftp") == "/sftp");
  CHECK(e.disable_command);
  CHECK(e.shell_command == std::vector<std::string>{"/bin/zsh"});
  CHECK(e.idle_command == std::vector<std::string>{"/bin/sleep", "1000"});
  CHECK(e.pull_policy == image_pull_policy::always);
  for (auto t : {e.timeouts.container_start, e.timeouts.container_stop, e.timeouts.command_start, e.timeouts.signal,
                 e.timeouts.window, e.timeouts.http})
    CHECK(t == milliseconds(42000));
}

TEST_CASE("legacy layout spelled docker: with config: inside") {
  app_config c = load_ok(R"(
backend: docker
docker:
  host: unix:///run/docker.sock
  config:
    container:
      image: busybox
    timeout: 10s
)");
  CHECK(c.docker.connection.host == "unix:///run/docker.sock");
  CHECK(c.docker.execution.mode == execution_mode::session);
  CHECK(c.docker.execution.container.image == "busybox");
  CHECK(c.docker.execution.timeouts.http == milliseconds(10000));

  CHECK(contains(load_bad("docker:\n  config:\n    timeout: 1s\n"), "docker.config.container.image: required"));
  CHECK(contains(load_bad("backend: dockerrun\ndockerrun:\n  host: unix:///x\n"),
                 "dockerrun.config.container.image: required"));
  CHECK(contains(load_bad("docker:\n  config:\n    container: {image: busybox}\n    mode: session\n"),
                 "docker.config.mode: unknown key"));
}

TEST_CASE("a docker block mixing both layouts is an error saying so") {
  std::string msg = load_bad(R"(
docker:
  execution:
    container:
      image: busybox
  config:
    container:
      image: busybox
)");
  CHECK(contains(msg, "docker: mixes the current layout"));
  CHECK(contains(msg, "legacy one"));
}

TEST_CASE("the backend picks its own block when both are present") {
  std::string both = R"(
docker:
  execution:
    container: {image: from-docker}
dockerrun:
  config:
    container: {image: from-dockerrun}
)";
  CHECK(load_ok(both).docker.execution.container.image == "from-docker");
  CHECK(load_ok(both + "backend: dockerrun\n").docker.execution.container.image == "from-dockerrun");
  // backend: dockerrun with settings kept under docker: still works.
  CHECK(load_ok(minimal_config + "backend: dockerrun\n").docker.execution.container.image == "busybox");
}

TEST_CASE("password webhook checks") {
  CHECK(contains(load_bad(minimal_config + "auth:\n  password:\n    method: webhook\n"),
                 "auth.password.webhook.url: required when the method is webhook"));
  CHECK(contains(load_bad(minimal_config + "auth:\n  password:\n    method: webhook\n    webhook:\n      url: ftp://x\n"),
                 "auth.password.webhook.url: must start with http:// or https://"));
  CHECK(contains(load_bad(minimal_config + "auth:\n  password:\n    method: ldap\n"),
                 "auth.password.method: expected webhook or file, got \"ldap\""));
  CHECK(contains(load_bad(minimal_config +
                          "auth:\n  password:\n    method: webhook\n    webhook:\n      url: http://x\n      cert: /c\n"),
                 "auth.password.webhook.key: required when cert is set"));
  app_config c = load_ok(minimal_config + "auth:\n  authTimeout: 10s\n  password:\n    webhook:\n      authTimeout: 20s\n");
  CHECK(c.auth.auth_timeout == milliseconds(20000));
  CHECK(c.auth.password.method.empty());
}

TEST_CASE("empty values keep defaults") {
  app_config c = load_ok(minimal_config + "ssh:\nlog:\n  level:\n");
  CHECK(c.ssh.listen == "0.0.0.0:2222");
  CHECK(c.log.level == cssh::log::level::notice);
}

TEST_CASE("load_from_file") {
  SUBCASE("a missing file names the path") {
    auto r = load_from_file("/nonexistent/containerssh.yaml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "CONFIG_READ_FAILED");
    CHECK(contains(r.error().message, "/nonexistent/containerssh.yaml"));
  }
  SUBCASE("a directory is not a file") {
    auto r = load_from_file("/tmp");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "CONFIG_READ_FAILED");
    CHECK(contains(r.error().message, "directory"));
  }
  SUBCASE("a readable file is parsed") {
    char name[] = "/tmp/cssh_loader_test_XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    close(fd);
    {
      std::ofstream out(name);
      out << minimal_config;
    }
    auto r = load_from_file(name);
    std::remove(name);
    REQUIRE(r.ok());
    CHECK(r->docker.execution.container.image == "busybox");
  }
}
