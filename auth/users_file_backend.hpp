#pragma once
// The built-in authentication backend (`method: file`): checks passwords against the users
// file's crypt(3) hashes and public keys against its authorized keys, and hands out the
// per-user overrides (image, environment). Re-reads the file when it changes (a file that no
// longer parses is logged and the last good version kept), and reads authorizedKeysFile at
// every check, as sshd reads authorized_keys.
//
// Thread-safe. check_password runs the hash function and blocks for as long: call it from a
// thread that may block (the auth actor uses detached workers).

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <sys/types.h>

#include "common/result.hpp"
#include "config/users_file.hpp"

namespace cssh::auth {

struct file_verdict {
  bool success = false;
  std::string reason;  // why not, for the log (never the password)
  std::string image;   // per-user image override, "" = none
  std::map<std::string, std::string> environment;
};

class users_file_backend {
 public:
  /// Loads the file and checks every password hash; any problem fails with every reason.
  static result<std::shared_ptr<users_file_backend>> open(const std::string& path);

  file_verdict check_password(const std::string& user, const std::string& password);
  file_verdict check_public_key(const std::string& user, const std::string& public_key);

  const std::string& path() const { return path_; }

 private:
  struct file_stamp {
    ino_t inode = 0;
    off_t size = -1;
    long long mtime_ns = 0;
    bool operator==(const file_stamp&) const = default;
  };
  explicit users_file_backend(std::string path) : path_(std::move(path)) {}
  static result<config::users_file> load_checked(const std::string& path);
  /// The current users, re-read first when the file changed since the last look.
  std::shared_ptr<const config::users_file> current();

  std::string path_;
  std::mutex mu_;
  std::shared_ptr<const config::users_file> users_;
  file_stamp stamp_;
};

}  // namespace cssh::auth
