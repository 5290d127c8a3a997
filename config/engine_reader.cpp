#include "config/engine_reader.hpp"

#include <cctype>
#include <cstdint>
#include <limits>

#include "config/duration.hpp"
#include "config/key_suggest.hpp"

namespace cssh::config::detail {
namespace {

using engine_schema::field;
using engine_schema::placement;
using engine_schema::structure;
using engine_schema::value_kind;
using json = nlohmann::json;

// yaml-cpp tags a plain (unquoted) scalar "?"; only those may be booleans or numbers, so
// `"true"` and `"1000"` stay strings, as in Go's YAML decoder.
bool is_plain(const YAML::Node& node) { return node.Tag() == "?"; }

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string indexed(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

/// " (quoted, so a string)" when a quoted scalar would have been right without the quotes.
std::string quoted_hint(const YAML::Node& node, bool looks_right) {
  return node.IsScalar() && !is_plain(node) && looks_right ? " (quoted, so a string)" : "";
}

/// Go's zero values: false, 0, "", and empty lists and maps.
bool is_zero(const json& v) {
  if (v.is_boolean()) return !v.get<bool>();
  if (v.is_number()) return v == 0;
  if (v.is_string() || v.is_array() || v.is_object()) return v.empty();
  return v.is_null();
}

const field* inline_structure_field(const structure& s) {
  for (const field& f : s.fields)
    if (f.where == placement::inline_fields) return &f;
  return nullptr;
}

}  // namespace

bool parse_go_integer(std::string text, bool non_negative, json& out) {
  std::erase(text, '_');
  bool negative = false;
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  if (i == text.size()) return false;
  unsigned base = 10;
  if (text.size() - i > 1 && text[i] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i + 1])));
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      i += 2;
    } else {
      base = 8;  // Go's legacy octal: 0755
      i += 1;
    }
    if (i == text.size()) return false;
  }
  unsigned __int128 value = 0;
  for (; i < text.size(); ++i) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    unsigned digit = c >= '0' && c <= '9' ? static_cast<unsigned>(c - '0')
                     : c >= 'a' && c <= 'f' ? static_cast<unsigned>(c - 'a' + 10)
                                            : 99;
    if (digit >= base) return false;
    value = value * base + digit;
    if (value > std::numeric_limits<std::uint64_t>::max()) return false;
  }
  if (negative) {
    if (non_negative && value != 0) return false;
    constexpr auto min_magnitude = static_cast<unsigned __int128>(std::numeric_limits<std::int64_t>::max()) + 1;
    if (value > min_magnitude) return false;
    out = value == min_magnitude ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(value);
    return true;
  }
  if (!non_negative && value > static_cast<unsigned __int128>(std::numeric_limits<std::int64_t>::max())) return false;
  if (value <= static_cast<unsigned __int128>(std::numeric_limits<std::int64_t>::max()))
    out = static_cast<std::int64_t>(value);
  else
    out = static_cast<std::uint64_t>(value);
  return true;
}

bool engine_reader::read(const YAML::Node& node, const std::string& path, const structure& s, json& out) {
  origins set_by;
  return read_structure(node, path, s, out, set_by);
}

bool engine_reader::read_container(const YAML::Node& node, const std::string& path) {
  return read_structure(node, path, engine_schema::container_config, container_, container_set_by_);
}

