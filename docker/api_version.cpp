#include "docker/api_version.hpp"

#include <charconv>

namespace cssh::docker {
namespace {

/// A create-body field and the API version that introduced it.
struct versioned_field {
  const char* pointer;  // JSON pointer into the create body
  const char* since;
  bool droppable;       // true: an older Engine merely loses a nicety; false: it would change
                        // what the operator asked for, so refuse instead of pretending
};

// The fields we or operators commonly send whose absence matters. An older Engine ignores
// unknown JSON fields silently, which is exactly what this table prevents.
constexpr versioned_field versioned_fields[] = {
    // Our default (signals reach programs that run as PID 1); without it they still run.
    {"/HostConfig/Init", "1.25", true},
    {"/HostConfig/Mounts", "1.25", false},
    {"/HostConfig/AutoRemove", "1.25", false},
    {"/HostConfig/Runtime", "1.25", false},
    {"/HostConfig/Sysctls", "1.24", false},
    {"/HostConfig/StorageOpt", "1.24", false},
    {"/HostConfig/PidsLimit", "1.23", false},
    {"/HostConfig/Tmpfs", "1.22", false},
    {"/HostConfig/ShmSize", "1.22", false},
    {"/NetworkingConfig", "1.22", false},
    {"/StopTimeout", "1.25", false},
    {"/Healthcheck", "1.24", false},
};

std::string dotted(const char* pointer) {
  std::string out(pointer + 1);
  for (auto& c : out) {
    if (c == '/') c = '.';
  }
  return out;
}

}  // namespace

std::optional<std::pair<int, int>> parse_api_version(std::string_view text) {
  auto dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  int major = 0;
  int minor = 0;
  auto a = std::from_chars(text.data(), text.data() + dot, major);
  auto b = std::from_chars(text.data() + dot + 1, text.data() + text.size(), minor);
  if (a.ec != std::errc() || a.ptr != text.data() + dot || b.ec != std::errc() || b.ptr != text.data() + text.size() ||
      dot == 0 || dot + 1 == text.size()) {
    return std::nullopt;
  }
  return std::pair{major, minor};
}

bool api_older(std::string_view a, std::string_view b) {
  auto va = parse_api_version(a);
  auto vb = parse_api_version(b);
  if (!va) return static_cast<bool>(vb);
  if (!vb) return false;
  return *va < *vb;
}

bool wait_condition_supported(std::string_view version) { return !api_older(version, "1.30"); }

result<nlohmann::json> adapt_create_body(nlohmann::json body, std::string_view version, const std::string& engine,
                                         std::vector<std::string>& dropped) {
  for (const auto& field : versioned_fields) {
    if (!api_older(version, field.since)) continue;
    nlohmann::json::json_pointer ptr(field.pointer);
    if (!body.contains(ptr)) continue;
    const auto& value = body.at(ptr);
    // An empty or false setting asks for nothing the old version lacks.
    if (value.is_null() || value == false || (value.is_structured() && value.empty())) {
      body.at(ptr.parent_pointer()).erase(ptr.back());
      continue;
    }
    if (field.droppable) {
      body.at(ptr.parent_pointer()).erase(ptr.back());
      dropped.push_back(dotted(field.pointer) + " (API " + field.since + ")");
      continue;
    }
    return fail("DOCKER_API_TOO_OLD", dotted(field.pointer) + " needs Engine API " + field.since +
                                          ", but this connection speaks API " + std::string(version) + " (" + engine +
                                          ")");
  }
  return body;
}

}  // namespace cssh::docker
