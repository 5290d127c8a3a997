#pragma once
// Typed reads from a yaml-cpp tree that never stop at the first problem: every error is
// recorded with the key's full dotted path, so the operator can fix the whole file at once.

#include <yaml-cpp/yaml.h>

#include <functional>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/app_config.hpp"

namespace cssh::config::detail {

class yaml_reader {
 public:
  using read_fn = std::function<void(const YAML::Node& value, const std::string& path)>;

  /// One key a map may hold. Names match case-insensitively (ContainerSSH's code says
  /// `containername` where its docs say `containerName`); the spelling here is what messages use.
  struct field {
    enum class kind { read, ignore, reject };
    std::string_view name;
    kind what = kind::read;
    read_fn read;              // kind::read
    std::string_view reason;   // kind::reject: why the key cannot be used
  };
  static field key(std::string_view name, read_fn read) { return {name, field::kind::read, std::move(read), {}}; }
  /// A key ContainerSSH knows that we do not implement yet: accepted, reported in ignored_keys.
  static field ignored(std::string_view name) { return {name, field::kind::ignore, {}, {}}; }
  /// A key that is known but refused, with the reason given to the operator.
  static field rejected(std::string_view name, std::string_view reason) {
    return {name, field::kind::reject, {}, reason};
  }

  /// Walks a map: known keys are read, ignored ones recorded, anything else is an error naming
  /// the path (with a suggestion when a known key is close). A null node is an absent map.
  void read_map(const YAML::Node& node, const std::string& path, const std::vector<field>& fields);

  // Each read_* leaves `out` alone and records an error when the value has the wrong type.
  // They return whether `out` was set.
  bool read_string(const YAML::Node& node, const std::string& path, std::string& out);
  bool read_bool(const YAML::Node& node, const std::string& path, bool& out);
  bool read_duration(const YAML::Node& node, const std::string& path, millis& out);
  /// An integer within [min, max].
  bool read_int(const YAML::Node& node, const std::string& path, long long& out, long long min, long long max);
  /// A list of strings; with `allow_single`, a lone string is a one-element list (Docker's strslice).
  bool read_string_list(const YAML::Node& node, const std::string& path, std::vector<std::string>& out,
                        bool allow_single = false);
  bool read_string_map(const YAML::Node& node, const std::string& path, std::map<std::string, std::string>& out);
  /// A map converted to JSON as written (see to_json).
  bool read_json_map(const YAML::Node& node, const std::string& path, nlohmann::json& out);

  /// One of a fixed set of words, matched case-insensitively.
  template <class T>
  bool read_choice(const YAML::Node& node, const std::string& path,
                   std::initializer_list<std::pair<std::string_view, T>> choices, T& out) {
    std::string text;
    if (!read_string(node, path, text)) return false;
    std::string allowed;
    for (const auto& [word, value] : choices) {
      if (equal_keys(word, text)) {
        out = value;
        return true;
      }
      allowed += (allowed.empty() ? "" : ", ") + std::string(word);
    }
    error(path, "expected one of " + allowed + ", got " + describe(node), &node);
    return false;
  }

  /// Converts YAML to JSON: plain true/false become booleans, plain integers numbers, every
  /// other scalar a string, so `memory: 1073741824` reaches the Engine as a number.
  nlohmann::json to_json(const YAML::Node& node, const std::string& path);

  void error(const std::string& path, const std::string& message, const YAML::Node* at = nullptr);
  void ignore(const std::string& path) { ignored_.push_back(path); }

  const std::vector<std::string>& errors() const { return errors_; }
  const std::vector<std::string>& ignored() const { return ignored_; }

  static std::string join(const std::string& path, std::string_view key);
  static bool equal_keys(std::string_view a, std::string_view b);
  /// How a value is named in messages: `"yes"` for scalars, "a list", "a map", "nothing".
  static std::string describe(const YAML::Node& node);

 private:
  std::vector<std::string> errors_;
  std::vector<std::string> ignored_;
};

}  // namespace cssh::config::detail