bool engine_reader::read_structure(const YAML::Node& node, const std::string& path, const structure& s, json& out,
                                   origins& set_by) {
  if (!node.IsDefined() || node.IsNull()) return true;
  if (!node.IsMap()) {
    r_.error(path, "expected a map (" + std::string(s.name) + "), got " + yaml_reader::describe(node), &node);
    return false;
  }
  const std::size_t errors_before = r_.errors().size();
  std::map<std::string, std::string> seen;  // lowercase key -> spelling used first
  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copies on purpose: yaml-cpp's iterator hands out a temporary proxy.
    const YAML::Node k = it->first;
    const YAML::Node value = it->second;
    if (!k.IsScalar()) {
      r_.error(path, "keys must be plain words, got " + yaml_reader::describe(k), &k);
      continue;
    }
    const std::string& name = k.Scalar();
    const std::string child = yaml_reader::join(path, name);
    const field* f = engine_schema::find_field(s, name);
    if (f == nullptr) {
      unknown_key(child, name, s, path, k);
      continue;
    }
    // Keys match case-insensitively (Go's decoders do), so `Memory` and `memory` are one key.
    if (auto [pos, fresh] = seen.emplace(lowercase(name), name); !fresh) {
      r_.error(child, "given more than once (also as `" + pos->second + "`)", &k);
      continue;
    }
    if (value.IsNull()) continue;  // `key:` with nothing after it leaves the Engine's default
    switch (f->where) {
      case placement::inline_fields:
        read_structure(value, child, *f->nested, out, set_by);
        break;
      case placement::container:
        put(container_, container_set_by_, *f, child, convert(value, child, *f));
        break;
      case placement::here:
        put(out, set_by, *f, child, convert(value, child, *f));
        break;
      case placement::server_set:
      case placement::not_sent: {
        // Still type-checked: a typo in an ignored value is still a typo. A zero value (what
        // ContainerSSH's own configuration dumps hold, e.g. `tty: false`) asks for nothing.
        json given = convert(value, child, *f);
        if (!given.is_discarded() && !is_zero(given))
          warnings_.push_back(child + ": " + std::string(f->note) +
                              (f->where == placement::server_set ? "; the configured value is ignored" : ""));
        break;
      }
    }
  }
  return r_.errors().size() == errors_before;
}

void engine_reader::put(json& out, origins& set_by, const field& f, const std::string& path, json value) {
  if (value.is_discarded()) return;  // the error is recorded already
  const std::string engine(f.engine);
  if (out.contains(engine)) {
    auto origin = set_by.find(engine);
    r_.error(path, "sets the Engine's " + engine + ", which `" +
                       (origin == set_by.end() ? std::string("another key") : origin->second) +
                       "` sets already; keep one");
    return;
  }
  set_by[engine] = path;
  out[engine] = std::move(value);
}

void engine_reader::unknown_key(const std::string& path, const std::string& key, const structure& s,
                                const std::string& parent_path, const YAML::Node& at) {
  // A Resources key written straight under host: say where it belongs rather than "unknown".
  if (const field* inl = inline_structure_field(s); inl != nullptr && engine_schema::find_field(*inl->nested, key)) {
    r_.error(path, "belongs under `" + std::string(inl->key) + "`: write " +
                       yaml_reader::join(yaml_reader::join(parent_path, inl->key), lowercase(key)),
             &at);
    return;
  }
  std::vector<std::string_view> known;
  for (const field& f : s.fields) known.push_back(f.key);
  std::string msg = "unknown key in " + std::string(s.name);
  if (std::string near = closest_key(key, known); !near.empty()) msg += " (did you mean `" + near + "`?)";
  r_.error(path, msg, &at);
}

