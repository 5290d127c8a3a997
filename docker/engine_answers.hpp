#pragma once
// Reading the Docker Engine's JSON answers: the bytes come from outside the process (a socket
// that may not even be a Docker Engine), so every reader checks shapes and types and turns
// anything unexpected into a failure naming the operation. Kept apart from the transport so the
// fuzzers (tests/fuzz/) can feed them arbitrary bodies.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace cssh::docker::answers {

/// The Engine's {"message": ...}, else the raw body (whitespace trimmed, shortened to 512
/// bytes), else "(no message)".
std::string engine_message(const std::string& body);

/// DOCKER_API_ERROR "<operation>: unexpected Engine answer: <what>".
failure bad_answer(const std::string& operation, const std::string& what);

/// j[key] when j is an object holding a string there, else "".
std::string json_string(const nlohmann::json& j, const char* key);

/// GET /version: what the Engine says about itself ("" for whatever it leaves out or mistypes).
struct version_info {
  std::string engine_version;   // "Version"
  std::string max_api_version;  // "ApiVersion"
  std::string min_api_version;  // "MinAPIVersion"
};
version_info read_version(const std::string& body);

/// POST /containers/create and POST /containers/{id}/exec: {"Id": "...", "Warnings": [...]}.
struct created {
  std::string id;
  std::vector<std::string> warnings;  // the non-empty strings of "Warnings"
};
result<created> read_created(const std::string& body, const std::string& operation);

/// POST /containers/{id}/wait: the exit status, or the wait's own "Error.Message".
result<std::int64_t> read_wait(const std::string& body, const std::string& operation);

/// GET /containers/json: the "Id" of every listed container (entries without one are skipped).
result<std::vector<std::string>> read_container_ids(const std::string& body, const std::string& operation);

/// GET /exec/{id}/json.
struct exec_info {
  bool running = false;
  std::optional<std::int64_t> exit_code;  // absent while running or when the Engine left it out
  std::int64_t pid = 0;
};
result<exec_info> read_exec_info(const std::string& body, const std::string& operation);

/// GET .../json answers used whole (image and volume inspection): must be a JSON object.
result<nlohmann::json> read_object(const std::string& body, const std::string& operation);

}  // namespace cssh::docker::answers
