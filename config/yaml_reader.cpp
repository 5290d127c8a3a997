#include <cerrno>
#include <cstdlib>
#include "config/yaml_reader.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>

#include "config/duration.hpp"
#include "config/key_suggest.hpp"

namespace cssh::config::detail {
namespace {

// yaml-cpp tags a plain (unquoted) scalar "?" and a quoted one "!"; only plain scalars may be
// booleans or numbers, as in YAML 1.2, so `"true"` and `"1000"` stay strings.
bool is_plain(const YAML::Node& node) { return node.Tag() == "?"; }

bool is_yaml_bool(const std::string& s, bool& out) {
  if (s == "true" || s == "True" || s == "TRUE") { out = true; return true; }
  if (s == "false" || s == "False" || s == "FALSE") { out = false; return true; }
  return false;
}

bool is_decimal_integer(const std::string& s) {
  std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

nlohmann::json scalar_to_json(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (!is_plain(node)) return s;
  bool b = false;
  if (is_yaml_bool(s, b)) return b;
  if (is_decimal_integer(s)) {
    const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
    const char* end = s.data() + s.size();
    std::int64_t i = 0;
    if (auto [p, ec] = std::from_chars(begin, end, i); ec == std::errc() && p == end) return i;
    std::uint64_t u = 0;
    if (auto [p, ec] = std::from_chars(begin, end, u); ec == std::errc() && p == end) return u;
  }
  return s;  // too large for a number, a float, a word: the Engine gets the text
}

}  // namespace

std::string yaml_reader::join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

bool yaml_reader::equal_keys(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string yaml_reader::describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Scalar: {
      // Cut long values: a misplaced PEM key should not end up whole in a log line.
      std::string s = node.Scalar();
      if (s.size() > 40) s = s.substr(0, 37) + "...";
      // replace, not throw: the value may be invalid UTF-8, or the cut may split a character; a
      // throwing dump ended the server instead of reporting the error (tests/fuzz/fuzz_config_yaml).
      return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    default: return "nothing";
  }
}

void yaml_reader::error(const std::string& path, const std::string& message, const YAML::Node* at) {
  std::string line = path.empty() ? message : path + ": " + message;
  if (at != nullptr && at->IsDefined() && !at->Mark().is_null())
    line += " (line " + std::to_string(at->Mark().line + 1) + ")";
  errors_.push_back(std::move(line));
}

void yaml_reader::read_map(const YAML::Node& node, const std::string& path, const std::vector<field>& fields) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    error(path.empty() ? "configuration" : path, "expected a map, got " + describe(node), &node);
    return;
  }
  std::vector<std::string_view> known;
  for (const field& f : fields) known.push_back(f.name);
  std::map<std::string_view, std::string> seen;  // canonical name -> spelling used first

  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copies on purpose: yaml-cpp's iterator hands out a temporary proxy.
    const YAML::Node k = it->first;
    const YAML::Node value = it->second;
    if (!k.IsScalar()) {
      error(path.empty() ? "configuration" : path, "keys must be plain words, got " + describe(k), &k);
      continue;
    }
    const std::string& name = k.Scalar();
    const field* match = nullptr;
    for (const field& f : fields)
      if (equal_keys(f.name, name)) match = &f;
    if (match == nullptr) {
      std::string msg = "unknown key";
      if (std::string near = closest_key(name, known); !near.empty()) msg += " (did you mean `" + near + "`?)";
      error(join(path, name), msg, &k);
      continue;
    }
    const std::string child = join(path, match->name);
    // Case-insensitive matching makes `containerName` and `containername` the same key.
    if (auto [pos, fresh] = seen.emplace(match->name, name); !fresh) {
      error(child, "given more than once (also as `" + pos->second + "`)", &k);
      continue;
    }
    if (value.IsNull()) continue;  // `key:` with nothing after it keeps the default
    switch (match->what) {
      case field::kind::read: match->read(value, child); break;
      case field::kind::ignore: ignore(child); break;
      case field::kind::reject: error(child, std::string(match->reason), &k); break;
    }
  }
}

bool yaml_reader::read_string(const YAML::Node& node, const std::string& path, std::string& out) {
  if (!node.IsScalar()) {
    error(path, "expected a string, got " + describe(node), &node);
    return false;
  }
  out = node.Scalar();
  return true;
}

