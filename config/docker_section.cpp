#include "config/docker_section.hpp"

#include <initializer_list>
#include <utility>
#include <vector>

#include "config/engine_reader.hpp"

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

/// Moves the keys the server uses itself out of the Engine JSON of `container:` into typed
/// fields; the rest stays, under the Engine's names, in `other`.
void split_container(nlohmann::json engine, container_config& c) {
  auto take_text = [&engine](const char* name, std::string& out) {
    if (auto it = engine.find(name); it != engine.end()) {
      out = it->get<std::string>();
      engine.erase(it);
    }
  };
  auto take_list = [&engine](const char* name, std::vector<std::string>& out) {
    if (auto it = engine.find(name); it != engine.end()) {
      out = it->get<std::vector<std::string>>();
      engine.erase(it);
    }
  };
  take_text("Image", c.image);
  take_list("Env", c.env);
  take_list("Cmd", c.cmd);
  take_list("Entrypoint", c.entrypoint);
  take_text("User", c.user);
  take_text("WorkingDir", c.workingdir);
  take_text("Hostname", c.hostname);
  if (auto it = engine.find("Labels"); it != engine.end()) {
    c.labels = it->get<std::map<std::string, std::string>>();
    engine.erase(it);
  }
  c.other = std::move(engine);
}

/// Checks that need more than one key: the mode, or several platform fields.
void check_engine_settings(R& r, docker_block& block) {
  const docker_execution_config& e = block.config.execution;
  const std::string host_path = R::join(block.execution_path, "host");
  if (auto rp = e.host.find("RestartPolicy"); rp != e.host.end() && e.mode == execution_mode::session) {
    std::string name = rp->value("Name", "");
    if (!name.empty() && name != "no")
      r.error(R::join(host_path, "restartpolicy.name"),
              "\"" + name + "\" is not allowed in session mode: a container lives only as long as its session "
              "(ContainerSSH refuses it too); remove it or use \"no\"");
  }
  if (auto userns = e.host.find("UsernsMode"); userns != e.host.end()) {
    std::string mode = userns->get<std::string>();
    if (!mode.empty() && mode != "host")
      block.warnings.push_back(
          R::join(host_path, "usernsmode") + ": \"" + mode +
          "\" is passed to the Engine as given, but the Docker Engine only implements \"host\" here: it creates "
          "no user namespace for other values; remap users with dockerd --userns-remap instead");
  }
  const nlohmann::json& p = e.platform;
  if ((p.contains("architecture") || p.contains("variant")) && p.value("os", "").empty())
    r.error(R::join(R::join(block.execution_path, "platform"), "os"),
            "required when architecture or variant is given (the Engine takes platform=os/architecture/variant)");
  if (p.contains("variant") && p.value("architecture", "").empty())
    r.error(R::join(R::join(block.execution_path, "platform"), "architecture"), "required when variant is given");
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

/// Keys both layouts share: what to launch and what sessions may do. The Engine structures are
/// read by `engine` (config/engine_reader.hpp); finish_launch() completes them.
std::vector<R::field> launch_fields(R& r, docker_execution_config& e, engine_reader& engine) {
  auto boolean = [&r](bool& out) {
    return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_bool(n, p, out); };
  };
  auto engine_map = [&engine](const engine_schema::structure& s, nlohmann::json& out) {
    return [&engine, &s, &out](const YAML::Node& n, const std::string& p) { engine.read(n, p, s, out); };
  };
  auto list = [&r](std::vector<std::string>& out) {
    return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_string_list(n, p, out); };
  };
  return {
      R::key("container", [&engine](const YAML::Node& n, const std::string& p) { engine.read_container(n, p); }),
      R::key("host", engine_map(engine_schema::host_config, e.host)),
      R::key("network", engine_map(engine_schema::networking_config, e.network)),
      R::key("platform", engine_map(engine_schema::platform, e.platform)),
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
      // Registry credentials, Docker's AuthConfig (sent to the Engine as X-Registry-Auth).
      R::key("auth",
             [&r, &e](const YAML::Node& n, const std::string& p) {
               auto text = [&r](std::string& out) {
                 return [&r, &out](const YAML::Node& tn, const std::string& tp) { r.read_string(tn, tp, out); };
               };
               registry_auth_config& a = e.auth;
               r.read_map(n, p, {
                   R::key("username", text(a.username)),
                   R::key("password", text(a.password)),
                   R::key("auth", text(a.auth)),
                   R::key("email", text(a.email)),
                   R::key("serveraddress", text(a.serveraddress)),
                   R::key("identitytoken", text(a.identitytoken)),
                   R::key("registrytoken", text(a.registrytoken)),
               });
             }),
  };
}

/// After the whole block is read: the container config gets its typed fields (and what `host`
/// placed there), and the checks that span keys run.
void finish_launch(R& r, docker_block& block, engine_reader& engine) {
  split_container(std::move(engine.container()), block.config.execution.container);
  check_engine_settings(r, block);
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
  engine_reader engine(r, block.warnings);

  auto string = [&r](std::string& out) {
    return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_string(n, p, out); };
  };
  r.read_map(node, path, {
      R::key("host", string(d.connection.host)),
      R::key("cert", string(d.connection.cert)),
      R::key("key", string(d.connection.key)),
      R::key("cacert", string(d.connection.cacert)),
      R::key("apiVersion", string(d.connection.api_version)),
      R::key("config",
             [&r, &d, &engine](const YAML::Node& n, const std::string& p) {
               std::vector<R::field> fields = launch_fields(r, d.execution, engine);
               fields.push_back(R::key("timeout", [&r, &d](const YAML::Node& tn, const std::string& tp) {
                 millis one{0};
                 if (!r.read_duration(tn, tp, one)) return;
                 d.execution.timeouts = {one, one, one, one, one, one};
               }));
               r.read_map(n, p, fields);
             }),
  });
  finish_launch(r, block, engine);
  return block;
}

docker_block read_current(R& r, const YAML::Node& node, const std::string& path) {
  docker_block block;
  block.present = true;
  block.execution_path = R::join(path, "execution");
  block.connection_path = R::join(path, "connection");
  docker_config& d = block.config;
  engine_reader engine(r, block.warnings);

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
                   R::key("apiVersion", string(d.connection.api_version)),
               });
             }),
      R::key("execution",
             [&](const YAML::Node& n, const std::string& p) {
               std::vector<R::field> fields = launch_fields(r, d.execution, engine);
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
  finish_launch(r, block, engine);
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
