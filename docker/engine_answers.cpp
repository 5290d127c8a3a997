#include "docker/engine_answers.hpp"

#include <cctype>

namespace cssh::docker::answers {

namespace {
constexpr std::size_t max_error_text = 512;

/// Parses without exceptions: a malformed body becomes a discarded value the callers reject.
nlohmann::json parse(const std::string& body) { return nlohmann::json::parse(body, nullptr, false); }
}  // namespace

std::string engine_message(const std::string& body) {
  auto parsed = parse(body);
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
    return parsed["message"].get<std::string>();
  }
  std::string text = body;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.size() > max_error_text) text = text.substr(0, max_error_text) + "...";
  return text.empty() ? "(no message)" : text;
}

failure bad_answer(const std::string& operation, const std::string& what) {
  return fail("DOCKER_API_ERROR", operation + ": unexpected Engine answer: " + what);
}

std::string json_string(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

version_info read_version(const std::string& body) {
  auto j = parse(body);
  return {json_string(j, "Version"), json_string(j, "ApiVersion"), json_string(j, "MinAPIVersion")};
}

result<created> read_created(const std::string& body, const std::string& operation) {
  auto answer = parse(body);
  if (!answer.is_object() || !answer.contains("Id") || !answer["Id"].is_string()) {
    return bad_answer(operation, "no \"Id\" in " + engine_message(body));
  }
  created out;
  out.id = answer["Id"].get<std::string>();
  // The Engine discards some settings it cannot apply and only says so here.
  if (auto w = answer.find("Warnings"); w != answer.end() && w->is_array())
    for (const auto& warning : *w)
      if (warning.is_string() && !warning.get<std::string>().empty()) out.warnings.push_back(warning.get<std::string>());
  return out;
}

result<std::int64_t> read_wait(const std::string& body, const std::string& operation) {
  auto answer = parse(body);
  if (!answer.is_object() || !answer.contains("StatusCode") || !answer["StatusCode"].is_number_integer()) {
    return bad_answer(operation, "no \"StatusCode\" in " + engine_message(body));
  }
  // "Error" is null, absent, or {"Message": ""} when the wait itself went fine.
  if (answer.contains("Error") && answer["Error"].is_object()) {
    auto& err = answer["Error"];
    if (err.contains("Message") && err["Message"].is_string() && !err["Message"].get<std::string>().empty()) {
      return fail("DOCKER_API_ERROR", operation + ": " + err["Message"].get<std::string>());
    }
  }
  return answer["StatusCode"].get<std::int64_t>();
}

result<std::vector<std::string>> read_container_ids(const std::string& body, const std::string& operation) {
  auto answer = parse(body);
  if (!answer.is_array()) return bad_answer(operation, "not a list: " + engine_message(body));
  std::vector<std::string> ids;
  for (const auto& c : answer) {
    if (c.is_object() && c.contains("Id") && c["Id"].is_string()) ids.push_back(c["Id"].get<std::string>());
  }
  return ids;
}

result<exec_info> read_exec_info(const std::string& body, const std::string& operation) {
  auto j = parse(body);
  if (!j.is_object() || !j.contains("Running") || !j["Running"].is_boolean())
    return fail("DOCKER_API_ERROR", operation + ": no \"Running\" in the Engine's answer");
  exec_info state;
  state.running = j["Running"].get<bool>();
  if (j.contains("ExitCode") && j["ExitCode"].is_number_integer()) state.exit_code = j["ExitCode"].get<std::int64_t>();
  if (j.contains("Pid") && j["Pid"].is_number_integer()) state.pid = j["Pid"].get<std::int64_t>();
  return state;
}

result<nlohmann::json> read_object(const std::string& body, const std::string& operation) {
  auto j = parse(body);
  if (!j.is_object()) return fail("DOCKER_API_ERROR", operation + ": the Engine's answer is not a JSON object");
  return j;
}

}  // namespace cssh::docker::answers
