#include <doctest/doctest.h>

#include "docker/container_spec.hpp"

using cssh::docker::build_create_body;
using cssh::docker::command_to_argv;
using cssh::docker::session_request;
using json = nlohmann::json;
using argv = std::vector<std::string>;

TEST_CASE("commands that do not start with a path run through /bin/sh -c") {
  CHECK(command_to_argv("echo hello") == argv{"/bin/sh", "-c", "echo hello"});
  CHECK(command_to_argv("ls -l /tmp") == argv{"/bin/sh", "-c", "ls -l /tmp"});
  CHECK(command_to_argv("bin/x") == argv{"/bin/sh", "-c", "bin/x"});
  CHECK(command_to_argv("FOO=1 /bin/env") == argv{"/bin/sh", "-c", "FOO=1 /bin/env"});
  CHECK(command_to_argv("") == argv{"/bin/sh", "-c", ""});
  CHECK(command_to_argv("   ") == argv{"/bin/sh", "-c", "   "});
}

TEST_CASE("commands starting with /, ./ or ../ are split into argv") {
  CHECK(command_to_argv("/bin/echo hello world") == argv{"/bin/echo", "hello", "world"});
  CHECK(command_to_argv("./run.sh a") == argv{"./run.sh", "a"});
  CHECK(command_to_argv("../up/run") == argv{"../up/run"});
  CHECK(command_to_argv("  /bin/true\t\n") == argv{"/bin/true"});
  CHECK(command_to_argv("/usr/lib/openssh/sftp-server") == argv{"/usr/lib/openssh/sftp-server"});
}

