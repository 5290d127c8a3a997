// The Engine mapping table (config/engine_schema.cpp) through the loader: every key of
// ContainerConfig, HostConfig (+Resources), NetworkingConfig and the platform lands under the
// name the Engine reads, with the type it expects; mistakes name their full path.
#include <doctest/doctest.h>

#include <cctype>
#include <set>
#include <string>

#include "config/engine_reader.hpp"
#include "config/engine_schema.hpp"
#include "config/loader.hpp"
#include "config_test_helpers.hpp"

using namespace cssh::config;
using config_test::contains;
using config_test::load_bad;
using config_test::load_ok;
using json = nlohmann::json;

namespace {

const std::string head = R"(
docker:
  execution:
    mode: session
    container:
      image: busybox
)";

/// `block` (already indented as a key of docker.execution) appended to a minimal file.
docker_execution_config exec_of(const std::string& block) { return load_ok(head + block).docker.execution; }

void check_table(const engine_schema::structure& s, std::set<const engine_schema::structure*>& seen) {
  if (!seen.insert(&s).second) return;
  std::set<std::string_view> keys;
  for (const auto& f : s.fields) {
    INFO(s.name, ".", f.key);
    CHECK(keys.insert(f.key).second);  // no key twice
    CHECK(!f.key.empty());
    CHECK(!f.engine.empty());
    for (char c : f.key) CHECK_FALSE(std::isupper(static_cast<unsigned char>(c)));  // lookups lower-case
    using k = engine_schema::value_kind;
    bool needs_nested = f.kind == k::object || f.kind == k::object_list || f.kind == k::object_map ||
                        f.kind == k::object_list_map;
    CHECK((f.nested != nullptr) == needs_nested);
    if (f.nested != nullptr) check_table(*f.nested, seen);
  }
}

}  // namespace

TEST_CASE("the tables are well formed") {
  std::set<const engine_schema::structure*> seen;
  for (const auto* s : {&engine_schema::container_config, &engine_schema::host_config,
                        &engine_schema::networking_config, &engine_schema::platform})
    check_table(*s, seen);
  CHECK(seen.size() > 20);
  CHECK(engine_schema::find_field(engine_schema::host_config, "ReadOnlyRootFS")->engine == "ReadonlyRootfs");
  CHECK(engine_schema::find_field(engine_schema::host_config, "memory") == nullptr);  // under resources
}