json engine_reader::convert(const YAML::Node& node, const std::string& path, const field& f) {
  switch (f.kind) {
    case value_kind::text: return text(node, path);
    case value_kind::boolean: return boolean(node, path);
    case value_kind::integer: return integer(node, path, false);
    case value_kind::unsigned_integer: return integer(node, path, true);
    case value_kind::duration: return duration(node, path);
    case value_kind::text_list: return text_list(node, path, false);
    case value_kind::text_or_list: return text_list(node, path, true);
    case value_kind::text_map: return text_map(node, path);
    case value_kind::text_set: return text_set(node, path);
    case value_kind::text_list_list:
      return list_of(node, path, "a list of lists of strings",
                     [this](const YAML::Node& n, const std::string& p) { return text_list(n, p, false); });
    case value_kind::object: return nested(node, path, *f.nested);
    case value_kind::object_list:
      return list_of(node, path, ("a list of " + std::string(f.nested->name) + " maps").c_str(),
                     [this, &f](const YAML::Node& n, const std::string& p) { return nested(n, p, *f.nested); });
    case value_kind::object_map:
    case value_kind::object_list_map: {
      if (!node.IsMap()) {
        r_.error(path, "expected a map of names to " + std::string(f.nested->name) + ", got " +
                           yaml_reader::describe(node), &node);
        return json::value_t::discarded;
      }
      json out = json::object();
      bool ok = true;
      for (auto it = node.begin(); it != node.end(); ++it) {
        const YAML::Node k = it->first;
        const YAML::Node v = it->second;
        if (!k.IsScalar()) {
          r_.error(path, "keys must be plain words, got " + yaml_reader::describe(k), &k);
          ok = false;
          continue;
        }
        const std::string child = yaml_reader::join(path, k.Scalar());
        json item = f.kind == value_kind::object_map
                        ? nested(v, child, *f.nested)
                        : list_of(v, child, ("a list of " + std::string(f.nested->name) + " maps").c_str(),
                                  [this, &f](const YAML::Node& n, const std::string& p) {
                                    return nested(n, p, *f.nested);
                                  });
        if (item.is_discarded()) ok = false;
        else out[k.Scalar()] = std::move(item);
      }
      return ok ? out : json(json::value_t::discarded);
    }
  }
  return json::value_t::discarded;
}

json engine_reader::text(const YAML::Node& node, const std::string& path) {
  if (node.IsScalar()) return node.Scalar();
  r_.error(path, "expected a string, got " + yaml_reader::describe(node), &node);
  return json::value_t::discarded;
}

json engine_reader::boolean(const YAML::Node& node, const std::string& path) {
  if (node.IsScalar()) {
    // The spellings YAML 1.2 and Go's decoder agree on (not yes/no/on/off).
    const std::string& s = node.Scalar();
    bool is_true = s == "true" || s == "True" || s == "TRUE";
    bool is_false = s == "false" || s == "False" || s == "FALSE";
    if ((is_true || is_false) && is_plain(node)) return is_true;
    r_.error(path, "expected true or false, got " + yaml_reader::describe(node) + quoted_hint(node, is_true || is_false),
             &node);
    return json::value_t::discarded;
  }
  r_.error(path, "expected true or false, got " + yaml_reader::describe(node), &node);
  return json::value_t::discarded;
}

json engine_reader::integer(const YAML::Node& node, const std::string& path, bool non_negative) {
  json out;
  if (node.IsScalar() && is_plain(node) && parse_go_integer(node.Scalar(), non_negative, out)) return out;
  json ignored;
  bool numeric_text = node.IsScalar() && parse_go_integer(node.Scalar(), non_negative, ignored);
  r_.error(path,
           std::string(non_negative ? "expected a non-negative integer" : "expected an integer") + ", got " +
               yaml_reader::describe(node) + quoted_hint(node, numeric_text),
           &node);
  return json::value_t::discarded;
}

json engine_reader::duration(const YAML::Node& node, const std::string& path) {
  json out;
  if (node.IsScalar() && is_plain(node) && parse_go_integer(node.Scalar(), true, out)) return out;  // nanoseconds
  if (node.IsScalar()) {
    auto parsed = parse_duration(node.Scalar());
    if (parsed) return static_cast<std::int64_t>(parsed->count()) * 1'000'000;
    r_.error(path, parsed.error().message, &node);
    return json::value_t::discarded;
  }
  r_.error(path, "expected a duration such as \"30s\" or nanoseconds, got " + yaml_reader::describe(node), &node);
  return json::value_t::discarded;
}

json engine_reader::text_list(const YAML::Node& node, const std::string& path, bool allow_single) {
  if (allow_single && node.IsScalar()) return json::array({node.Scalar()});
  return list_of(node, path, allow_single ? "a string or a list of strings" : "a list of strings",
                 [this](const YAML::Node& item, const std::string& where) { return text(item, where); });
}