TEST_CASE("shell-style quoting") {
  CHECK(command_to_argv("/bin/echo 'a b' \"c d\"") == argv{"/bin/echo", "a b", "c d"});
  CHECK(command_to_argv("/bin/echo 'it\"s' \"it's\"") == argv{"/bin/echo", "it\"s", "it's"});
  CHECK(command_to_argv(R"(/bin/echo "a \"q\" \\ \x")") == argv{"/bin/echo", R"(a "q" \ \x)"});
  CHECK(command_to_argv(R"(/bin/echo 'no \escape')") == argv{"/bin/echo", R"(no \escape)"});
  CHECK(command_to_argv(R"(/bin/echo a\ b \'c)") == argv{"/bin/echo", "a b", "'c"});
  CHECK(command_to_argv("/bin/echo x'y'\"z\"") == argv{"/bin/echo", "xyz"});
  CHECK(command_to_argv("/bin/echo '' \"\"") == argv{"/bin/echo", "", ""});
  CHECK(command_to_argv("'/bin/echo' hi") == argv{"/bin/echo", "hi"});
  CHECK(command_to_argv("/bin/echo a\\\nb") == argv{"/bin/echo", "ab"});
  // Quoted shell characters are just characters.
  CHECK(command_to_argv("/bin/sh -c 'echo a; echo b | cat'") == argv{"/bin/sh", "-c", "echo a; echo b | cat"});
  CHECK(command_to_argv(R"(/bin/echo \$HOME "\$x")") == argv{"/bin/echo", "$HOME", "$x"});
}

TEST_CASE("text a plain split would get wrong goes to the shell whole") {
  for (const char* cmd : {"/bin/echo 'unclosed", "/bin/echo \"unclosed", "/bin/echo trailing\\",
                          "/bin/ls | /bin/grep x", "/bin/true && /bin/false", "/bin/echo a; /bin/echo b",
                          "/bin/echo $HOME", "/bin/echo \"$HOME\"", "/bin/ls *.txt", "/bin/cat < /etc/passwd",
                          "/bin/echo `id`", "/bin/echo x # comment", "/bin/ls ~"}) {
    INFO(cmd);
    CHECK(command_to_argv(cmd) == argv{"/bin/sh", "-c", cmd});
  }
  // '#' and '~' only mean something at the start of a word.
  CHECK(command_to_argv("/bin/echo a#b c~d") == argv{"/bin/echo", "a#b", "c~d"});
}

namespace {

cssh::config::docker_execution_config base_exec() {
  cssh::config::docker_execution_config e;
  e.container.image = "busybox";
  return e;
}

session_request base_req() {
  session_request r;
  r.connection_id = "c0ffee";
  r.username = "alice";
  r.remote_ip = "192.0.2.1";
  r.instance_id = "inst-1";
  return r;
}

}  // namespace

TEST_CASE("create body: the minimum") {
  json b = build_create_body(base_exec(), base_req());
  CHECK(b["Image"] == "busybox");
  CHECK(b["Env"] == json::array());
  CHECK_FALSE(b.contains("Cmd"));
  CHECK_FALSE(b.contains("Entrypoint"));
  CHECK_FALSE(b.contains("User"));
  CHECK_FALSE(b.contains("WorkingDir"));
  CHECK_FALSE(b.contains("Hostname"));
  CHECK_FALSE(b.contains("NetworkingConfig"));
  CHECK(b["Tty"] == false);
  CHECK(b["OpenStdin"] == true);
  CHECK(b["StdinOnce"] == true);
  CHECK(b["AttachStdin"] == true);
  CHECK(b["AttachStdout"] == true);
  CHECK(b["AttachStderr"] == true);
  CHECK(b["HostConfig"] == json{{"Init", true}});
  CHECK(b["Labels"] == json{{"containerssh_cpp", "true"},
                            {"containerssh_connection_id", "c0ffee"},
                            {"containerssh_username", "alice"},
                            {"containerssh_ip", "192.0.2.1"},
                            {"containerssh_instance", "inst-1"}});
}

TEST_CASE("create body: container settings, env order and TERM") {
  auto e = base_exec();
  e.container.env = {"A=1", "B=2"};
  e.container.cmd = {"/bin/default"};
  e.container.entrypoint = {"/init", "--"};
  e.container.user = "1000";
  e.container.workingdir = "/home/u";
  e.container.hostname = "box";
  e.container.labels = {{"team", "infra"}, {"containerssh_username", "spoofed"}};
  auto r = base_req();
  r.env = {"LANG=C", "A=3"};
  r.tty = true;
  r.term = "xterm-256color";

  json b = build_create_body(e, r);
  CHECK(b["Env"] == json{"A=1", "B=2", "LANG=C", "A=3", "TERM=xterm-256color"});
  CHECK(b["Cmd"] == json{"/bin/default"});
  CHECK(b["Entrypoint"] == json{"/init", "--"});
  CHECK(b["User"] == "1000");
  CHECK(b["WorkingDir"] == "/home/u");
  CHECK(b["Hostname"] == "box");
  CHECK(b["Tty"] == true);
  CHECK(b["Labels"]["team"] == "infra");
  CHECK(b["Labels"]["containerssh_username"] == "alice");  // ours win

  SUBCASE("the session's command beats the configured one") {
    r.command = {"/bin/sh", "-c", "id"};
    CHECK(build_create_body(e, r)["Cmd"] == json{"/bin/sh", "-c", "id"});
  }
  SUBCASE("no TERM without a terminal or a name") {
    r.tty = false;
    CHECK(build_create_body(e, r)["Env"].size() == 4);
    r.tty = true;
    r.term.clear();
    CHECK(build_create_body(e, r)["Env"].size() == 4);
  }
}

TEST_CASE("create body: HostConfig keys get the Engine's names") {
  auto e = base_exec();
  e.host = json{{"binds", {"/a:/b"}},
                {"tmpfs", {{"/tmp", "rw"}}},
                {"ReadOnlyRootFS", true},
                {"networkmode", "none"},
                {"autoremove", true},
                {"resources", {{"memory", 536870912}, {"pidslimit", 64}, {"cpuperiod", 100000}, {"cpuquota", 50000},
                               {"memoryswap", -1}, {"memoryreservation", 1}, {"cpusetcpus", "0-1"}}},
                {"capdrop", {"ALL"}},
                {"somethingnew", {{"keep", "as is"}}}};
  json h = build_create_body(e, base_req())["HostConfig"];
  CHECK(h == json{{"Init", true},
                  {"Binds", {"/a:/b"}},
                  {"Tmpfs", {{"/tmp", "rw"}}},
                  {"ReadonlyRootfs", true},
                  {"NetworkMode", "none"},
                  {"AutoRemove", true},
                  {"Memory", 536870912},
                  {"PidsLimit", 64},
                  {"CpuPeriod", 100000},
                  {"CpuQuota", 50000},
                  {"MemorySwap", -1},
                  {"MemoryReservation", 1},
                  {"CpusetCpus", "0-1"},
                  {"CapDrop", {"ALL"}},
                  {"somethingnew", {{"keep", "as is"}}}});

  SUBCASE("configuration may turn Init off") {
    e.host = json{{"init", false}};
    CHECK(build_create_body(e, base_req())["HostConfig"] == json{{"Init", false}});
  }
}

TEST_CASE("create body: NetworkingConfig passes through when given") {
  auto e = base_exec();
  e.network = json{{"EndpointsConfig", {{"mynet", json::object()}}}};
  CHECK(build_create_body(e, base_req())["NetworkingConfig"] == e.network);
}
