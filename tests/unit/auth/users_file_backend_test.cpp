// The built-in backend: passwords per hash method, keys inline and from a file, per-user
// overrides, and re-reading the users file when it changes.

#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "auth/password_hash.hpp"
#include "auth/users_file_backend.hpp"

using namespace cssh::auth;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    char tmpl[] = "/tmp/cssh-users-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~temp_dir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    auto p = path / name;
    std::ofstream(p) << text;
    return p.string();
  }
};

std::string hash(const std::string& pw, const char* prefix, unsigned long cost) {
  auto h = hash_password(pw, prefix, cost);
  REQUIRE(h.ok());
  return h.value();
}

const std::string key_a = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const std::string key_b = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const std::string key_c = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";

}  // namespace

TEST_CASE("users file backend: passwords in each hash format, keys, overrides") {
  temp_dir dir;
  dir.write("carol.keys", "# carol\n" + key_c + " carol@host\n");
  std::string path = dir.write("users.yaml", "users:\n"
                                             "  yes:\n    password: \"" + hash("pw-y", "$y$", 3) + "\"\n"
                                             "  sha:\n    password: \"" + hash("pw-6", "$6$", 1000) + "\"\n"
                                             "  bee:\n    password: \"" + hash("pw-2b", "$2b$", 4) + "\"\n"
                                             "    image: bee-image:2\n"
                                             "    environment: {COLOUR: yellow}\n"
                                             "  keyed:\n    authorizedKeys: [\"" + key_a + " a@host\"]\n"
                                             "    authorizedKeysFile: carol.keys\n");
  auto opened = users_file_backend::open(path);
  REQUIRE(opened.ok());
  auto& b = *opened.value();

  CHECK(b.check_password("yes", "pw-y").success);
  CHECK_FALSE(b.check_password("yes", "pw-6").success);
  CHECK(b.check_password("sha", "pw-6").success);
  CHECK_FALSE(b.check_password("sha", "pw-y").success);
  auto bee = b.check_password("bee", "pw-2b");
  CHECK(bee.success);
  CHECK(bee.image == "bee-image:2");
  CHECK(bee.environment == std::map<std::string, std::string>{{"COLOUR", "yellow"}});
  auto wrong = b.check_password("bee", "pw-2B");
  CHECK_FALSE(wrong.success);
  CHECK(wrong.reason == "wrong password");
  CHECK(b.check_password("nobody", "pw-y").reason == "no such user in the users file");
  CHECK(b.check_password("keyed", "").reason == "the user has no password in the users file");

  CHECK(b.check_public_key("keyed", key_a).success);
  CHECK(b.check_public_key("keyed", key_c + " other-comment").success);  // from authorizedKeysFile
  auto unknown = b.check_public_key("keyed", key_b);
  CHECK_FALSE(unknown.success);
  CHECK(unknown.reason == "the key is not among the user's authorized keys");
  CHECK_FALSE(b.check_public_key("yes", key_a).success);
  CHECK_FALSE(b.check_public_key("nobody", key_a).success);

  SUBCASE("authorizedKeysFile is read at every check") {
    dir.write("carol.keys", key_b + "\n");
    CHECK(b.check_public_key("keyed", key_b).success);
    CHECK_FALSE(b.check_public_key("keyed", key_c).success);
  }
  SUBCASE("a changed users file is re-read; a broken one keeps the last good version") {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a distinct mtime
    dir.write("users.yaml", "users:\n  newbie:\n    password: \"" + hash("fresh", "$6$", 1000) + "\"\n");
    CHECK(b.check_password("newbie", "fresh").success);
    CHECK_FALSE(b.check_password("sha", "pw-6").success);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    dir.write("users.yaml", "users:\n  newbie: [broken\n");
    CHECK(b.check_password("newbie", "fresh").success);
  }
}

TEST_CASE("users file backend: a file with plain text or unsupported hashes does not open") {
  temp_dir dir;
  auto r = users_file_backend::open(
      dir.write("users.yaml", "users:\n  alice:\n    password: hunter2\n  bob:\n    password: \"$apr1$x$y\"\n"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "USERS_FILE_INVALID");
  CHECK(r.error().message.find("users.alice.password is plain text or a legacy hash") != std::string::npos);
  CHECK(r.error().message.find("users.bob.password is not a crypt(3) hash") != std::string::npos);
  CHECK(r.error().message.find("hunter2") == std::string::npos);

  auto keys = users_file_backend::open(
      dir.write("keys.yaml", "users:\n  alice:\n    authorizedKeys: [\"command=\\\"x\\\" " + key_a + "\"]\n"));
  REQUIRE_FALSE(keys.ok());
  CHECK(keys.error().message.find("users.alice.authorizedKeys: line 1: skipped: starts with options") != std::string::npos);

  auto missing = users_file_backend::open((dir.path / "absent.yaml").string());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == "USERS_FILE_UNREADABLE");
}

TEST_CASE("users file backend: htpasswd files work too") {
  temp_dir dir;
  auto r = users_file_backend::open(dir.write("users.htpasswd", "alice:" + hash("pw", "$2b$", 4) + "\n"));
  REQUIRE(r.ok());
  CHECK(r.value()->check_password("alice", "pw").success);
  CHECK_FALSE(r.value()->check_password("alice", "px").success);
}
