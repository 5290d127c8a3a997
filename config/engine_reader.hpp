#pragma once
// Reads the configuration's `container`, `host`, `network` and `platform` maps into the Docker
// Engine's JSON, walking the tables in config/engine_schema.hpp: every key is type-checked,
// renamed to the Engine's name and put where the Engine reads it. Problems are recorded in the
// yaml_reader with the key's full path; nothing stops at the first one.

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/engine_schema.hpp"
#include "config/yaml_reader.hpp"

namespace cssh::config::detail {

class engine_reader {
 public:
  /// `warnings` collects "path: why" lines for keys that are accepted but not sent as given.
  engine_reader(yaml_reader& r, std::vector<std::string>& warnings) : r_(r), warnings_(warnings) {}

  /// Reads the map `node` as structure `s` into `out` (an object, Engine names). Keys placed in
  /// the container config (placement::container) go to container(). Returns false on errors.
  bool read(const YAML::Node& node, const std::string& path, const engine_schema::structure& s,
            nlohmann::json& out);

  /// The container config this reader fills: `container:` itself plus keys other blocks
  /// place there (`host.networkDisabled`). Read `container:` with read_container().
  bool read_container(const YAML::Node& node, const std::string& path);
  nlohmann::json& container() { return container_; }

 private:
  using origins = std::map<std::string, std::string>;  // Engine name -> path of the key that set it

  bool read_structure(const YAML::Node& node, const std::string& path, const engine_schema::structure& s,
                      nlohmann::json& out, origins& set_by);
  /// The value of one field converted for the Engine, or a discarded JSON value after an error.
  nlohmann::json convert(const YAML::Node& node, const std::string& path, const engine_schema::field& f);
  void put(nlohmann::json& out, origins& set_by, const engine_schema::field& f, const std::string& path,
           nlohmann::json value);
  void unknown_key(const std::string& path, const std::string& key, const engine_schema::structure& s,
                   const std::string& parent_path, const YAML::Node& at);

  nlohmann::json text(const YAML::Node& node, const std::string& path);
  nlohmann::json boolean(const YAML::Node& node, const std::string& path);
  nlohmann::json integer(const YAML::Node& node, const std::string& path, bool non_negative);
  nlohmann::json duration(const YAML::Node& node, const std::string& path);
  nlohmann::json text_list(const YAML::Node& node, const std::string& path, bool allow_single);
  nlohmann::json text_map(const YAML::Node& node, const std::string& path);
  nlohmann::json text_set(const YAML::Node& node, const std::string& path);
  nlohmann::json list_of(const YAML::Node& node, const std::string& path, const char* what,
                         const std::function<nlohmann::json(const YAML::Node&, const std::string&)>& item);
  nlohmann::json nested(const YAML::Node& node, const std::string& path, const engine_schema::structure& s);

  yaml_reader& r_;
  std::vector<std::string>& warnings_;
  nlohmann::json container_ = nlohmann::json::object();
  origins container_set_by_;
};

/// Go's integer literal forms as yaml.v3 reads them: optional sign, `_` separators, 0x / 0o / 0b
/// prefixes, and a leading 0 meaning octal (so `mode: 0755` is 493). False if not an integer
/// or out of the int64 range (uint64 when `non_negative`).
bool parse_go_integer(std::string text, bool non_negative, nlohmann::json& out);

}  // namespace cssh::config::detail
