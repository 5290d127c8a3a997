#include "config/users_file.hpp"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/yaml_reader.hpp"

namespace cssh::config {
namespace {

using R = detail::yaml_reader;

std::string trim(const std::string& s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> content_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::string t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    lines.push_back(t);
  }
  return lines;
}

/// `name:hash` with no space after the colon: htpasswd. YAML's `users:` line never looks so.
bool looks_like_htpasswd(const std::vector<std::string>& lines) {
  if (lines.empty()) return false;
  for (const auto& line : lines) {
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= line.size()) return false;
    if (std::isspace(static_cast<unsigned char>(line[colon + 1]))) return false;
    for (char c : line)
      if (std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

/// A user name sshd would accept and a log line can carry: no control characters or ':'.
bool valid_user_name(const std::string& name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f || c == ':') return false;
  return true;
}

std::string join_lines(const std::vector<std::string>& lines, const std::string& prefix) {
  std::string out;
  for (const auto& line : lines) out += (out.empty() ? "" : "\n") + prefix + line;
  return out;
}

result<users_file> parse_htpasswd(const std::vector<std::string>& lines, const std::string& origin) {
  users_file out;
  std::vector<std::string> errors;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto colon = lines[i].find(':');
    user_entry u;
    u.name = lines[i].substr(0, colon);
    u.password_hash = lines[i].substr(colon + 1);
    if (!valid_user_name(u.name)) {
      errors.push_back("entry " + std::to_string(i + 1) + ": invalid user name");
      continue;
    }
    if (!out.users.emplace(u.name, u).second) errors.push_back("user \"" + u.name + "\" is listed twice");
  }
  if (!errors.empty()) return fail("USERS_FILE_INVALID", join_lines(errors, origin + ": "));
  return out;
}

std::string absolute_against(const std::string& path, const std::string& origin) {
  std::filesystem::path p(path);
  if (p.is_absolute() || origin.empty()) return path;
  return (std::filesystem::path(origin).parent_path() / p).lexically_normal().string();
}

void read_user(R& r, const YAML::Node& node, const std::string& path, user_entry& u, const std::string& origin) {
  r.read_map(node, path, {
      R::key("password", [&](const YAML::Node& n, const std::string& p) { r.read_string(n, p, u.password_hash); }),
      R::key("authorizedKeys",
             [&](const YAML::Node& n, const std::string& p) { r.read_string_list(n, p, u.authorized_keys, true); }),
      R::key("authorizedKeysFile",
             [&](const YAML::Node& n, const std::string& p) {
               if (r.read_string(n, p, u.authorized_keys_file))
                 u.authorized_keys_file = absolute_against(u.authorized_keys_file, origin);
             }),
      R::key("image", [&](const YAML::Node& n, const std::string& p) { r.read_string(n, p, u.image); }),
      R::key("environment",
             [&](const YAML::Node& n, const std::string& p) {
               if (!r.read_string_map(n, p, u.environment)) return;
               for (const auto& [name, value] : u.environment) {
                 bool ok = !name.empty();
                 for (unsigned char c : name) ok = ok && c != '=' && c >= 0x20 && c != 0x7f;
                 if (!ok) r.error(R::join(p, name), "is not a valid variable name");
               }
             }),
  });
}

result<users_file> parse_yaml(const std::string& text, const std::string& origin) {
  const std::string prefix = origin.empty() ? "" : origin + ": ";
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    std::string where =
        e.mark.is_null() ? "" : " at line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1);
    return fail("USERS_FILE_INVALID", prefix + "not valid YAML" + where + ": " + e.msg);
  }
  users_file out;
  R r;
  try {
    r.read_map(root, "", {
        R::key("users",
               [&](const YAML::Node& n, const std::string& p) {
                 if (!n.IsMap()) {
                   r.error(p, "expected a map of user names, got " + R::describe(n), &n);
                   return;
                 }
                 for (auto it = n.begin(); it != n.end(); ++it) {
                   const YAML::Node k = it->first;
                   const YAML::Node v = it->second;
                   if (!k.IsScalar() || !valid_user_name(k.Scalar())) {
                     r.error(p, "user names must be plain words without ':' or control characters", &k);
                     continue;
                   }
                   user_entry u;
                   u.name = k.Scalar();
                   const std::string at = p + "." + u.name;
                   if (!v.IsMap()) {
                     r.error(at, "expected a map (password, authorizedKeys, ...), got " + R::describe(v), &v);
                     continue;
                   }
                   read_user(r, v, at, u, origin);
                   if (u.password_hash.empty() && u.authorized_keys.empty() && u.authorized_keys_file.empty())
                     r.error(at, "has neither a password nor authorized keys, so can never log in", &v);
                   if (!out.users.emplace(u.name, std::move(u)).second) r.error(at, "is listed twice", &k);
                 }
               }),
    });
  } catch (const YAML::Exception& e) {
    r.error("users", e.what());
  }
  if (!r.errors().empty()) return fail("USERS_FILE_INVALID", join_lines(r.errors(), prefix));
  if (!root.IsDefined() || root.IsNull() || !root["users"])
    return fail("USERS_FILE_INVALID", prefix + "users: required (a map of user names)");
  return out;
}

}  // namespace

result<users_file> parse_users_file(const std::string& text, const std::string& origin) {
  auto lines = content_lines(text);
  if (looks_like_htpasswd(lines)) return parse_htpasswd(lines, origin);
  return parse_yaml(text, origin);
}

result<users_file> load_users_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return fail("USERS_FILE_UNREADABLE", "cannot read users file " + path + ": it is a directory");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail("USERS_FILE_UNREADABLE",
                "cannot read users file " + path + ": " + (errno != 0 ? std::strerror(errno) : "open failed"));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail("USERS_FILE_UNREADABLE", "cannot read users file " + path + ": read failed");
  return parse_users_file(text.str(), path);
}

}  // namespace cssh::config
