#include "common/login_context.hpp"

namespace cssh {

void connection_metadata::merge(const connection_metadata& newer) {
  for (const auto& [k, v] : newer.metadata) metadata[k] = v;
  for (const auto& [k, v] : newer.environment) environment[k] = v;
  for (const auto& [k, v] : newer.files) files[k] = v;
}

nlohmann::json loggable(const value_map& values) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, v] : values)
    out[name] = v.sensitive ? nlohmann::json("<sensitive>") : nlohmann::json(v.value);
  return out;
}

nlohmann::json loggable_files(const value_map& files) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [path, v] : files)
    out[path] = std::to_string(v.value.size()) + " bytes" + (v.sensitive ? ", sensitive" : "");
  return out;
}

}  // namespace cssh
