#include "docker/container_spec.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>
#include <utility>

#include "docker/guest_helper.hpp"

namespace cssh::docker {
namespace {

// ---- command_to_argv --------------------------------------------------------------------

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/// Characters that make an unquoted command mean more than an argument list (pipes,
/// redirects, globs, variables...). Splitting such a command would silently drop that
/// meaning, so it goes to /bin/sh instead.
bool is_shell_special(char c) {
  return std::string_view("|&;<>()$`*?[").find(c) != std::string_view::npos;
}

/// POSIX-style word splitting: whitespace separates, '...' is literal, "..." allows \" \\ \$ \`
/// and backslash-newline, a backslash outside quotes takes the next character literally.
/// Returns nothing for text a shell would not accept as-is (unclosed quote, trailing
/// backslash) or that needs a shell's expansion.
std::optional<std::vector<std::string>> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (is_blank(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    if (c == '\\') {
      if (i + 1 == text.size()) return std::nullopt;
      ++i;
      if (text[i] != '\n') {  // backslash-newline joins lines
        word += text[i];
        in_word = true;
      }
      continue;
    }
    if (c == '\'') {
      std::size_t close = text.find('\'', i + 1);
      if (close == std::string::npos) return std::nullopt;
      word.append(text, i + 1, close - i - 1);
      in_word = true;
      i = close;
      continue;
    }
    if (c == '"') {
      in_word = true;
      for (++i;; ++i) {
        if (i == text.size()) return std::nullopt;
        char d = text[i];
        if (d == '"') break;
        if (d == '$' || d == '`') return std::nullopt;  // expansion inside double quotes
        bool escapes = i + 1 < text.size() && std::string_view("\"\\$`\n").find(text[i + 1]) != std::string_view::npos;
        if (d == '\\' && escapes) {
          ++i;
          if (text[i] != '\n') word += text[i];
          continue;
        }
        word += d;
      }
      continue;
    }
    if (is_shell_special(c)) return std::nullopt;
    if (!in_word && (c == '#' || c == '~')) return std::nullopt;  // comment, home directory
    word += c;
    in_word = true;
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

bool runs_directly(const std::string& first_word) {
  return first_word.starts_with("/") || first_word.starts_with("./") || first_word.starts_with("../");
}

}  // namespace

nlohmann::json default_host_config() {
  return {
      // An init process as PID 1 forwards signals to the user's program and reaps zombies; a
      // program that is PID 1 itself ignores every signal it has no handler for.
      {"Init", true},
      // setuid binaries in the image cannot gain privileges.
      {"SecurityOpt", {"no-new-privileges"}},
      // A fork bomb stops at this many processes instead of exhausting the host's PIDs.
      {"PidsLimit", default_pids_limit},
  };
}

std::string platform_query(const config::docker_execution_config& exec) {
  const nlohmann::json& p = exec.platform;
  if (!p.is_object()) return {};
  std::string os = p.value("os", "");
  if (os.empty()) return {};
  std::string out = os;
  for (const char* part : {"architecture", "variant"}) {
    std::string value = p.value(part, "");
    if (value.empty()) break;
    out += "/" + value;
  }
  return out;
}

std::vector<std::string> command_to_argv(const std::string& command) {
  auto words = split_words(command);
  if (words && !words->empty() && runs_directly(words->front())) return std::move(*words);
  return {"/bin/sh", "-c", command};
}

nlohmann::json build_create_body(const config::docker_execution_config& exec, const session_request& req) {
  const config::container_config& c = exec.container;
  // Every configured ContainerConfig key the server does not handle itself (StopSignal,
  // NetworkDisabled, Healthcheck, ...), already under the Engine's names.
  nlohmann::json body = c.other.is_object() ? c.other : nlohmann::json::object();
  body["Image"] = c.image;

  nlohmann::json env = nlohmann::json::array();
  for (const auto& e : c.env) env.push_back(e);
  for (const auto& e : req.env) env.push_back(e);
  if (req.tty && !req.term.empty()) env.push_back("TERM=" + req.term);
  body["Env"] = std::move(env);

  // An empty Cmd would mean "no command" to the Engine; omitting it means "the image's".
  if (!req.command.empty())
    body["Cmd"] = req.command;
  else if (!c.cmd.empty())
    body["Cmd"] = c.cmd;
  if (!c.entrypoint.empty()) body["Entrypoint"] = c.entrypoint;
  if (!c.user.empty()) body["User"] = c.user;
  if (!c.workingdir.empty()) body["WorkingDir"] = c.workingdir;
  if (!c.hostname.empty()) body["Hostname"] = c.hostname;

  // Ours go last so configuration cannot hide a container from orphan reaping.
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [k, v] : c.labels) labels[k] = v;
  labels[label_managed] = "true";
  labels[label_connection_id] = req.connection_id;
  labels[label_username] = req.username;
  labels[label_ip] = req.remote_ip;
  labels[label_instance] = req.instance_id;
  body["Labels"] = std::move(labels);

  body["Tty"] = req.tty;
  // The session's stdin is the container's stdin for its whole life; closing it ends input.
  body["OpenStdin"] = true;
  body["StdinOnce"] = true;
  body["AttachStdin"] = true;
  body["AttachStdout"] = true;
  body["AttachStderr"] = true;

  // The configuration's HostConfig is in the Engine's names already (config/engine_schema.cpp);
  // the server's defaults fill only what it leaves out.
  nlohmann::json host = default_host_config();
  if (exec.host.is_object())
    for (const auto& [key, value] : exec.host.items()) host[key] = value;
  body["HostConfig"] = std::move(host);

  if (exec.network.is_object() && !exec.network.empty()) body["NetworkingConfig"] = exec.network;
  if (!req.helper_volume.empty()) {
    nlohmann::json& binds = body["HostConfig"]["Binds"];
    if (!binds.is_array()) binds = nlohmann::json::array();
    binds.push_back(helper_bind(req.helper_volume));
  }
  return body;
}

void wrap_with_helper(nlohmann::json& body, const nlohmann::json& image_config, unsigned rows, unsigned cols) {
  auto list = [](const nlohmann::json& j, const char* key) {
    std::vector<std::string> out;
    if (j.is_object() && j.contains(key) && j[key].is_array())
      for (const auto& item : j[key])
        if (item.is_string()) out.push_back(item.get<std::string>());
    return out;
  };
  // The Engine's own rule: a configured Entrypoint replaces the image's, and then the image's
  // Cmd no longer applies either.
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd = list(body, "Cmd");
  if (body.contains("Entrypoint")) {
    entrypoint = list(body, "Entrypoint");
  } else {
    entrypoint = list(image_config, "Entrypoint");
    if (!body.contains("Cmd")) cmd = list(image_config, "Cmd");
  }
  if (entrypoint.empty() && cmd.empty()) return;
  std::vector<std::string> wrapped = helper_run_prefix(rows, cols);
  wrapped.insert(wrapped.end(), entrypoint.begin(), entrypoint.end());
  body["Entrypoint"] = wrapped;
  body["Cmd"] = cmd;
}

nlohmann::json build_connection_container_body(const config::docker_execution_config& exec,
                                               const session_request& req) {
  session_request idle = req;
  idle.command = exec.idle_command;
  idle.tty = false;
  idle.term.clear();
  nlohmann::json body = build_create_body(exec, idle);
  // Nobody attaches to the idle process; sessions bring their own streams through exec.
  body["OpenStdin"] = false;
  body["StdinOnce"] = false;
  body["AttachStdin"] = false;
  body["AttachStdout"] = false;
  body["AttachStderr"] = false;
  return body;
}

nlohmann::json build_exec_body(const session_request& req, const std::string& marker) {
  nlohmann::json env = nlohmann::json::array();
  for (const auto& e : req.env) env.push_back(e);
  if (req.tty && !req.term.empty()) env.push_back("TERM=" + req.term);
  env.push_back(std::string(exec_marker_variable) + "=" + marker);
  std::vector<std::string> cmd = helper_run_prefix(req.tty ? req.rows : 0, req.tty ? req.cols : 0);
  cmd.insert(cmd.end(), req.command.begin(), req.command.end());
  return {
      {"AttachStdin", true}, {"AttachStdout", true}, {"AttachStderr", true},
      {"Tty", req.tty},      {"Env", std::move(env)}, {"Cmd", std::move(cmd)},
  };
}

nlohmann::json build_signal_exec_body(const std::string& marker, int number) {
  return {
      {"AttachStdin", false},
      {"AttachStdout", false},
      {"AttachStderr", false},
      {"Tty", false},
      {"Cmd", {helper_path, "signal", "--marker", marker, "--signal", std::to_string(number)}},
  };
}

nlohmann::json build_forward_exec_body() {
  return {
      {"AttachStdin", true}, {"AttachStdout", true}, {"AttachStderr", true},
      {"Tty", false},        {"Cmd", {helper_path, "forward"}},
  };
}

}  // namespace cssh::docker
