#include "auth/users_file_backend.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "auth/authorized_keys.hpp"
#include "auth/password_hash.hpp"
#include "common/log.hpp"

namespace cssh::auth {
namespace {

/// A yescrypt hash checked against for unknown users, so that a wrong user name takes about as
/// long as a wrong password and the timing does not tell which names exist.
const std::string& decoy_hash() {
  static const std::string hash = [] {
    auto made = hash_password("decoy", "$y$");
    return made ? made.value() : std::string();
  }();
  return hash;
}

result<std::string> read_text(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("AUTHORIZED_KEYS_UNREADABLE", path + ": " + (errno != 0 ? std::strerror(errno) : "open failed"));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail("AUTHORIZED_KEYS_UNREADABLE", path + ": read failed");
  return text.str();
}

file_verdict admitted(const config::user_entry& u) {
  file_verdict v;
  v.success = true;
  v.image = u.image;
  v.environment = u.environment;
  return v;
}

file_verdict refused(std::string reason) {
  file_verdict v;
  v.reason = std::move(reason);
  return v;
}

}  // namespace

result<config::users_file> users_file_backend::load_checked(const std::string& path) {
  auto loaded = config::load_users_file(path);
  if (!loaded) return loaded.error();
  std::string problems;
  for (const auto& [name, user] : loaded->users) {
    if (auto ok = user.password_hash.empty() ? result<void>{} : check_hash_format(user.password_hash); !ok)
      problems += (problems.empty() ? "" : "\n") + path + ": users." + name + ".password " + ok.error().message;
    std::vector<std::string> key_problems;
    for (const auto& line : user.authorized_keys) parse_authorized_keys(line, &key_problems);
    for (const auto& p : key_problems)
      problems += (problems.empty() ? "" : "\n") + path + ": users." + name + ".authorizedKeys: " + p;
  }
  if (!problems.empty()) return fail("USERS_FILE_INVALID", problems);
  return loaded;
}

result<std::shared_ptr<users_file_backend>> users_file_backend::open(const std::string& path) {
  std::shared_ptr<users_file_backend> backend(new users_file_backend(path));
  if (auto users = backend->current(); !users) {
    // current() logs reload trouble; at start the failure itself must stop the server.
    auto again = load_checked(path);
    if (!again) return again.error();
  }
  return backend;
}

std::shared_ptr<const config::users_file> users_file_backend::current() {
  std::lock_guard<std::mutex> lock(mu_);
  struct stat st{};
  file_stamp now;
  if (::stat(path_.c_str(), &st) == 0) {
    now.inode = st.st_ino;
    now.size = st.st_size;
    now.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  }
  if (users_ && now == stamp_) return users_;
  auto loaded = load_checked(path_);
  if (!loaded) {
    if (users_) {
      log::error("AUTH_USERS_FILE_RELOAD_FAILED",
                 "the users file changed but cannot be used; keeping the previous version: " + loaded.error().message,
                 {{"path", path_}});
      stamp_ = now;  // say it once per change, not at every login
    }
    return users_;
  }
  bool reloaded = users_ != nullptr;
  users_ = std::make_shared<const config::users_file>(std::move(loaded.value()));
  stamp_ = now;
  if (reloaded)
    log::notice("AUTH_USERS_FILE_RELOADED", "users file re-read", {{"path", path_}, {"users", users_->users.size()}});
  return users_;
}

file_verdict users_file_backend::check_password(const std::string& user, const std::string& password) {
  auto users = current();
  const config::user_entry* entry = nullptr;
  if (users) {
    auto it = users->users.find(user);
    if (it != users->users.end()) entry = &it->second;
  }
  if (entry == nullptr || entry->password_hash.empty()) {
    verify_password(password, decoy_hash());  // same cost as a real check; the answer is no anyway
    return refused(entry == nullptr ? "no such user in the users file" : "the user has no password in the users file");
  }
  if (!verify_password(password, entry->password_hash)) return refused("wrong password");
  return admitted(*entry);
}

file_verdict users_file_backend::check_public_key(const std::string& user, const std::string& public_key) {
  auto users = current();
  if (!users) return refused("the users file cannot be read");
  auto it = users->users.find(user);
  if (it == users->users.end()) return refused("no such user in the users file");
  const config::user_entry& entry = it->second;
  std::vector<authorized_key> keys;
  for (const auto& line : entry.authorized_keys) {
    auto parsed = parse_authorized_keys(line);
    keys.insert(keys.end(), parsed.begin(), parsed.end());
  }
  if (!entry.authorized_keys_file.empty()) {
    auto text = read_text(entry.authorized_keys_file);
    if (!text) {
      log::warning("AUTH_AUTHORIZED_KEYS_UNREADABLE", "cannot read the user's authorizedKeysFile: " + text.error().message,
                   {{"username", user}});
    } else {
      std::vector<std::string> problems;
      auto parsed = parse_authorized_keys(text.value(), &problems);
      keys.insert(keys.end(), parsed.begin(), parsed.end());
      for (const auto& p : problems)
        log::warning("AUTH_AUTHORIZED_KEYS_LINE_SKIPPED", entry.authorized_keys_file + ": " + p, {{"username", user}});
    }
  }
  if (!key_listed(public_key, keys)) return refused("the key is not among the user's authorized keys");
  return admitted(entry);
}

}  // namespace cssh::auth