json engine_reader::text_map(const YAML::Node& node, const std::string& path) {
  // The seed writes volume labels as a list of `key: value` items; Go's map is what the
  // Engine reads, so both spellings become one map.
  std::vector<std::pair<YAML::Node, std::string>> maps;
  if (node.IsMap()) {
    maps.emplace_back(node, path);
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      if (!item.IsMap()) {
        r_.error(indexed(path, i), "expected a `key: value` map, got " + yaml_reader::describe(item), &item);
        return json::value_t::discarded;
      }
      maps.emplace_back(item, indexed(path, i));
    }
  } else {
    r_.error(path, "expected a map of strings (or a list of `key: value` maps), got " + yaml_reader::describe(node),
             &node);
    return json::value_t::discarded;
  }
  json out = json::object();
  bool ok = true;
  for (const auto& [m, at] : maps) {
    for (auto it = m.begin(); it != m.end(); ++it) {
      const YAML::Node k = it->first;
      const YAML::Node v = it->second;
      if (!k.IsScalar()) {
        r_.error(at, "keys must be plain words, got " + yaml_reader::describe(k), &k);
        ok = false;
        continue;
      }
      const std::string child = yaml_reader::join(at, k.Scalar());
      if (out.contains(k.Scalar())) {
        r_.error(child, "given more than once", &k);
        ok = false;
        continue;
      }
      if (v.IsNull()) {  // `/tmp:` with no options: an empty string, as Go's decoder makes it
        out[k.Scalar()] = "";
        continue;
      }
      json value = text(v, child);
      if (value.is_discarded()) ok = false;
      else out[k.Scalar()] = std::move(value);
    }
  }
  return ok ? out : json(json::value_t::discarded);
}

json engine_reader::text_set(const YAML::Node& node, const std::string& path) {
  json out = json::object();
  if (node.IsSequence()) {
    json names = text_list(node, path, false);
    if (names.is_discarded()) return names;
    for (const auto& n : names) out[n.get<std::string>()] = json::object();
    return out;
  }
  if (!node.IsMap()) {
    r_.error(path, "expected a list of names or a map with empty values, got " + yaml_reader::describe(node), &node);
    return json::value_t::discarded;
  }
  bool ok = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (!k.IsScalar()) {
      r_.error(path, "keys must be plain words, got " + yaml_reader::describe(k), &k);
      ok = false;
      continue;
    }
    if (!v.IsNull() && !(v.IsMap() && v.size() == 0)) {
      r_.error(yaml_reader::join(path, k.Scalar()), "expected {} or nothing, got " + yaml_reader::describe(v), &v);
      ok = false;
      continue;
    }
    out[k.Scalar()] = json::object();
  }
  return ok ? out : json(json::value_t::discarded);
}

json engine_reader::list_of(const YAML::Node& node, const std::string& path, const char* what,
                            const std::function<json(const YAML::Node&, const std::string&)>& item) {
  if (!node.IsSequence()) {
    r_.error(path, std::string("expected ") + what + ", got " + yaml_reader::describe(node), &node);
    return json::value_t::discarded;
  }
  json out = json::array();
  bool ok = true;
  for (std::size_t i = 0; i < node.size(); ++i) {
    json one = item(node[i], indexed(path, i));
    if (one.is_discarded()) ok = false;
    else out.push_back(std::move(one));
  }
  return ok ? out : json(json::value_t::discarded);
}

json engine_reader::nested(const YAML::Node& node, const std::string& path, const structure& s) {
  json out = json::object();
  if (node.IsNull()) return out;  // `- ` in a list of structures: an empty one
  origins set_by;
  return read_structure(node, path, s, out, set_by) ? out : json(json::value_t::discarded);
}

}  // namespace cssh::config::detail
