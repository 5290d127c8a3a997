#include <doctest/doctest.h>

#include <string>

#include "auth/authorized_keys.hpp"

using namespace cssh::auth;

TEST_CASE("authorized_keys: keys are found by type and data, comments do not matter") {
  std::vector<std::string> problems;
  auto keys = parse_authorized_keys(
      "# alice's keys\n"
      "\n"
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAA alice@laptop\n"
      "  ecdsa-sha2-nistp256 AAAAE2VjZHNh  \n"
      "ssh-rsa AAAAB3NzaC1yc2E= spaces in the comment\n"
      "from=\"10.0.0.0/8\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBB restricted\n"
      "ssh-ed25519 not/base64!\n",
      &problems);
  REQUIRE(keys.size() == 3);
  CHECK(key_listed("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAA", keys));
  CHECK(key_listed("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAA other-comment", keys));
  CHECK(key_listed("ecdsa-sha2-nistp256 AAAAE2VjZHNh", keys));
  CHECK(key_listed("ssh-rsa AAAAB3NzaC1yc2E=", keys));
  CHECK_FALSE(key_listed("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICCC", keys));
  CHECK_FALSE(key_listed("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIAAA", keys));  // same data, other type
  // A key with options is skipped (its from= cannot be honoured), never admitted.
  CHECK_FALSE(key_listed("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBB", keys));
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].starts_with("line 6: skipped: starts with options"));
  CHECK(problems[1].starts_with("line 7: skipped: the ssh-ed25519 key data is missing or not base64"));
  CHECK_FALSE(key_listed("", keys));
  CHECK_FALSE(key_listed("ssh-ed25519", keys));
}
