// The log destinations: a file reopened after logrotate moved it, syslog over a Unix datagram
// socket and over UDP, and the one-line-per-event rule of both formats.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.hpp"

using namespace cssh;

namespace {

std::string temp_path(const std::string& name) { return "/tmp/cssh-log-test-" + std::to_string(::getpid()) + "-" + name; }

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// Receives one datagram (waits up to 2 s).
std::string receive(int fd) {
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

struct restore_stdout {
  ~restore_stdout() {
    log::to_stdout();
    log::set_format_json(false);
    log::set_level(log::level::notice);
  }
};

}  // namespace

TEST_CASE("log: ContainerSSH's level names") {
  CHECK(log::level_name(log::level::critical) == "crit");
  CHECK(log::level_name(log::level::emergency) == "emerg");
  CHECK(log::level_name(log::level::warning) == "warning");
  log::level lv{};
  for (const char* name : {"crit", "critical"}) {
    REQUIRE(log::parse_level(name, lv));
    CHECK(lv == log::level::critical);
  }
  CHECK(log::parse_level("emerg", lv));
  CHECK_FALSE(log::parse_level("loud", lv));
  CHECK(log::syslog_facility("auth") == 4);
  CHECK(log::syslog_facility("local7") == 23);
  CHECK(log::syslog_facility("nope") == -1);
}

TEST_CASE("log: file destination, ljson lines, reopened after a rename") {
  restore_stdout restore;
  const std::string path = temp_path("file.log");
  const std::string rotated = path + ".1";
  std::remove(path.c_str());
  std::remove(rotated.c_str());
  REQUIRE(log::to_file(path).ok());
  log::set_format_json(true);
  log::set_level(log::level::debug);
  log::info("TEST_FIRST", "first line", {{"connectionId", "abc"}, {"username", "alice"}});
  // logrotate: move the file away, then SIGHUP (reopen) makes a new one under the old name.
  REQUIRE(std::rename(path.c_str(), rotated.c_str()) == 0);
  log::info("TEST_SECOND", "still into the moved file");
  REQUIRE(log::reopen().ok());
  log::warning("TEST_THIRD", "into the new file\nwith a newline");
  auto old_lines = lines_of(rotated);
  auto new_lines = lines_of(path);
  REQUIRE(old_lines.size() == 2);
  REQUIRE(new_lines.size() == 1);
  auto first = nlohmann::json::parse(old_lines[0]);
  CHECK(first["code"] == "TEST_FIRST");
  CHECK(first["level"] == "info");
  CHECK(first["message"] == "first line");
  CHECK(first["details"]["connectionId"] == "abc");
  CHECK(first["timestamp"].get<std::string>().size() >= 20);
  auto third = nlohmann::json::parse(new_lines[0]);
  CHECK(third["code"] == "TEST_THIRD");
  CHECK(third["level"] == "warning");
  CHECK(third["message"] == "into the new file\nwith a newline");
  std::remove(path.c_str());
  std::remove(rotated.c_str());
  CHECK_FALSE(log::to_file("/nonexistent-dir/x.log").ok());
}

TEST_CASE("log: text format keeps one event on one line") {
  restore_stdout restore;
  const std::string path = temp_path("text.log");
  std::remove(path.c_str());
  REQUIRE(log::to_file(path).ok());
  log::set_format_json(false);
  log::notice("TEST_TEXT", "a user named \"x\nTEST_FORGED\" logged in");
  auto lines = lines_of(path);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("\tnotice\tTEST_TEXT\t") != std::string::npos);
  CHECK(lines[0].find("\\nTEST_FORGED") != std::string::npos);
  std::remove(path.c_str());
}

TEST_CASE("log: syslog over a Unix datagram socket") {
  restore_stdout restore;
  const std::string path = temp_path("syslog.sock");
  ::unlink(path.c_str());
  int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  log::syslog_target target;
  target.destination = path;
  target.facility = log::syslog_facility("local3");
  target.tag = "cssh-unit";
  target.pid = true;
  REQUIRE(log::to_syslog(target).ok());
  log::set_format_json(true);
  log::error("TEST_SYSLOG", "to syslog", {{"username", "bob"}});
  std::string msg = receive(fd);
  // local3 (19) * 8 + error (3) = 155
  CHECK(msg.rfind("<155>", 0) == 0);
  auto tag = msg.find(" cssh-unit[" + std::to_string(::getpid()) + "]: ");
  REQUIRE(tag != std::string::npos);
  auto json = nlohmann::json::parse(msg.substr(msg.find(": {") + 2));
  CHECK(json["code"] == "TEST_SYSLOG");
  CHECK(json["level"] == "error");
  ::close(fd);
  ::unlink(path.c_str());
  target.destination = temp_path("absent.sock");
  CHECK_FALSE(log::to_syslog(target).ok());
}

TEST_CASE("log: syslog over UDP carries the host name") {
  restore_stdout restore;
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  log::syslog_target target;
  target.destination = "udp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  REQUIRE(log::to_syslog(target).ok());
  log::set_format_json(false);
  log::warning("TEST_UDP", "over udp");
  std::string msg = receive(fd);
  CHECK(msg.rfind("<36>", 0) == 0);  // auth (4) * 8 + warning (4)
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  CHECK(msg.find(std::string(" ") + host + " ContainerSSH: ") != std::string::npos);
  CHECK(msg.find("\twarning\tTEST_UDP\tover udp") != std::string::npos);
  ::close(fd);
  target.destination = "udp://nohostport";
  CHECK_FALSE(log::to_syslog(target).ok());
}
