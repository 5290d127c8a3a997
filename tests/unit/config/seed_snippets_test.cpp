// Every YAML snippet of the seed document (the DockerRun backend reference,
// ../shared/seed/000_74f7f6e05ab20b30.txt) loads: each one on its own, and all of them assembled
// into complete configuration files in the legacy shapes (`dockerrun:` + `config:`, and
// `docker:` + `config:` as the seed's own examples write it) and in the current shape
// (`docker.connection` + `docker.execution`). Placeholders such as <UID>:<GID> are filled in
// with concrete values; everything else is as the seed writes it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/loader.hpp"

using namespace cssh::config;
using json = nlohmann::json;

namespace {

const std::string pem_block = R"(
    -----BEGIN CERTIFICATE-----
    <client certificate here>
    -----END CERTIFICATE-----)";

// The seed's snippets under `docker:` (connection keys) and `docker: config:` (execution keys).
const std::vector<std::string> connection_snippets = {
    "docker:\n  host: 127.0.0.1:2375\n",
    R"(docker:
  host: tcp://127.0.0.1:2376
  cert: |
    -----BEGIN CERTIFICATE-----
    <client certificate here>
    -----END CERTIFICATE-----
  key: |
    -----BEGIN RSA PRIVATE KEY-----
    <client key here>
    -----END RSA PRIVATE KEY-----
  cacert: |
    -----BEGIN CERTIFICATE-----
    <CA certificate here>
    -----END CERTIFICATE-----
)",
};

const std::vector<std::string> execution_snippets = {
    R"(docker:
  config:
    container:
      image: containerssh/containerssh
    host:
      readonlyrootfs: false
    network:
      endpointsconfig: {}
    containerName: "cssh-fixed-name"
)",
    R"(docker:
  config:
    container:
      image: containerssh/containerssh
      env:
        - VAR=value
      # cmd is only respected in session mode, see below.
      cmd: 
        - /run/this/command
      user: ubuntu
)",
    R"(docker:
  config:
    host:
      binds:
        - "/path-on-the-host:/path-in-the-container:ro"
)",
    R"(docker:
  config:
    host:
      mounts:
        - target: /path/in/container
          source: /path/on/host
          type: bind
          readonly: true
          consistency: cached
          # For bind type only:
          bindoptions:
            propagation: rprivate
            #Disable recursive bind mount
            nonrecursive: true
        - target: /path/in/container2
          source: volume-name
          type: volume
          readonly: false
          consistency: default
          # For volume type only:
          volumeoptions: 
            # Disable copying files from the image to the volume
            nocopy: true 
            labels:
              - key: value
            driverconfig:
              name: drivername
              options:
                driveroption: drivervalue
        - target: /path/in/container3
          type: tmpfs
          # For tmpfs type only:
          tmpfsoptions:
            sizebytes: 1048576
            mode: 0755
)",
    R"(docker:
  config:
    host:
      tmpfs:
        /container/directory: rw,size=1m
)",
    R"(docker:
  config:
    container:
      user: 1000
)",
    R"(docker:
  config:
    host:
      usernsmode: 1000:1000
)",
    R"(docker:
  config:
    host:
      storageopt:
        size: 524288000
)",
    R"(docker:
  config:
    host:
      tmpfs:
        /tmp: rw,noexec,nosuid,size=65536k
        /run: rw,noexec,nosuid,size=65536k
)",
    R"(docker:
  config:
    host:
      readonlyrootfs: true
)",
    R"(docker:
  config:
    host:
      resources:
        memory: 26214400
        # Soft limit
        memoryreservation: 20000000
)",
    R"(docker:
  config:
    host:
      resources:
        memoryswap: 26214400
        # Tune how likely the container is to be swapped out
        memoryswappiness: 90
)",
    R"(docker:
  config:
    host:
      # Tune how likely the OOM killer is to kill this container
      oomscoreadj: 500
      resources:
          # Disable OOM killer for this container
          oomkilldisable: true
)",
    R"(docker:
  config:
    host:
      resources:
        # Limit which cores the container should run on
        cpusetcpus: 1-3,5
        # Limit which Memory nodes the container should run on (For NUMA systems)
        cpusetmems: 1-3,5
        # CPU scheduling period in microseconds
        cpuperiod: 10000
        # CPU quota to allocate tho the container
        cpuquota: 1000
        # As above, but for realtime tasks (guaranteed CPU time)
        cpurealtimeperiod: 10000
        cpurealtimequota: 1000
)",
    R"(docker:
  config:
    host:
      resources:
        pidslimit: 1000
)",
    R"(docker:
  config:
    host:
      networkDisabled: true
)",
    R"(docker:
  config:
    host:
      resources:
        # Set relative weight against other containers
        blkioweight: 500
        # Set relative weight against other containers
        blkioweightdevice:
          - path: /dev/vda
            weight: 300
        # Read BPS
        blkiodevicereadbps:
          - path: /dev/vda
            rate: 1048576
        # Write BPS
        blkiodevicewritebps:
          - path: /dev/vda
            rate: 2097152
        # Read IOps
        blkiodevicereadiops:
          - path: /dev/vda
            rate: 100
        # Write IOps
        blkiodevicewriteiops:
          - path: /dev/vda
            rate: 200
)",
    // "Other options": subsystems, disableCommand, timeout.
    R"(docker:
  config:
    subsystems:
      sftp: /usr/lib/openssh/sftp-server
    disableCommand: false
    timeout: 60s
)",
};

