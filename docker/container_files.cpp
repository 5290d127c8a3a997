#include "docker/container_files.hpp"

#include <cctype>
#include <sstream>
#include <vector>

#include "docker/tar_archive.hpp"

namespace cssh::docker {
namespace {

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

/// Finds a line of a colon-separated database (passwd, group) whose field `key_field` is `key`.
std::vector<std::string> find_entry(const std::string& db, std::size_t key_field, const std::string& key) {
  std::istringstream in(db);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> fields;
    std::string field;
    std::istringstream parts(line);
    while (std::getline(parts, field, ':')) fields.push_back(field);
    if (fields.size() > key_field && fields[key_field] == key) return fields;
  }
  return {};
}

// Built with append: GCC 12 warns falsely (-Wrestrict) about operator+ chains here.
failure unknown(const char* what, const std::string& name, const char* file) {
  std::string message = what;
  message.append(" \"").append(name).append("\" is not in the image's ").append(file);
  return fail("DOCKER_USER_UNKNOWN", message);
}

void split_user(const std::string& spec, std::string& user, std::string& group) {
  auto colon = spec.find(':');
  user = spec.substr(0, colon);
  group = colon == std::string::npos ? "" : spec.substr(colon + 1);
}

void put_files(std::shared_ptr<engine> e, const std::string& id, const std::map<std::string, std::string>& files,
               file_owner owner, callback<void> done) {
  std::vector<tar_file> entries;
  for (const auto& [path, contents] : files) {
    std::string relative = path;
    while (!relative.empty() && relative.front() == '/') relative.erase(0, 1);
    entries.push_back({relative, contents, 0600, owner.uid, owner.gid});
  }
  e->put_archive(id, "/", build_tar(entries), std::move(done));
}

}  // namespace

bool owner_needs_lookup(const std::string& spec) {
  std::string user;
  std::string group;
  split_user(spec, user, group);
  if (user.empty() || user == "root") return !group.empty() && !all_digits(group);
  return !all_digits(user) || group.empty() || !all_digits(group);
}

result<file_owner> resolve_owner(const std::string& spec, const std::string& passwd, const std::string& group_db) {
  std::string user;
  std::string group;
  split_user(spec, user, group);
  file_owner owner;
  if (user.empty() || (user == "root" && find_entry(passwd, 0, user).empty())) user.assign(1, '0');
  if (all_digits(user)) {
    owner.uid = static_cast<unsigned>(std::stoul(user));
    auto entry = find_entry(passwd, 2, user);
    if (entry.size() > 3 && all_digits(entry[3])) owner.gid = static_cast<unsigned>(std::stoul(entry[3]));
  } else {
    auto entry = find_entry(passwd, 0, user);
    if (entry.size() < 4 || !all_digits(entry[2]) || !all_digits(entry[3]))
      return unknown("user", user, "/etc/passwd");
    owner.uid = static_cast<unsigned>(std::stoul(entry[2]));
    owner.gid = static_cast<unsigned>(std::stoul(entry[3]));
  }
  if (!group.empty()) {
    if (all_digits(group)) {
      owner.gid = static_cast<unsigned>(std::stoul(group));
    } else {
      auto entry = find_entry(group_db, 0, group);
      if (entry.size() < 3 || !all_digits(entry[2]))
        return unknown("group", group, "/etc/group");
      owner.gid = static_cast<unsigned>(std::stoul(entry[2]));
    }
  }
  return owner;
}

void write_container_files(std::shared_ptr<engine> e, const std::string& id, std::map<std::string, std::string> files,
                           callback<void> done) {
  if (files.empty()) return done(result<void>{});
  e->inspect_container(id, [e, id, files = std::move(files), done = std::move(done)](result<nlohmann::json> info) mutable {
    if (!info) return done(info.error());
    std::string spec;
    const auto& cfg = info.value()["Config"];
    if (cfg.is_object() && cfg.contains("User") && cfg["User"].is_string()) spec = cfg["User"].get<std::string>();
    if (!owner_needs_lookup(spec)) {
      auto owner = resolve_owner(spec, "", "");
      if (!owner) return done(owner.error());
      return put_files(e, id, files, owner.value(), std::move(done));
    }
    // Names mean the image's own user database: read it out of the container.
    e->get_archive(id, "/etc/passwd", [e, id, spec, files = std::move(files), done = std::move(done)](
                                          result<std::optional<std::string>> passwd_tar) mutable {
      if (!passwd_tar) return done(passwd_tar.error());
      std::string passwd;
      if (passwd_tar.value()) passwd = read_tar_file(*passwd_tar.value(), "passwd").value_or("");
      e->get_archive(id, "/etc/group", [e, id, spec, passwd, files = std::move(files), done = std::move(done)](
                                           result<std::optional<std::string>> group_tar) mutable {
        if (!group_tar) return done(group_tar.error());
        std::string group;
        if (group_tar.value()) group = read_tar_file(*group_tar.value(), "group").value_or("");
        auto owner = resolve_owner(spec, passwd, group);
        if (!owner) return done(owner.error());
        put_files(e, id, files, owner.value(), std::move(done));
      });
    });
  });
}

}  // namespace cssh::docker