bool yaml_reader::read_bool(const YAML::Node& node, const std::string& path, bool& out) {
  if (node.IsScalar() && is_plain(node) && is_yaml_bool(node.Scalar(), out)) return true;
  std::string msg = "expected a boolean, got " + describe(node);
  bool ignored = false;
  if (node.IsScalar() && !is_plain(node) && is_yaml_bool(node.Scalar(), ignored)) msg += " (quoted, so a string)";
  error(path, msg, &node);
  return false;
}

bool yaml_reader::read_duration(const YAML::Node& node, const std::string& path, millis& out) {
  if (!node.IsScalar()) {
    error(path, "expected a duration such as \"60s\", got " + describe(node), &node);
    return false;
  }
  auto parsed = parse_duration(node.Scalar());
  if (!parsed) {
    error(path, parsed.error().message, &node);
    return false;
  }
  out = *parsed;
  return true;
}

bool yaml_reader::read_int(const YAML::Node& node, const std::string& path, long long& out, long long min,
                           long long max) {
  std::string range = " between " + std::to_string(min) + " and " + std::to_string(max);
  if (!node.IsScalar() || !is_plain(node)) {
    error(path, "expected an integer" + range + ", got " + describe(node), &node);
    return false;
  }
  const std::string& text = node.Scalar();
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || errno == ERANGE || value < min || value > max) {
    error(path, "expected an integer" + range + ", got " + describe(node), &node);
    return false;
  }
  out = value;
  return true;
}

bool yaml_reader::read_string_list(const YAML::Node& node, const std::string& path, std::vector<std::string>& out,
                                   bool allow_single) {
  if (allow_single && node.IsScalar()) {
    out = {node.Scalar()};
    return true;
  }
  if (!node.IsSequence()) {
    error(path, std::string(allow_single ? "expected a list of strings or a string" : "expected a list of strings") +
                    ", got " + describe(node),
          &node);
    return false;
  }
  std::vector<std::string> items;
  bool ok = true;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    if (!item.IsScalar()) {
      error(path + "[" + std::to_string(i) + "]", "expected a string, got " + describe(item), &item);
      ok = false;
      continue;
    }
    items.push_back(item.Scalar());
  }
  if (ok) out = std::move(items);
  return ok;
}

bool yaml_reader::read_string_map(const YAML::Node& node, const std::string& path,
                                  std::map<std::string, std::string>& out) {
  if (!node.IsMap()) {
    error(path, "expected a map of strings, got " + describe(node), &node);
    return false;
  }
  std::map<std::string, std::string> items;
  bool ok = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (!k.IsScalar()) {
      error(path, "keys must be plain words, got " + describe(k), &k);
      ok = false;
      continue;
    }
    if (!v.IsScalar()) {
      error(join(path, k.Scalar()), "expected a string, got " + describe(v), &v);
      ok = false;
      continue;
    }
    items[k.Scalar()] = v.Scalar();
  }
  if (ok) out = std::move(items);
  return ok;
}

bool yaml_reader::read_json_map(const YAML::Node& node, const std::string& path, nlohmann::json& out) {
  if (!node.IsMap()) {
    error(path, "expected a map, got " + describe(node), &node);
    return false;
  }
  std::size_t errors_before = errors_.size();
  nlohmann::json converted = to_json(node, path);
  if (errors_.size() != errors_before) return false;
  out = std::move(converted);
  return true;
}

nlohmann::json yaml_reader::to_json(const YAML::Node& node, const std::string& path) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      nlohmann::json arr = nlohmann::json::array();
      for (std::size_t i = 0; i < node.size(); ++i)
        arr.push_back(to_json(node[i], path + "[" + std::to_string(i) + "]"));
      return arr;
    }
    case YAML::NodeType::Map: {
      nlohmann::json obj = nlohmann::json::object();
      for (auto it = node.begin(); it != node.end(); ++it) {
        const YAML::Node k = it->first;
        if (!k.IsScalar()) {
          error(path, "keys must be plain words, got " + describe(k), &k);
          continue;
        }
        obj[k.Scalar()] = to_json(it->second, join(path, k.Scalar()));
      }
      return obj;
    }
    default: return nullptr;
  }
}

}  // namespace cssh::config::detail
