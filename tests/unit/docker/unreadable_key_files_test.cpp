// Key and certificate files that cannot be read: each is refused at start-up with an error naming
// the configuration key it came from (the loader only sees the path; the file is read where it is
// used: the Engine connection, the webhook clients, the SSH host keys).

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "docker/engine_connection.hpp"
#include "protocol/ssh/host_keys.hpp"
#include "protocol/webhook/client.hpp"

namespace {

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/cssh-keyfiles-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
    return path + "/" + name;
  }
};

struct file_row {
  const char* what;
  const char* key_path;  // the error must name this key ...
  const char* says;      // ... and say this
  std::function<cssh::failure(const temp_dir&)> attempt;
};

cssh::failure engine_failure(const cssh::config::docker_connection_config& c) {
  auto r = cssh::docker::make_engine_connection(c);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

cssh::failure webhook_failure(const cssh::webhook::client_settings& s, const std::string& where) {
  auto r = cssh::webhook::make_client(s, where);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

const std::vector<file_row> rows = {
    {"docker.connection.cert: a missing file", "docker.connection.cert", "No such file",
     [](const temp_dir& d) {
       cssh::config::docker_connection_config c;
       c.host = "tcp://127.0.0.1:2376";
       c.cert = d.path + "/missing-cert.pem";
       c.key = d.write("key.pem", "not a key");
       return engine_failure(c);
     }},
    {"docker.connection.cacert: a directory", "docker.connection.cacert", "holds no PEM block",
     [](const temp_dir& d) {
       cssh::config::docker_connection_config c;
       c.host = "tcp://127.0.0.1:2376";
       c.cacert = d.path;
       return engine_failure(c);
     }},
    {"auth.password.webhook.cacert: a missing file", "auth.password.webhook.cacert", "No such file",
     [](const temp_dir& d) {
       cssh::webhook::client_settings s;
       s.url = "https://127.0.0.1:1/auth";
       s.cacert = d.path + "/missing-ca.pem";
       return webhook_failure(s, "auth.password.webhook");
     }},
    {"configserver.key: a missing file", "configserver.key", "No such file",
     [](const temp_dir& d) {
       cssh::webhook::client_settings s;
       s.url = "https://127.0.0.1:1/config";
       s.cert = d.write("cert.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
       s.key = d.path + "/missing-key.pem";
       return webhook_failure(s, "configserver");
     }},
    {"ssh.hostkeys: a directory", "ssh.hostkeys", "not a readable private key",
     [](const temp_dir& d) {
       auto r = cssh::ssh::load_host_keys({d.path});
       REQUIRE_FALSE(r.ok());
       return r.error();
     }},
    {"ssh.hostkeys: a file that is not a key", "ssh.hostkeys", "not a readable private key",
     [](const temp_dir& d) {
       auto r = cssh::ssh::load_host_keys({d.write("hostkey", "garbage\n")});
       REQUIRE_FALSE(r.ok());
       return r.error();
     }},
};

}  // namespace

TEST_CASE("unreadable key and certificate files are refused naming their configuration key") {
  for (const auto& row : rows) {
    CAPTURE(row.what);
    temp_dir dir;
    auto f = row.attempt(dir);
    CAPTURE(f.code);
    CAPTURE(f.message);
    CHECK(f.message.find(std::string(row.key_path) + ":") != std::string::npos);
    CHECK(f.message.find(row.says) != std::string::npos);
  }
}
