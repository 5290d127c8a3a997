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
  CHECK(b["HostConfig"] == json{{"Init", true}, {"SecurityOpt", {"no-new-privileges"}}, {"PidsLimit", 4096}});
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

TEST_CASE("create body: the configured HostConfig is sent, the defaults fill only what it leaves out") {
  auto e = base_exec();
  // config/ has mapped the YAML already (tests/unit/config/engine_schema_test.cpp).
  e.host = json{{"Binds", {"/a:/b:ro"}}, {"Memory", 536870912}, {"PidsLimit", 64}, {"Tmpfs", {{"/tmp", "rw"}}}};
  CHECK(build_create_body(e, base_req())["HostConfig"] == json{{"Init", true},
                                                              {"SecurityOpt", {"no-new-privileges"}},
                                                              {"PidsLimit", 64},
                                                              {"Binds", {"/a:/b:ro"}},
                                                              {"Memory", 536870912},
                                                              {"Tmpfs", {{"/tmp", "rw"}}}});

  SUBCASE("each default can be overridden, also to nothing") {
    e.host = json{{"Init", false}, {"SecurityOpt", json::array()}, {"PidsLimit", 0}};
    CHECK(build_create_body(e, base_req())["HostConfig"] == e.host);
  }
  SUBCASE("a configured SecurityOpt replaces the default list") {
    e.host = json{{"SecurityOpt", {"seccomp=unconfined"}}};
    CHECK(build_create_body(e, base_req())["HostConfig"]["SecurityOpt"] == json{"seccomp=unconfined"});
  }
}

TEST_CASE("create body: other container keys are sent; the session's own keys win") {
  auto e = base_exec();
  e.container.other = json{{"StopSignal", "SIGINT"},
                           {"NetworkDisabled", true},
                           {"Healthcheck", {{"Test", {"NONE"}}}},
                           {"ExposedPorts", {{"22/tcp", json::object()}}}};
  json b = build_create_body(e, base_req());
  CHECK(b["StopSignal"] == "SIGINT");
  CHECK(b["NetworkDisabled"] == true);
  CHECK(b["Healthcheck"] == json{{"Test", {"NONE"}}});
  CHECK(b["ExposedPorts"] == json{{"22/tcp", json::object()}});

  // config/ never puts these in `other`; even if something did, the session decides.
  e.container.other = json{{"Tty", true}, {"OpenStdin", false}, {"Labels", {{"containerssh_cpp", "no"}}}};
  b = build_create_body(e, base_req());
  CHECK(b["Tty"] == false);
  CHECK(b["OpenStdin"] == true);
  CHECK(b["Labels"]["containerssh_cpp"] == "true");
}

TEST_CASE("create body: NetworkingConfig is sent when given") {
  auto e = base_exec();
  e.network = json{{"EndpointsConfig", {{"mynet", {{"Aliases", {"box"}}}}}}};
  CHECK(build_create_body(e, base_req())["NetworkingConfig"] == e.network);
}

TEST_CASE("platform query: os[/architecture[/variant]]") {
  auto e = base_exec();
  CHECK(cssh::docker::platform_query(e) == "");
  e.platform = json{{"os", "linux"}};
  CHECK(cssh::docker::platform_query(e) == "linux");
  e.platform = json{{"os", "linux"}, {"architecture", "arm64"}};
  CHECK(cssh::docker::platform_query(e) == "linux/arm64");
  e.platform = json{{"os", "linux"}, {"architecture", "arm"}, {"variant", "v7"}};
  CHECK(cssh::docker::platform_query(e) == "linux/arm/v7");
}
