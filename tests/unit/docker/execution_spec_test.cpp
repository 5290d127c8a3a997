// What the two execution modes send to the Engine: the helper's mount, the TTY wrapper of session
// mode, the connection container, and the execs of connection mode (docker/container_spec.hpp),
// and the embedded guest helper itself (docker/guest_helper.hpp).

#include <doctest/doctest.h>

#include "docker/container_spec.hpp"
#include "docker/guest_helper.hpp"

namespace docker = cssh::docker;
using json = nlohmann::json;
using argv = std::vector<std::string>;

namespace {

docker::session_request sample_request() {
  docker::session_request req;
  req.connection_id = "conn-1";
  req.username = "alice";
  req.remote_ip = "127.0.0.1";
  req.instance_id = "host/127.0.0.1:2222";
  req.command = {"/bin/sh", "-c", "echo hi"};
  req.env = {"USER=alice", "CLIENT=x"};
  return req;
}

cssh::config::docker_execution_config sample_exec() {
  cssh::config::docker_execution_config exec;
  exec.container.image = "img:1";
  return exec;
}

}  // namespace

TEST_CASE("the embedded helper is a static ELF program with a stable content digest") {
  auto bytes = docker::helper_binary();
  REQUIRE(bytes.size() > 1000);
  CHECK(bytes.substr(0, 4) == std::string_view("\x7f" "ELF", 4));
  CHECK(docker::helper_digest().size() == 16);
  CHECK(docker::helper_digest().find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(docker::helper_volume_name() == "containerssh-cpp-helper-" + docker::helper_digest());
  CHECK(docker::helper_image_reference() == "containerssh-cpp-helper:" + docker::helper_digest());
  CHECK(docker::helper_bind("v") == "v:/.containerssh:ro");
}

TEST_CASE("helper run prefix: --winsize only with a known size") {
  CHECK(docker::helper_run_prefix(24, 80) == argv{"/.containerssh/helper", "run", "--winsize", "24x80", "--"});
  CHECK(docker::helper_run_prefix(0, 80) == argv{"/.containerssh/helper", "run", "--"});
}

TEST_CASE("the helper volume is bound read-only next to the configured binds") {
  auto exec = sample_exec();
  exec.host = {{"Binds", {"/srv:/srv:ro"}}, {"ReadonlyRootfs", true}};
  auto req = sample_request();
  req.helper_volume = "containerssh-cpp-helper-abc";
  auto body = docker::build_create_body(exec, req);
  CHECK(body["HostConfig"]["Binds"] == json{"/srv:/srv:ro", "containerssh-cpp-helper-abc:/.containerssh:ro"});
  CHECK(body["HostConfig"]["ReadonlyRootfs"] == true);
  req.helper_volume.clear();
  CHECK_FALSE(docker::build_create_body(sample_exec(), req)["HostConfig"].contains("Binds"));
}

TEST_CASE("wrap_with_helper keeps the program the Engine would have run") {
  auto exec = sample_exec();
  auto req = sample_request();
  json image{{"Entrypoint", {"/entry.sh"}}, {"Cmd", {"/bin/bash"}}};

  SUBCASE("a requested command keeps the image's entrypoint before it") {
    auto body = docker::build_create_body(exec, req);
    docker::wrap_with_helper(body, image, 30, 100);
    CHECK(body["Entrypoint"] == json{"/.containerssh/helper", "run", "--winsize", "30x100", "--", "/entry.sh"});
    CHECK(body["Cmd"] == json{"/bin/sh", "-c", "echo hi"});
  }
  SUBCASE("no command: the image's entrypoint and cmd") {
    req.command.clear();
    auto body = docker::build_create_body(exec, req);
    docker::wrap_with_helper(body, image, 30, 100);
    CHECK(body["Entrypoint"] == json{"/.containerssh/helper", "run", "--winsize", "30x100", "--", "/entry.sh"});
    CHECK(body["Cmd"] == json{"/bin/bash"});
  }
  SUBCASE("a configured entrypoint replaces the image's, and the image's cmd with it") {
    req.command.clear();
    exec.container.entrypoint = {"/mine"};
    auto body = docker::build_create_body(exec, req);
    docker::wrap_with_helper(body, image, 30, 100);
    CHECK(body["Entrypoint"] == json{"/.containerssh/helper", "run", "--winsize", "30x100", "--", "/mine"});
    CHECK(body["Cmd"] == json::array());
  }
  SUBCASE("container.cmd is the program when the request has none") {
    req.command.clear();
    exec.container.cmd = {"/bin/zsh"};
    auto body = docker::build_create_body(exec, req);
    docker::wrap_with_helper(body, json::object(), 0, 0);
    CHECK(body["Entrypoint"] == json{"/.containerssh/helper", "run", "--"});
    CHECK(body["Cmd"] == json{"/bin/zsh"});
  }
  SUBCASE("nothing to run: left alone") {
    req.command.clear();
    auto body = docker::build_create_body(exec, req);
    docker::wrap_with_helper(body, json::object(), 30, 100);
    CHECK_FALSE(body.contains("Entrypoint"));
    CHECK_FALSE(body.contains("Cmd"));
  }
}

TEST_CASE("the connection container runs idleCommand with no streams and our labels") {
  auto exec = sample_exec();
  exec.idle_command = {"/.containerssh/helper", "idle"};
  exec.container.env = {"FROM_CONFIG=1"};
  auto req = sample_request();
  req.tty = true;
  req.helper_volume = "vol";
  auto body = docker::build_connection_container_body(exec, req);
  CHECK(body["Cmd"] == json{"/.containerssh/helper", "idle"});
  CHECK(body["Tty"] == false);
  CHECK(body["OpenStdin"] == false);
  CHECK(body["AttachStdin"] == false);
  CHECK(body["Env"] == json{"FROM_CONFIG=1", "USER=alice", "CLIENT=x"});
  CHECK(body["Labels"]["containerssh_instance"] == "host/127.0.0.1:2222");
  CHECK(body["Labels"]["containerssh_connection_id"] == "conn-1");
  CHECK(body["HostConfig"]["Binds"] == json{"vol:/.containerssh:ro"});
  CHECK(body["HostConfig"]["Init"] == true);
}

TEST_CASE("a session's exec runs through helper run with its marker, env and TERM") {
  auto req = sample_request();
  req.tty = true;
  req.term = "xterm";
  req.rows = 40;
  req.cols = 120;
  auto body = docker::build_exec_body(req, "m123");
  CHECK(body["Cmd"] ==
        json{"/.containerssh/helper", "run", "--winsize", "40x120", "--", "/bin/sh", "-c", "echo hi"});
  CHECK(body["Tty"] == true);
  CHECK(body["AttachStdin"] == true);
  CHECK(body["Env"] == json{"USER=alice", "CLIENT=x", "TERM=xterm", "CSSH_EXEC=m123"});
  req.tty = false;
  body = docker::build_exec_body(req, "m123");
  CHECK(body["Cmd"] == json{"/.containerssh/helper", "run", "--", "/bin/sh", "-c", "echo hi"});
  CHECK(body["Env"] == json{"USER=alice", "CLIENT=x", "CSSH_EXEC=m123"});
  auto signal = docker::build_signal_exec_body("m123", 15);
  CHECK(signal["Cmd"] == json{"/.containerssh/helper", "signal", "--marker", "m123", "--signal", "15"});
  CHECK(signal["AttachStdout"] == false);
}