/// Merges the execution snippets' maps into one `config:` body: the seed repeats `host:` and
/// `resources:` per topic, a YAML file may not.
std::string merged_execution_body() {
  // Written out once, key by key, from the snippets above (which are each loaded on their own).
  return R"(    container:
      image: containerssh/containerssh
      env:
        - VAR=value
      cmd:
        - /run/this/command
      user: 1000
    host:
      binds:
        - "/path-on-the-host:/path-in-the-container:ro"
      mounts:
        - target: /path/in/container
          source: /path/on/host
          type: bind
          readonly: true
          consistency: cached
          bindoptions:
            propagation: rprivate
            nonrecursive: true
        - target: /path/in/container2
          source: volume-name
          type: volume
          volumeoptions:
            nocopy: true
            labels:
              - key: value
            driverconfig:
              name: drivername
              options:
                driveroption: drivervalue
        - target: /path/in/container3
          type: tmpfs
          tmpfsoptions:
            sizebytes: 1048576
            mode: 0755
      usernsmode: 1000:1000
      storageopt:
        size: 524288000
      tmpfs:
        /tmp: rw,noexec,nosuid,size=65536k
        /run: rw,noexec,nosuid,size=65536k
      readonlyrootfs: true
      oomscoreadj: 500
      networkDisabled: true
      resources:
        memory: 26214400
        memoryreservation: 20000000
        memoryswap: 26214400
        memoryswappiness: 90
        oomkilldisable: true
        cpusetcpus: 1-3,5
        cpusetmems: 1-3,5
        cpuperiod: 10000
        cpuquota: 1000
        cpurealtimeperiod: 10000
        cpurealtimequota: 1000
        pidslimit: 1000
        blkioweight: 500
        blkioweightdevice:
          - path: /dev/vda
            weight: 300
        blkiodevicereadbps:
          - path: /dev/vda
            rate: 1048576
        blkiodevicewritebps:
          - path: /dev/vda
            rate: 2097152
        blkiodevicereadiops:
          - path: /dev/vda
            rate: 100
        blkiodevicewriteiops:
          - path: /dev/vda
            rate: 200
    network:
      endpointsconfig: {}
    containerName: "cssh-fixed-name"
    subsystems:
      sftp: /usr/lib/openssh/sftp-server
    disableCommand: false
)";
}

app_config load_ok(const std::string& yaml) {
  auto r = load_from_string(yaml);
  if (!r.ok()) FAIL_CHECK("unexpected failure: " << r.error().message << "\n--- in ---\n" << yaml);
  REQUIRE(r.ok());
  return *r;
}

