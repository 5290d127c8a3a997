#include "config/docker_section.hpp"

#include <initializer_list>
#include <vector>

namespace cssh::config::detail {
namespace {

using R = yaml_reader;

bool has_any_key(const YAML::Node& node, std::initializer_list<std::string_view> names) {
  if (!node.IsMap()) return false;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;
    if (!k.IsScalar()) continue;
    for (std::string_view name : names)
      if (R::equal_keys(name, k.Scalar())) return true;
  }
  return false;
}

void read_container(R& r, const YAML::Node& node, const std::string& path, container_config& c) {
  constexpr std::string_view per_session = "set by the server for each session, remove it";
  constexpr std::string_view not_yet = "not supported yet";
  r.read_map(node, path, {
      R::key("image", [&](const YAML::Node& n, const std::string& p) { r.read_string(n, p, c.image); }),
      R::key("env", [&](const YAML::Node& n, const std::string& p) { r.read_string_list(n, p, c.env); }),
      // Docker's strslice: `cmd: bash` means ["bash"].
      R::key("cmd", [&](const YAML::Node& n, const std::string& p) { r.read_string_list(n, p, c.cmd, true); }),
      R::key("entrypoint",
             [&](const YAML::Node& n, const std::string& p) { r.read_string_list(n, p, c.entrypoint, true); }),
      // `user: 1000` is a YAML integer; the Engine wants the text.
      R::key("user", [&](const YAML::Node& n, const std::string& p) { r.read_string(n, p, c.user); }),
      R::key("workingdir", [&](const YAML::Node& n, const std::string& p) { r.read_string(n, p, c.workingdir); }),
      R::key("hostname", [&](const YAML::Node& n, const std::string& p) { r.read_string(n, p, c.hostname); }),
      R::key("labels", [&](const YAML::Node& n, const std::string& p) { r.read_string_map(n, p, c.labels); }),
      // The rest of the Engine's container config: named so the message says why, not "unknown".
      R::rejected("tty", per_session),
      R::rejected("openstdin", per_session),
      R::rejected("stdinonce", per_session),
      R::rejected("attachstdin", per_session),
      R::rejected("attachstdout", per_session),
      R::rejected("attachstderr", per_session),
      R::rejected("domainname", not_yet),
      R::rejected("exposedports", not_yet),
      R::rejected("healthcheck", not_yet),
      R::rejected("argsescaped", not_yet),
      R::rejected("volumes", not_yet),
      R::rejected("networkdisabled", not_yet),
      R::rejected("macaddress", not_yet),
      R::rejected("onbuild", not_yet),
      R::rejected("stopsignal", not_yet),
      R::rejected("stoptimeout", not_yet),
      R::rejected("shell", not_yet),
  });
}

void read_timeouts(R& r, const YAML::Node& node, const std::string& path, docker_timeouts& t) {
  auto duration = [&r](millis& out) {
    return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_duration(n, p, out); };
  };
  r.read_map(node, path, {
      R::key("containerStart", duration(t.container_start)),
      R::key("containerStop", duration(t.container_stop)),
      R::key("commandStart", duration(t.command_start)),
      R::key("signal", duration(t.signal)),
      R::key("window", duration(t.window)),
      R::key("http", duration(t.http)),
  });
}

/// Keys both layouts share: what to launch and what sessions may do.
std::vector<R::field> launch_fields(R& r, docker_execution_config& e) {
  auto boolean = [&r](bool& out) {
    return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_bool(n, p, out); };
  };
  auto json_map = [&r](nlohmann::json& out) {
    return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_json_map(n, p, out); };
  };
  auto list = [&r](std::vector<std::string>& out) {
    return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_string_list(n, p, out); };
  };
  return {
      R::key("container", [&r, &e](const YAML::Node& n, const std::string& p) { read_container(r, n, p, e.container); }),
      R::key("host", json_map(e.host)),
      R::key("network", json_map(e.network)),
      R::key("platform", json_map(e.platform)),
      R::key("containerName",
             [&r, &e](const YAML::Node& n, const std::string& p) { r.read_string(n, p, e.container_name); }),
      R::key("subsystems",
             [&r, &e](const YAML::Node& n, const std::string& p) { r.read_string_map(n, p, e.subsystems); }),
      R::key("disableCommand", boolean(e.disable_command)),
      R::key("disableShell", boolean(e.disable_shell)),
      R::key("disableSubsystem", boolean(e.disable_subsystem)),
      R::key("shellCommand", list(e.shell_command)),
      R::key("idleCommand", list(e.idle_command)),
      R::key("imagePullPolicy",
             [&r, &e](const YAML::Node& n, const std::string& p) {
               r.read_choice<image_pull_policy>(n, p,
                                                {{"Always", image_pull_policy::always},
                                                 {"IfNotPresent", image_pull_policy::if_not_present},
                                                 {"Never", image_pull_policy::never}},
                                                e.pull_policy);
             }),
  };
}

