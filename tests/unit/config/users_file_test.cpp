// Parsing the built-in users file (YAML and htpasswd shapes).

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "config/users_file.hpp"
#include "config_test_helpers.hpp"

using namespace cssh::config;
using config_test::contains;

namespace {

std::string bad(const std::string& text) {
  auto r = parse_users_file(text, "/etc/cssh/users.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "USERS_FILE_INVALID");
  return r.error().message;
}

}  // namespace

TEST_CASE("users file: YAML with every per-user key") {
  auto r = parse_users_file(R"(
users:
  alice:
    password: "$y$j9T$abc$def"
    authorizedKeys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA alice@laptop
    authorizedKeysFile: keys/alice.pub
    image: alice-image:1
    environment:
      EDITOR: vim
  bob:
    authorizedKeys: ssh-rsa AAAAB3Nza bob
    authorizedKeysFile: /home/bob/.ssh/authorized_keys
)",
                            "/etc/cssh/users.yaml");
  REQUIRE(r.ok());
  REQUIRE(r->users.size() == 2);
  const user_entry& a = r->users.at("alice");
  CHECK(a.password_hash == "$y$j9T$abc$def");
  CHECK(a.authorized_keys == std::vector<std::string>{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA alice@laptop"});
  CHECK(a.authorized_keys_file == "/etc/cssh/keys/alice.pub");  // relative to the users file
  CHECK(a.image == "alice-image:1");
  CHECK(a.environment == std::map<std::string, std::string>{{"EDITOR", "vim"}});
  const user_entry& b = r->users.at("bob");
  CHECK(b.password_hash.empty());
  CHECK(b.authorized_keys.size() == 1);  // a single string is a one-line list
  CHECK(b.authorized_keys_file == "/home/bob/.ssh/authorized_keys");
}

TEST_CASE("users file: htpasswd lines") {
  auto r = parse_users_file("# comment\nalice:$y$j9T$abc$def\n\nbob:$2y$05$xyz\n", "users.htpasswd");
  REQUIRE(r.ok());
  CHECK(r->users.at("alice").password_hash == "$y$j9T$abc$def");
  CHECK(r->users.at("bob").password_hash == "$2y$05$xyz");
  CHECK(contains(parse_users_file("alice:x\nalice:y\n", "f").error().message, "user \"alice\" is listed twice"));
}

TEST_CASE("users file: mistakes are named with their key path") {
  CHECK(contains(bad("users:\n  alice:\n    passwrd: x\n"),
                 "/etc/cssh/users.yaml: users.alice.passwrd: unknown key (did you mean `password`?)"));
  CHECK(contains(bad("users:\n  alice: secret\n"), "users.alice: expected a map"));
  CHECK(contains(bad("users:\n  alice: {image: x}\n"), "users.alice: has neither a password nor authorized keys"));
  CHECK(contains(bad("users:\n  alice:\n    password: x\n    environment: {\"A=B\": 1}\n"),
                 "users.alice.environment.A=B: is not a valid variable name"));
  CHECK(contains(bad("users: [alice]\n"), "users: expected a map of user names"));
  CHECK(contains(bad("groups: {}\n"), "groups: unknown key"));
  CHECK(contains(bad(""), "users: required"));
  CHECK(contains(bad("users:\n  alice: [\n"), "not valid YAML at line"));
}

TEST_CASE("users file: load_users_file names a missing file") {
  auto r = load_users_file("/nonexistent/users.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "USERS_FILE_UNREADABLE");
  CHECK(contains(r.error().message, "/nonexistent/users.yaml"));

  char path[] = "/tmp/cssh-users-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << "users:\n  carol:\n    password: \"$6$x$y\"\n";
  auto loaded = load_users_file(path);
  std::remove(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->users.at("carol").password_hash == "$6$x$y");
}