/// What the assembled files must all produce.
void check_assembled(const app_config& c) {
  const auto& e = c.docker.execution;
  CHECK(e.mode == execution_mode::session);
  CHECK(e.container.image == "containerssh/containerssh");
  CHECK(e.container.env == std::vector<std::string>{"VAR=value"});
  CHECK(e.container.cmd == std::vector<std::string>{"/run/this/command"});
  CHECK(e.container.user == "1000");
  CHECK(e.container.other == json{{"NetworkDisabled", true}});
  CHECK(e.container_name == "cssh-fixed-name");
  CHECK(e.timeouts.container_start == std::chrono::milliseconds(60000));
  const json& h = e.host;
  CHECK(h["Binds"] == json{"/path-on-the-host:/path-in-the-container:ro"});
  CHECK(h["Mounts"][0]["BindOptions"] == json{{"Propagation", "rprivate"}, {"NonRecursive", true}});
  CHECK(h["Mounts"][1]["VolumeOptions"] ==
        json{{"NoCopy", true},
             {"Labels", {{"key", "value"}}},
             {"DriverConfig", {{"Name", "drivername"}, {"Options", {{"driveroption", "drivervalue"}}}}}});
  CHECK(h["Mounts"][2]["TmpfsOptions"] == json{{"SizeBytes", 1048576}, {"Mode", 0755}});
  CHECK(h["UsernsMode"] == "1000:1000");
  CHECK(h["StorageOpt"] == json{{"size", "524288000"}});
  CHECK(h["Tmpfs"] == json{{"/tmp", "rw,noexec,nosuid,size=65536k"}, {"/run", "rw,noexec,nosuid,size=65536k"}});
  CHECK(h["ReadonlyRootfs"] == true);
  CHECK(h["OomScoreAdj"] == 500);
  CHECK(h["Memory"] == 26214400);
  CHECK(h["MemoryReservation"] == 20000000);
  CHECK(h["MemorySwap"] == 26214400);
  CHECK(h["MemorySwappiness"] == 90);
  CHECK(h["OomKillDisable"] == true);
  CHECK(h["CpusetCpus"] == "1-3,5");
  CHECK(h["CpusetMems"] == "1-3,5");
  CHECK(h["CpuPeriod"] == 10000);
  CHECK(h["CpuQuota"] == 1000);
  CHECK(h["CpuRealtimePeriod"] == 10000);
  CHECK(h["CpuRealtimeRuntime"] == 1000);
  CHECK(h["PidsLimit"] == 1000);
  CHECK(h["BlkioWeight"] == 500);
  CHECK(h["BlkioWeightDevice"] == json::array({{{"Path", "/dev/vda"}, {"Weight", 300}}}));
  CHECK(h["BlkioDeviceReadBps"] == json::array({{{"Path", "/dev/vda"}, {"Rate", 1048576}}}));
  CHECK(h["BlkioDeviceWriteBps"] == json::array({{{"Path", "/dev/vda"}, {"Rate", 2097152}}}));
  CHECK(h["BlkioDeviceReadIOps"] == json::array({{{"Path", "/dev/vda"}, {"Rate", 100}}}));
  CHECK(h["BlkioDeviceWriteIOps"] == json::array({{{"Path", "/dev/vda"}, {"Rate", 200}}}));
  CHECK_FALSE(h.contains("networkDisabled"));
  CHECK(e.network == json{{"EndpointsConfig", json::object()}});
  CHECK(e.subsystems.at("sftp") == "/usr/lib/openssh/sftp-server");
  CHECK_FALSE(e.disable_command);
}

}  // namespace

TEST_CASE("each seed snippet loads on its own (an image added where the snippet has none)") {
  for (const std::string& snippet : connection_snippets) {
    INFO(snippet);
    app_config c = load_ok(snippet + "  config:\n    container:\n      image: busybox\n");
    CHECK(c.docker.execution.mode == execution_mode::session);
  }
  CHECK(load_ok(connection_snippets[0] + "  config:\n    container:\n      image: busybox\n").docker.connection.host ==
        "127.0.0.1:2375");
  CHECK(load_ok(connection_snippets[1] + "  config:\n    container:\n      image: busybox\n").docker.connection.cacert ==
        "-----BEGIN CERTIFICATE-----\n<CA certificate here>\n-----END CERTIFICATE-----\n");

  for (const std::string& snippet : execution_snippets) {
    INFO(snippet);
    bool has_container = snippet.find("    container:\n") != std::string::npos;
    std::string file = snippet;
    if (!has_container) file.insert(snippet.find("  config:\n") + 10, "    container:\n      image: busybox\n");
    else if (snippet.find("image:") == std::string::npos)
      file.insert(snippet.find("    container:\n") + 15, "      image: busybox\n");
    app_config c = load_ok(file);
    CHECK(c.docker.execution.mode == execution_mode::session);
  }
}