/// Legacy layout: connection keys beside `config:`, which holds one `timeout` for everything.
/// Legacy containers always ran one per session.
docker_block read_legacy(R& r, const YAML::Node& node, const std::string& path) {
  docker_block block;
  block.present = true;
  block.execution_path = R::join(path, "config");
  block.connection_path = path;
  docker_config& d = block.config;
  d.execution.mode = execution_mode::session;

  auto string = [&r](std::string& out) {
    return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_string(n, p, out); };
  };
  r.read_map(node, path, {
      R::key("host", string(d.connection.host)),
      R::key("cert", string(d.connection.cert)),
      R::key("key", string(d.connection.key)),
      R::key("cacert", string(d.connection.cacert)),
      R::key("config",
             [&r, &d](const YAML::Node& n, const std::string& p) {
               std::vector<R::field> fields = launch_fields(r, d.execution);
               fields.push_back(R::key("timeout", [&r, &d](const YAML::Node& tn, const std::string& tp) {
                 millis one{0};
                 if (!r.read_duration(tn, tp, one)) return;
                 d.execution.timeouts = {one, one, one, one, one, one};
               }));
               r.read_map(n, p, fields);
             }),
  });
  return block;
}

docker_block read_current(R& r, const YAML::Node& node, const std::string& path) {
  docker_block block;
  block.present = true;
  block.execution_path = R::join(path, "execution");
  block.connection_path = R::join(path, "connection");
  docker_config& d = block.config;

  // ContainerSSH keeps timeouts at docker.timeouts; docker.execution.timeouts is accepted too.
  YAML::Node top_timeouts;
  std::string top_timeouts_path;
  bool timeouts_in_execution = false;

  auto string = [&r](std::string& out) {
    return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_string(n, p, out); };
  };
  r.read_map(node, path, {
      R::key("connection",
             [&](const YAML::Node& n, const std::string& p) {
               r.read_map(n, p, {
                   R::key("host", string(d.connection.host)),
                   R::key("cert", string(d.connection.cert)),
                   R::key("key", string(d.connection.key)),
                   R::key("cacert", string(d.connection.cacert)),
               });
             }),
      R::key("execution",
             [&](const YAML::Node& n, const std::string& p) {
               std::vector<R::field> fields = launch_fields(r, d.execution);
               fields.push_back(R::key("mode", [&](const YAML::Node& mn, const std::string& mp) {
                 r.read_choice<execution_mode>(
                     mn, mp, {{"connection", execution_mode::connection}, {"session", execution_mode::session}},
                     d.execution.mode);
               }));
               fields.push_back(R::key("timeouts", [&](const YAML::Node& tn, const std::string& tp) {
                 timeouts_in_execution = true;
                 read_timeouts(r, tn, tp, d.execution.timeouts);
               }));
               fields.push_back(R::ignored("agentPath"));
               fields.push_back(R::ignored("disableAgent"));
               fields.push_back(R::ignored("exposeAuthMetadataAsEnv"));
               fields.push_back(R::ignored("auth"));
               r.read_map(n, p, fields);
             }),
      R::key("timeouts",
             [&](const YAML::Node& n, const std::string& p) {
               top_timeouts = n;
               top_timeouts_path = p;
             }),
  });
  // Read after execution so the "given twice" check sees both, whatever order the file uses.
  if (!top_timeouts_path.empty()) {
    if (timeouts_in_execution)
      r.error(top_timeouts_path, "also given as " + R::join(block.execution_path, "timeouts") + "; keep one",
              &top_timeouts);
    else
      read_timeouts(r, top_timeouts, top_timeouts_path, d.execution.timeouts);
  }
  return block;
}

}  // namespace

docker_block read_docker_block(yaml_reader& r, const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined() || node.IsNull()) return {};
  if (!node.IsMap()) {
    r.error(path, "expected a map, got " + R::describe(node), &node);
    return {};
  }
  bool current = has_any_key(node, {"connection", "execution", "timeouts"});
  bool legacy = has_any_key(node, {"config", "host", "cert", "key", "cacert"});
  if (current && legacy) {
    r.error(path,
            "mixes the current layout (connection, execution, timeouts) with the legacy one "
            "(host, cert, key, cacert, config); use one of them",
            &node);
    return {};
  }
  return legacy ? read_legacy(r, node, path) : read_current(r, node, path);
}

docker_block read_dockerrun_block(yaml_reader& r, const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined() || node.IsNull()) return {};
  return read_legacy(r, node, path);
}

void validate_docker_block(yaml_reader& r, const docker_block& block) {
  const docker_execution_config& e = block.config.execution;
  const std::string& at = block.execution_path;
  if (e.container.image.empty()) r.error(R::join(at, "container.image"), "required");
  if (block.config.connection.host.empty())
    r.error(R::join(block.connection_path, "host"), "must not be empty");
  if (e.shell_command.empty() && !e.disable_shell)
    r.error(R::join(at, "shellCommand"), "must not be empty unless disableShell is true");
  if (e.mode == execution_mode::connection && e.idle_command.empty())
    r.error(R::join(at, "idleCommand"), "must not be empty in execution mode \"connection\"");
}

}  // namespace cssh::config::detail
