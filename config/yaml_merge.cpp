#include "config/yaml_merge.hpp"

#include <array>
#include <string_view>

#include "config/yaml_reader.hpp"

namespace cssh::config::detail {
namespace {

/// The key in `map` that matches `name` case-insensitively, or an undefined node.
YAML::Node find_key(const YAML::Node& map, const std::string& name) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node k = it->first;
    if (k.IsScalar() && yaml_reader::equal_keys(k.Scalar(), name)) return k;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

constexpr std::array<std::string_view, 7> per_connection_sections{
    "backend", "docker", "dockerrun", "kubernetes", "kuberun", "sshproxy", "security"};

}  // namespace

YAML::Node merge_nodes(const YAML::Node& base, const YAML::Node& overlay) {
  if (!overlay.IsDefined() || overlay.IsNull()) return YAML::Clone(base);
  if (!base.IsDefined() || !base.IsMap() || !overlay.IsMap()) return YAML::Clone(overlay);
  YAML::Node out = YAML::Clone(base);
  for (auto it = overlay.begin(); it != overlay.end(); ++it) {
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (v.IsNull()) continue;
    if (!k.IsScalar()) {
      // The reader reports non-scalar keys; keep it so it does.
      out.force_insert(YAML::Clone(k), YAML::Clone(v));
      continue;
    }
    YAML::Node existing = find_key(out, k.Scalar());
    if (!existing.IsDefined()) {
      out.force_insert(YAML::Clone(k), YAML::Clone(v));
      continue;
    }
    const std::string existing_name = existing.Scalar();
    YAML::Node merged = merge_nodes(out[existing_name], v);
    out[existing_name] = merged;
  }
  return out;
}

YAML::Node config_server_sections(const YAML::Node& answer, std::vector<std::string>& left_out) {
  YAML::Node out(YAML::NodeType::Map);
  if (!answer.IsDefined() || answer.IsNull()) return out;
  if (!answer.IsMap()) return YAML::Clone(answer);  // the reader says "expected a map"
  for (auto it = answer.begin(); it != answer.end(); ++it) {
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (!k.IsScalar()) continue;
    const std::string& name = k.Scalar();
    bool allowed = false;
    for (std::string_view section : per_connection_sections) allowed = allowed || yaml_reader::equal_keys(section, name);
    if (allowed) {
      out.force_insert(YAML::Clone(k), YAML::Clone(v));
      continue;
    }
    if (yaml_reader::equal_keys(name, "log") && v.IsMap()) {
      YAML::Node log(YAML::NodeType::Map);
      for (auto li = v.begin(); li != v.end(); ++li) {
        const YAML::Node lk = li->first;
        if (lk.IsScalar() && yaml_reader::equal_keys(lk.Scalar(), "level")) {
          log.force_insert(YAML::Clone(lk), YAML::Clone(li->second));
        } else if (!li->second.IsNull()) {
          left_out.push_back("log." + (lk.IsScalar() ? lk.Scalar() : std::string("?")));
        }
      }
      if (log.size() > 0) out.force_insert(YAML::Clone(k), log);
      continue;
    }
    if (!v.IsNull()) left_out.push_back(name);
  }
  return out;
}

}  // namespace cssh::config::detail
