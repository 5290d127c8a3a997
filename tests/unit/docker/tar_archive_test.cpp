// The tar archives sent to the Engine: checked with GNU tar itself and with our own reader.

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "docker/container_files.hpp"
#include "docker/tar_archive.hpp"

using namespace cssh::docker;

namespace {

/// Runs a shell command and returns its stdout.
std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

}  // namespace

TEST_CASE("tar: GNU tar lists our archive with modes, owners and contents") {
  std::string long_path = "home/user/" + std::string(120, 'd') + "/" + std::string(60, 'f') + ".txt";
  std::string archive = build_tar({{"etc/cssh-test/greeting", "hello file\n", 0600, 1000, 1000},
                                   {"root/.token", std::string("\0bin\xff", 5), 0600, 0, 0},
                                   {long_path, "deep", 0640, 7, 8}});
  CHECK(archive.size() % 512 == 0);
  char path[] = "/tmp/cssh-tar-test-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, archive.data(), archive.size()) == static_cast<ssize_t>(archive.size()));
  close(fd);
  std::string listing = run(std::string("tar --numeric-owner -tvf ") + path + " 2>&1");
  std::string greeting = run(std::string("tar -xOf ") + path + " etc/cssh-test/greeting");
  std::string deep = run(std::string("tar -xOf ") + path + " " + long_path);
  std::remove(path);
  INFO(listing);
  CHECK(listing.find("-rw------- 1000/1000        11 ") != std::string::npos);
  CHECK(listing.find("etc/cssh-test/greeting") != std::string::npos);
  CHECK(listing.find("-rw------- 0/0               5 ") != std::string::npos);
  CHECK(listing.find("-rw-r----- 7/8               4 ") != std::string::npos);
  CHECK(listing.find(long_path) != std::string::npos);
  CHECK(greeting == "hello file\n");
  CHECK(deep == "deep");
}

TEST_CASE("tar: our reader finds a file, ./ prefixes and long names included") {
  std::string long_name = std::string(150, 'x') + "/" + std::string(120, 'y');
  std::string archive = build_tar({{"passwd", "root:x:0:0::/root:/bin/sh\n"}, {long_name, "long"}});
  CHECK(read_tar_file(archive, "passwd").value() == "root:x:0:0::/root:/bin/sh\n");
  CHECK(read_tar_file(archive, long_name).value() == "long");
  CHECK_FALSE(read_tar_file(archive, "group").has_value());
  CHECK_FALSE(read_tar_file("garbage", "passwd").has_value());
  CHECK_FALSE(read_tar_file(archive.substr(0, 600), "x").has_value());  // truncated
}

TEST_CASE("file owner: Docker's user setting against the image's passwd and group") {
  const std::string passwd = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\nweb:x:33:44::/:/bin/false\n";
  const std::string group = "root:x:0:\nstaff:x:50:user\nuser:x:1000:\n";
  auto owner = [&](const std::string& spec) {
    auto r = resolve_owner(spec, passwd, group);
    REQUIRE(r.ok());
    return std::make_pair(r->uid, r->gid);
  };
  CHECK(owner("") == std::make_pair(0u, 0u));
  CHECK(owner("root") == std::make_pair(0u, 0u));
  CHECK(owner("user") == std::make_pair(1000u, 1000u));
  CHECK(owner("web") == std::make_pair(33u, 44u));
  CHECK(owner("1000") == std::make_pair(1000u, 1000u));   // primary group from passwd
  CHECK(owner("4242") == std::make_pair(4242u, 0u));      // unknown uid: group 0, as the Engine
  CHECK(owner("4242:77") == std::make_pair(4242u, 77u));
  CHECK(owner("user:staff") == std::make_pair(1000u, 50u));
  CHECK(owner("web:1") == std::make_pair(33u, 1u));
  CHECK(resolve_owner("root", "", "").ok());  // an image without /etc/passwd
  CHECK(resolve_owner("nobody", passwd, group).error().message == "user \"nobody\" is not in the image's /etc/passwd");
  CHECK(resolve_owner("user:wheel", passwd, group).error().message == "group \"wheel\" is not in the image's /etc/group");
  CHECK_FALSE(owner_needs_lookup(""));
  CHECK_FALSE(owner_needs_lookup("0:0"));
  CHECK_FALSE(owner_needs_lookup("root"));
  CHECK(owner_needs_lookup("1000"));
  CHECK(owner_needs_lookup("user"));
  CHECK(owner_needs_lookup("0:staff"));
}