TEST_CASE("every ContainerConfig key lands under the Engine's name") {
  auto e = exec_of(R"(
      hostname: box
      domainname: example.org
      user: 1000
      exposedports: {"22/tcp": {}, "80/tcp": }
      env: [A=1]
      cmd: /bin/true
      healthcheck:
        test: [CMD, /bin/true]
        interval: 30s
        timeout: 1500ms
        startperiod: 1000000000
        startinterval: 2s
        retries: 3
      argsescaped: false
      volumes: [/data]
      workingdir: /w
      entrypoint: [/init, --]
      networkdisabled: true
      macaddress: "02:42:ac:11:00:02"
      onbuild: [RUN true]
      labels: {team: infra}
      stopsignal: SIGINT
      stoptimeout: 5
      shell: [/bin/sh, -c]
)");
  const auto& c = e.container;
  CHECK(c.image == "busybox");
  CHECK(c.hostname == "box");
  CHECK(c.user == "1000");  // a YAML integer, sent as the Engine's string
  CHECK(c.env == std::vector<std::string>{"A=1"});
  CHECK(c.cmd == std::vector<std::string>{"/bin/true"});
  CHECK(c.entrypoint == std::vector<std::string>{"/init", "--"});
  CHECK(c.workingdir == "/w");
  CHECK(c.labels == std::map<std::string, std::string>{{"team", "infra"}});
  CHECK(c.other == json{{"Domainname", "example.org"},
                        {"ExposedPorts", {{"22/tcp", json::object()}, {"80/tcp", json::object()}}},
                        {"Healthcheck",
                         {{"Test", {"CMD", "/bin/true"}},
                          {"Interval", 30'000'000'000LL},
                          {"Timeout", 1'500'000'000LL},
                          {"StartPeriod", 1'000'000'000LL},
                          {"StartInterval", 2'000'000'000LL},
                          {"Retries", 3}}},
                        {"ArgsEscaped", false},
                        {"Volumes", {{"/data", json::object()}}},
                        {"NetworkDisabled", true},
                        {"MacAddress", "02:42:ac:11:00:02"},
                        {"OnBuild", {"RUN true"}},
                        {"StopSignal", "SIGINT"},
                        {"StopTimeout", 5},
                        {"Shell", {"/bin/sh", "-c"}}});
}

TEST_CASE("every HostConfig key, Resources inlined, lands under the Engine's name") {
  auto e = exec_of(R"(
    host:
      binds: ["/a:/b:ro"]
      containeridfile: /run/cid
      logconfig: {type: json-file, config: {max-size: 10m}}
      networkmode: none
      portbindings: {"22/tcp": [{hostip: 127.0.0.1, hostport: 2222}]}
      restartpolicy: {name: "no", maximumretrycount: 0}
      volumedriver: local
      volumesfrom: [other:ro]
      annotations: {a: b}
      capadd: NET_ADMIN
      capdrop: [ALL]
      cgroupnsmode: private
      dns: [127.0.0.53]
      dnsoptions: [ndots:1]
      dnssearch: [example.org]
      extrahosts: ["db:127.0.0.2"]
      groupadd: ["100"]
      ipcmode: private
      cgroup: ""
      links: ["a:b"]
      oomscoreadj: 500
      pidmode: ""
      privileged: false
      publishallports: false
      readonlyrootfs: true
      securityopt: [no-new-privileges]
      storageopt: {size: 524288000}
      tmpfs: {/tmp: "rw,noexec,nosuid,size=65536k", /run: }
      utsmode: ""
      usernsmode: host
      shmsize: 67108864
      sysctls: {net.ipv4.ip_forward: 0}
      runtime: runc
      isolation: default
      maskedpaths: [/proc/kcore]
      readonlypaths: [/proc/sys]
      init: false
      resources:
        cpushares: 512
        memory: 26214400
        nanocpus: 500000000
        cgroupparent: /cssh
        blkioweight: 300
        blkioweightdevice: [{path: /dev/vda, weight: 200}]
        blkiodevicereadbps: [{path: /dev/vda, rate: 1048576}]
        blkiodevicewritebps: [{path: /dev/vda, rate: 2097152}]
        blkiodevicereadiops: [{path: /dev/vda, rate: 100}]
        blkiodevicewriteiops: [{path: /dev/vda, rate: 200}]
        cpuperiod: 10000
        cpuquota: 1000
        cpurealtimeperiod: 10000
        cpurealtimeruntime: 1000
        cpusetcpus: 1-3,5
        cpusetmems: "0"
        devices: [{pathonhost: /dev/fuse, pathincontainer: /dev/fuse, cgrouppermissions: rwm}]
        devicecgrouprules: ["c 10:229 rwm"]
        devicerequests: [{driver: nvidia, count: -1, deviceids: ["0"], capabilities: [[gpu]], options: {a: b}}]
        kernelmemory: 0
        kernelmemorytcp: 0
        memoryreservation: 20000000
        memoryswap: 26214400
        memoryswappiness: 90
        oomkilldisable: true
        pidslimit: 1000
        ulimits: [{name: nofile, soft: 1024, hard: 2048}]
        cpucount: 0
        cpupercent: 0
        iomaximumiops: 0
        iomaximumbandwidth: 0
      mounts:
        - {type: tmpfs, target: /scratch, tmpfsoptions: {sizebytes: 1048576, mode: 01777}}
)");
  CHECK(e.host == json{
                      {"Binds", {"/a:/b:ro"}},
                      {"ContainerIDFile", "/run/cid"},
                      {"LogConfig", {{"Type", "json-file"}, {"Config", {{"max-size", "10m"}}}}},
                      {"NetworkMode", "none"},
                      {"PortBindings", {{"22/tcp", {{{"HostIp", "127.0.0.1"}, {"HostPort", "2222"}}}}}},
                      {"RestartPolicy", {{"Name", "no"}, {"MaximumRetryCount", 0}}},
                      {"VolumeDriver", "local"},
                      {"VolumesFrom", {"other:ro"}},
                      {"Annotations", {{"a", "b"}}},
                      {"CapAdd", {"NET_ADMIN"}},
                      {"CapDrop", {"ALL"}},
                      {"CgroupnsMode", "private"},
                      {"Dns", {"127.0.0.53"}},
                      {"DnsOptions", {"ndots:1"}},
                      {"DnsSearch", {"example.org"}},
                      {"ExtraHosts", {"db:127.0.0.2"}},
                      {"GroupAdd", {"100"}},
                      {"IpcMode", "private"},
                      {"Cgroup", ""},
                      {"Links", {"a:b"}},
                      {"OomScoreAdj", 500},
                      {"PidMode", ""},
                      {"Privileged", false},
                      {"PublishAllPorts", false},
                      {"ReadonlyRootfs", true},
                      {"SecurityOpt", {"no-new-privileges"}},
                      {"StorageOpt", {{"size", "524288000"}}},  // map[string]string: text
                      {"Tmpfs", {{"/tmp", "rw,noexec,nosuid,size=65536k"}, {"/run", ""}}},
                      {"UTSMode", ""},
                      {"UsernsMode", "host"},
                      {"ShmSize", 67108864},
                      {"Sysctls", {{"net.ipv4.ip_forward", "0"}}},
                      {"Runtime", "runc"},
                      {"Isolation", "default"},
                      {"MaskedPaths", {"/proc/kcore"}},
                      {"ReadonlyPaths", {"/proc/sys"}},
                      {"Init", false},
                      {"CpuShares", 512},
                      {"Memory", 26214400},
                      {"NanoCpus", 500000000},
                      {"CgroupParent", "/cssh"},
                      {"BlkioWeight", 300},
                      {"BlkioWeightDevice", {{{"Path", "/dev/vda"}, {"Weight", 200}}}},
                      {"BlkioDeviceReadBps", {{{"Path", "/dev/vda"}, {"Rate", 1048576}}}},
                      {"BlkioDeviceWriteBps", {{{"Path", "/dev/vda"}, {"Rate", 2097152}}}},
                      {"BlkioDeviceReadIOps", {{{"Path", "/dev/vda"}, {"Rate", 100}}}},
                      {"BlkioDeviceWriteIOps", {{{"Path", "/dev/vda"}, {"Rate", 200}}}},
                      {"CpuPeriod", 10000},
                      {"CpuQuota", 1000},
                      {"CpuRealtimePeriod", 10000},
                      {"CpuRealtimeRuntime", 1000},
                      {"CpusetCpus", "1-3,5"},
                      {"CpusetMems", "0"},
                      {"Devices",
                       {{{"PathOnHost", "/dev/fuse"}, {"PathInContainer", "/dev/fuse"}, {"CgroupPermissions", "rwm"}}}},
                      {"DeviceCgroupRules", {"c 10:229 rwm"}},
                      {"DeviceRequests",
                       {{{"Driver", "nvidia"},
                         {"Count", -1},
                         {"DeviceIDs", {"0"}},
                         {"Capabilities", {{"gpu"}}},
                         {"Options", {{"a", "b"}}}}}},
                      {"KernelMemory", 0},
                      {"KernelMemoryTCP", 0},
                      {"MemoryReservation", 20000000},
                      {"MemorySwap", 26214400},
                      {"MemorySwappiness", 90},
                      {"OomKillDisable", true},
                      {"PidsLimit", 1000},
                      {"Ulimits", {{{"Name", "nofile"}, {"Soft", 1024}, {"Hard", 2048}}}},
                      {"CpuCount", 0},
                      {"CpuPercent", 0},
                      {"IOMaximumIOps", 0},
                      {"IOMaximumBandwidth", 0},
                      {"Mounts",
                       {{{"Type", "tmpfs"},
                         {"Target", "/scratch"},
                         {"TmpfsOptions", {{"SizeBytes", 1048576}, {"Mode", 01777}}}}}},
                  });
}

TEST_CASE("mounts: every option, labels as a map or as a list of key: value items") {
  auto e = exec_of(R"(
    host:
      mounts:
        - target: /data
          source: data-vol
          type: volume
          readonly: true
          consistency: default
          volumeoptions:
            nocopy: true
            labels:
              - owner: alice
              - tier: gold
            subpath: sub
            driverconfig:
              name: local
              options:
                type: tmpfs
        - target: /src
          source: /srv/src
          type: bind
          bindoptions:
            propagation: rprivate
            nonrecursive: true
            createmountpoint: true
            readonlynonrecursive: false
            readonlyforcerecursive: false
        - target: /img
          source: busybox
          type: image
          imageoptions: {subpath: bin}
        - target: /tmpfs
          type: tmpfs
          tmpfsoptions:
            sizebytes: 8388608
            mode: 0755
            options: [[noexec], [uid, "1000"]]
        - target: /labels-as-map
          type: volume
          volumeoptions: {labels: {owner: alice, tier: gold}}
)");
  const json& m = e.host["Mounts"];
  REQUIRE(m.size() == 5);
  CHECK(m[0] == json{{"Target", "/data"},
                     {"Source", "data-vol"},
                     {"Type", "volume"},
                     {"ReadOnly", true},
                     {"Consistency", "default"},
                     {"VolumeOptions",
                      {{"NoCopy", true},
                       {"Labels", {{"owner", "alice"}, {"tier", "gold"}}},
                       {"Subpath", "sub"},
                       {"DriverConfig", {{"Name", "local"}, {"Options", {{"type", "tmpfs"}}}}}}}});
  CHECK(m[1] == json{{"Target", "/src"},
                     {"Source", "/srv/src"},
                     {"Type", "bind"},
                     {"BindOptions",
                      {{"Propagation", "rprivate"},
                       {"NonRecursive", true},
                       {"CreateMountpoint", true},
                       {"ReadOnlyNonRecursive", false},
                       {"ReadOnlyForceRecursive", false}}}});
  CHECK(m[2]["ImageOptions"] == json{{"Subpath", "bin"}});
  // mode: 0755 is octal, as in Go's YAML decoder: the Engine gets 493.
  CHECK(m[3]["TmpfsOptions"] == json{{"SizeBytes", 8388608}, {"Mode", 493}, {"Options", {{"noexec"}, {"uid", "1000"}}}});
  CHECK(m[4]["VolumeOptions"]["Labels"] == m[0]["VolumeOptions"]["Labels"]);
}

TEST_CASE("network: endpointsconfig with every EndpointSettings key") {
  auto e = exec_of(R"(
    network:
      endpointsconfig:
        mynet:
          ipamconfig: {ipv4address: 10.0.0.5, ipv6address: "fd00::5", linklocalips: [169.254.0.5]}
          links: ["db:db"]
          aliases: [box]
          macaddress: "02:42:0a:00:00:05"
          driveropts: {k: v}
          gwpriority: 1
          networkid: abc
          endpointid: def
          gateway: 10.0.0.1
          ipaddress: 10.0.0.5
          ipprefixlen: 24
          ipv6gateway: "fd00::1"
          globalipv6address: "fd00::5"
          globalipv6prefixlen: 64
          dnsnames: [box.mynet]
)");
  CHECK(e.network ==
        json{{"EndpointsConfig",
              {{"mynet",
                {{"IPAMConfig", {{"IPv4Address", "10.0.0.5"}, {"IPv6Address", "fd00::5"}, {"LinkLocalIPs", {"169.254.0.5"}}}},
                 {"Links", {"db:db"}},
                 {"Aliases", {"box"}},
                 {"MacAddress", "02:42:0a:00:00:05"},
                 {"DriverOpts", {{"k", "v"}}},
                 {"GwPriority", 1},
                 {"NetworkID", "abc"},
                 {"EndpointID", "def"},
                 {"Gateway", "10.0.0.1"},
                 {"IPAddress", "10.0.0.5"},
                 {"IPPrefixLen", 24},
                 {"IPv6Gateway", "fd00::1"},
                 {"GlobalIPv6Address", "fd00::5"},
                 {"GlobalIPv6PrefixLen", 64},
                 {"DNSNames", {"box.mynet"}}}}}}});
}

TEST_CASE("platform: os, architecture, variant; osversion and osfeatures are warned about") {
  app_config c = load_ok(head + R"(
    platform:
      os: linux
      architecture: arm
      variant: v7
      osversion: "10.0"
      osfeatures: [win32k]
)");
  CHECK(c.docker.execution.platform == json{{"os", "linux"}, {"architecture", "arm"}, {"variant", "v7"}});
  REQUIRE(c.warnings.size() == 2);
  CHECK(contains(c.warnings[0], "docker.execution.platform.osversion: ignored: the Engine's create call takes only"));
  CHECK(contains(c.warnings[1], "docker.execution.platform.osfeatures: ignored"));

  CHECK(contains(load_bad(head + "    platform: {architecture: arm64}\n"),
                 "docker.execution.platform.os: required when architecture or variant is given"));
  CHECK(contains(load_bad(head + "    platform: {os: linux, variant: v8}\n"),
                 "docker.execution.platform.architecture: required when variant is given"));
}

TEST_CASE("host.networkDisabled, where the seed puts it, becomes the container's NetworkDisabled") {
  auto e = exec_of("    host:\n      networkDisabled: true\n");
  CHECK(e.container.other == json{{"NetworkDisabled", true}});
  CHECK(e.host == json::object());

  std::string msg = load_bad(head + "      networkdisabled: false\n    host:\n      networkDisabled: true\n");
  CHECK(contains(msg, "docker.execution.host.networkDisabled: sets the Engine's NetworkDisabled, which "
                      "`docker.execution.container.networkdisabled` sets already; keep one"));
}

TEST_CASE("the seed's cpurealtimequota is the Engine's CpuRealtimeRuntime") {
  auto e = exec_of("    host:\n      resources: {cpurealtimeperiod: 10000, cpurealtimequota: 1000}\n");
  CHECK(e.host == json{{"CpuRealtimePeriod", 10000}, {"CpuRealtimeRuntime", 1000}});
  CHECK(contains(load_bad(head + "    host:\n      resources: {cpurealtimequota: 1, cpurealtimeruntime: 2}\n"),
                 "docker.execution.host.resources.cpurealtimeruntime: sets the Engine's CpuRealtimeRuntime, which "
                 "`docker.execution.host.resources.cpurealtimequota` sets already"));
}

TEST_CASE("keys match case-insensitively, once") {
  auto e = exec_of("    host:\n      ReadOnlyRootFS: true\n      Resources: {Memory: 1, PIDSLIMIT: 2}\n");
  CHECK(e.host == json{{"ReadonlyRootfs", true}, {"Memory", 1}, {"PidsLimit", 2}});
  CHECK(contains(load_bad(head + "    host:\n      init: true\n      Init: false\n"),
                 "docker.execution.host.Init: given more than once (also as `init`)"));
}

TEST_CASE("unknown keys and wrong types name the full path") {
  std::string msg = load_bad(head + R"(
      imagee: x
    host:
      readonlyrootf: true
      memory: 1
      frobnicate: 1
      oomscoreadj: "500"
      privileged: yes
      binds: /a:/b
      tmpfs: [/tmp]
      resources:
        memory: 64m
        memoryswap: 1.5
        blkioweight: -1
        blkiodevicereadbps: [{path: /dev/vda, rat: 1}]
        ulimits: {name: nofile}
      mounts:
        - type: tmpfs
          tmpfsoptions: {sizebytes: 1k, mode: rwx}
        - volumeoptions: {labels: [a]}
    network:
      endpointsconfig: [x]
)");
  for (const char* expected : {
           "docker.execution.container.imagee: unknown key in ContainerConfig (did you mean `image`?)",
           "docker.execution.host.readonlyrootf: unknown key in HostConfig (did you mean `readonlyrootfs`?)",
           "docker.execution.host.memory: belongs under `resources`: write docker.execution.host.resources.memory",
           "docker.execution.host.frobnicate: unknown key in HostConfig (line ",
           "docker.execution.host.oomscoreadj: expected an integer, got \"500\" (quoted, so a string)",
           "docker.execution.host.privileged: expected true or false, got \"yes\"",
           "docker.execution.host.binds: expected a list of strings, got \"/a:/b\"",
           "docker.execution.host.tmpfs[0]: expected a `key: value` map, got \"/tmp\"",
           "docker.execution.host.resources.memory: expected an integer, got \"64m\"",
           "docker.execution.host.resources.memoryswap: expected an integer, got \"1.5\"",
           "docker.execution.host.resources.blkioweight: expected a non-negative integer, got \"-1\"",
           "docker.execution.host.resources.blkiodevicereadbps[0].rat: unknown key in ThrottleDevice (did you "
           "mean `rate`?)",
           "docker.execution.host.resources.ulimits: expected a list of Ulimit maps, got a map",
           "docker.execution.host.mounts[0].tmpfsoptions.sizebytes: expected an integer, got \"1k\"",
           "docker.execution.host.mounts[0].tmpfsoptions.mode: expected a non-negative integer, got \"rwx\"",
           "docker.execution.host.mounts[1].volumeoptions.labels[0]: expected a `key: value` map, got \"a\"",
           "docker.execution.network.endpointsconfig: expected a map of names to EndpointSettings, got a list",
       })
    CHECK(contains(msg, expected));
  CHECK_FALSE(contains(msg, "frobnicate: unknown key in HostConfig (did you mean"));
}

TEST_CASE("keys the server sets, or cannot honour, are accepted with a warning and not sent") {
  app_config c = load_ok(head + R"(
      tty: true
      openstdin: true
      attachstdin: true
    host:
      autoremove: true
      consolesize: ["24", "80"]
)");
  CHECK(c.docker.execution.container.other == json::object());
  CHECK(c.docker.execution.host == json::object());
  CHECK(c.warnings == std::vector<std::string>{
                          "docker.execution.container.tty: set by the server for each session; the configured value "
                          "is ignored",
                          "docker.execution.container.openstdin: set by the server for each session; the configured "
                          "value is ignored",
                          "docker.execution.container.attachstdin: set by the server for each session; the "
                          "configured value is ignored",
                          "docker.execution.host.autoremove: ignored: the server removes each container itself when "
                          "its session ends",
                          "docker.execution.host.consolesize: set by the server from the client's terminal; the "
                          "configured value is ignored",
                      });
  // Still type-checked; a zero value asks for nothing, so it is not warned about.
  CHECK(contains(load_bad(head + "      tty: maybe\n"), "docker.execution.container.tty: expected true or false"));
  CHECK(load_ok(head + "      tty: false\n      attachstdout: false\n    host: {autoremove: false}\n").warnings.empty());
}

TEST_CASE("restart policies: refused in session mode, as ContainerSSH does") {
  CHECK(contains(load_bad(head + "    host:\n      restartpolicy: {name: always}\n"),
                 "docker.execution.host.restartpolicy.name: \"always\" is not allowed in session mode"));
  CHECK(contains(load_bad("backend: dockerrun\ndockerrun:\n  config:\n    container: {image: busybox}\n"
                          "    host:\n      restartpolicy: {name: on-failure, maximumretrycount: 3}\n"),
                 "dockerrun.config.host.restartpolicy.name: \"on-failure\" is not allowed in session mode"));
  // "no" is what session mode does anyway; connection mode keeps its container for the connection.
  CHECK(exec_of("    host:\n      restartpolicy: {name: \"no\"}\n").host["RestartPolicy"]["Name"] == "no");
  auto c = load_ok("docker:\n  execution:\n    mode: connection\n    container: {image: busybox}\n"
                   "    host: {restartpolicy: {name: unless-stopped}}\n");
  CHECK(c.docker.execution.host["RestartPolicy"] == json{{"Name", "unless-stopped"}});
}

TEST_CASE("usernsmode other than host is passed as given, with a warning") {
  app_config c = load_ok(head + "    host:\n      usernsmode: \"1000:1000\"\n");
  CHECK(c.docker.execution.host == json{{"UsernsMode", "1000:1000"}});
  REQUIRE(c.warnings.size() == 1);
  CHECK(contains(c.warnings[0], "docker.execution.host.usernsmode: \"1000:1000\" is passed to the Engine as given"));
  CHECK(load_ok(head + "    host:\n      usernsmode: host\n").warnings.empty());
}

TEST_CASE("empty values leave the Engine's default; empty lists are sent") {
  auto e = exec_of("    host:\n      init:\n      securityopt: []\n      resources:\n");
  CHECK(e.host == json{{"SecurityOpt", json::array()}});
}

TEST_CASE("Go's integer literals") {
  using cssh::config::detail::parse_go_integer;
  auto parse = [](const char* text, bool non_negative = false) {
    json out;
    return parse_go_integer(text, non_negative, out) ? out : json("invalid");
  };
  CHECK(parse("0") == 0);
  CHECK(parse("42") == 42);
  CHECK(parse("-1") == -1);
  CHECK(parse("+7") == 7);
  CHECK(parse("0755") == 493);
  CHECK(parse("0o755") == 493);
  CHECK(parse("0x1F") == 31);
  CHECK(parse("0b101") == 5);
  CHECK(parse("1_000_000") == 1000000);
  CHECK(parse("9223372036854775807") == INT64_MAX);
  CHECK(parse("-9223372036854775808") == INT64_MIN);
  CHECK(parse("9223372036854775808") == "invalid");
  CHECK(parse("18446744073709551615", true) == UINT64_MAX);
  CHECK(parse("18446744073709551616", true) == "invalid");
  CHECK(parse("-1", true) == "invalid");
  for (const char* bad : {"", "-", "08", "0x", "1.5", "1e6", "64m", "abc", " 1"}) {
    INFO(bad);
    CHECK(parse(bad) == "invalid");
  }
}
