#pragma once
// The built-in users file (`auth.password.method: file`, `auth.publicKey.method: file`), in one
// of two shapes:
//
//   YAML:      users:
//                alice:
//                  password: "$y$j9T$..."              # crypt(3) hash (yescrypt, sha512-crypt, bcrypt)
//                  authorizedKeys: ["ssh-ed25519 AAAA... alice@laptop"]
//                  authorizedKeysFile: keys/alice.pub  # relative to the users file
//                  image: registry.example/alice:1     # per-user container image
//                  environment: {EDITOR: vim}          # per-user container environment
//
//   htpasswd:  alice:$y$j9T$...          (one `name:hash` per line, # comments)
//
// This file only parses; whether a hash is one libcrypt can check is auth/password_hash's job.

#include <map>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace cssh::config {

struct user_entry {
  std::string name;
  /// crypt(3) hash; empty: this user cannot log in with a password.
  std::string password_hash;
  /// authorized_keys lines given inline.
  std::vector<std::string> authorized_keys;
  /// An authorized_keys file (absolute, or made absolute against the users file's directory);
  /// read at every login, as sshd does. Empty: none.
  std::string authorized_keys_file;
  /// Overrides for this user's containers; empty: the configuration's.
  std::string image;
  std::map<std::string, std::string> environment;
};

struct users_file {
  std::map<std::string, user_entry> users;
};

/// Parses the text of a users file. `origin` (its path) prefixes messages and is the base for
/// relative authorizedKeysFile paths. Every problem is reported, one per line, with the key path
/// (e.g. "users.yaml: users.alice.passwrd: unknown key (did you mean `password`?)").
result<users_file> parse_users_file(const std::string& text, const std::string& origin);

/// Reads and parses the file; a missing or unreadable file names the path.
result<users_file> load_users_file(const std::string& path);

}  // namespace cssh::config