TEST_CASE("assembled: backend: dockerrun with dockerrun: + config:") {
  app_config c = load_ok("backend: dockerrun\ndockerrun:\n  host: tcp://127.0.0.1:2376\n  cert: |" + pem_block +
                         "\n  key: |" + pem_block + "\n  cacert: |" + pem_block + "\n  config:\n" +
                         merged_execution_body() + "    timeout: 60s\n");
  CHECK(c.backend == "dockerrun");
  CHECK(c.docker.connection.host == "tcp://127.0.0.1:2376");
  CHECK(c.docker.connection.cert.starts_with("-----BEGIN CERTIFICATE-----\n"));
  check_assembled(c);
  // The usernsmode value the seed suggests is passed on, with a warning saying what the Engine does.
  REQUIRE(c.warnings.size() == 1);
  CHECK(c.warnings[0].starts_with("dockerrun.config.host.usernsmode:"));
}

TEST_CASE("assembled: backend: docker with the seed's docker: + config: shape") {
  app_config c = load_ok("backend: docker\ndocker:\n  host: unix:///var/run/docker.sock\n  config:\n" +
                         merged_execution_body() + "    timeout: 1m0s\n");
  CHECK(c.backend == "docker");
  CHECK(c.docker.connection.host == "unix:///var/run/docker.sock");
  check_assembled(c);
}

TEST_CASE("assembled: the same options in the current docker.connection / docker.execution shape") {
  app_config c = load_ok("docker:\n  connection:\n    host: unix:///var/run/docker.sock\n  execution:\n"
                         "    mode: session\n" +
                         merged_execution_body() + "  timeouts:\n    containerStart: 60000000000\n");
  check_assembled(c);
  REQUIRE(c.warnings.size() == 1);
  CHECK(c.warnings[0].starts_with("docker.execution.host.usernsmode:"));
}

TEST_CASE("a block mixing both shapes is refused with a message saying so") {
  auto r = load_from_string("docker:\n  connection:\n    host: unix:///x\n  config:\n" + merged_execution_body());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("docker: mixes the current layout") != std::string::npos);
}

// ContainerSSH writes every key of the Engine structures when it dumps its configuration (its
// own test data, internal/config/_testdata/dockerrun.yaml and 0.4.yaml, have these blocks):
// zero values everywhere, `null` for pointers. Such files load, without warnings.
TEST_CASE("ContainerSSH's own configuration dumps load without warnings") {
  const std::string container_dump = R"(
      hostname: ""
      domainname: ""
      user: ""
      attachstdin: false
      attachstdout: false
      attachstderr: false
      exposedports: {}
      tty: false
      openstdin: false
      stdinonce: false
      env: []
      cmd: []
      healthcheck: null
      argsescaped: false
      image: containerssh/containerssh-guest-image
      volumes: {}
      workingdir: ""
      entrypoint: []
      networkdisabled: false
      macaddress: ""
      onbuild: []
      labels: {}
      stopsignal: ""
      stoptimeout: null
      shell: []
    host: null
    network: null
    platform: null
    containername: ""
)";
  app_config legacy = load_ok("dockerrun:\n  host: unix:///var/run/docker.sock\n  cacert: \"\"\n  cert: \"\"\n"
                              "  key: \"\"\n  config:\n    container:" +
                              container_dump + "    subsystems:\n      sftp: /usr/lib/openssh/sftp-server\n"
                                               "    timeout: 1m0s\n");
  CHECK(legacy.warnings.empty());
  CHECK(legacy.docker.execution.container.image == "containerssh/containerssh-guest-image");
  CHECK(legacy.docker.execution.mode == execution_mode::session);

  app_config current = load_ok("backend: docker\ndocker:\n  connection:\n    host: unix:///var/run/docker.sock\n"
                               "    cacert: \"\"\n    cert: \"\"\n    key: \"\"\n  execution:\n    container:" +
                               container_dump + R"(    mode: connection
    idleCommand:
      - /usr/bin/containerssh-agent
      - wait-signal
      - --signal
      - INT
      - --signal
      - TERM
    shellCommand:
      - /bin/bash
    agentPath: /usr/bin/containerssh-agent
    disableAgent: false
    subsystems:
      sftp: /usr/lib/openssh/sftp-server
    imagePullPolicy: IfNotPresent
  timeouts:
    containerStart: 1m0s
    containerStop: 1m0s
    commandStart: 1m0s
    signal: 1m0s
    window: 1m0s
    http: 15s
)");
  CHECK(current.warnings.empty());
  CHECK(current.docker.execution.mode == execution_mode::connection);
  // Zero values the configuration wrote are sent as written; the Engine reads them as its defaults.
  CHECK(current.docker.execution.container.other["StopSignal"] == "");
  CHECK(current.docker.execution.container.other["NetworkDisabled"] == false);
  CHECK(current.docker.execution.host == json::object());
}
