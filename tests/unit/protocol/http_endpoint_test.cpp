#include <doctest/doctest.h>

#include "protocol/http/endpoint.hpp"

using cssh::http::endpoint;
using cssh::http::parse_docker_host;
using cssh::http::parse_url;

TEST_CASE("docker host: unix socket") {
  auto r = parse_docker_host("unix:///var/run/docker.sock");
  REQUIRE(r.ok());
  CHECK(r->kind == endpoint::transport::unix_socket);
  CHECK(r->socket_path == "/var/run/docker.sock");
  CHECK_FALSE(r->tls);
  CHECK(r->host_header() == "localhost");
  CHECK(r->describe() == "unix:///var/run/docker.sock");
}

TEST_CASE("docker host: tcp, http and the bare host:port form") {
  for (const char* text : {"tcp://127.0.0.1:2375", "http://127.0.0.1:2375", "127.0.0.1:2375", "TCP://127.0.0.1:2375/"}) {
    CAPTURE(text);
    auto r = parse_docker_host(text);
    REQUIRE(r.ok());
    CHECK(r->kind == endpoint::transport::tcp);
    CHECK(r->host == "127.0.0.1");
    CHECK(r->port == 2375);
    CHECK_FALSE(r->tls);
    CHECK(r->host_header() == "127.0.0.1:2375");
    CHECK(r->describe() == "http://127.0.0.1:2375");
  }
}

TEST_CASE("docker host: default ports and TLS") {
  auto plain = parse_docker_host("tcp://docker.example");
  REQUIRE(plain.ok());
  CHECK(plain->host == "docker.example");
  CHECK(plain->port == 2375);
  auto secure = parse_docker_host("https://docker.example");
  REQUIRE(secure.ok());
  CHECK(secure->tls);
  CHECK(secure->port == 2376);
  CHECK(secure->describe() == "https://docker.example:2376");
}

TEST_CASE("docker host: IPv6 in brackets") {
  auto r = parse_docker_host("tcp://[::1]:2375");
  REQUIRE(r.ok());
  CHECK(r->host == "::1");
  CHECK(r->port == 2375);
  CHECK(r->host_header() == "[::1]:2375");
  CHECK(r->describe() == "http://[::1]:2375");
}

TEST_CASE("docker host: errors name the text") {
  for (const char* text : {"", "unix://", "unix://relative.sock", "npipe:////./pipe/docker_engine", "tcp://host:0",
                           "tcp://host:99999", "tcp://host:abc", "tcp://:2375", "tcp://host:2375/v1.41", "::1:2375",
                           "tcp://[::1", "tcp://[::1]x"}) {
    CAPTURE(text);
    auto r = parse_docker_host(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "HTTP_ENDPOINT_INVALID");
    CHECK(r.error().message.find("\"" + std::string(text) + "\"") != std::string::npos);
  }
}

TEST_CASE("url: host, port and base path") {
  auto r = parse_url("http://auth.example:8080/containerssh/auth/");
  REQUIRE(r.ok());
  CHECK(r->kind == endpoint::transport::tcp);
  CHECK(r->host == "auth.example");
  CHECK(r->port == 8080);
  CHECK_FALSE(r->tls);
  CHECK(r->base_path == "/containerssh/auth");
  CHECK(r->host_header() == "auth.example:8080");
  CHECK(r->describe() == "http://auth.example:8080");
}

TEST_CASE("url: default ports, no path") {
  auto plain = parse_url("http://auth.example");
  REQUIRE(plain.ok());
  CHECK(plain->port == 80);
  CHECK(plain->base_path.empty());
  CHECK(plain->host_header() == "auth.example");  // default port is left out of Host
  auto slash = parse_url("http://auth.example/");
  REQUIRE(slash.ok());
  CHECK(slash->base_path.empty());
  auto secure = parse_url("HTTPS://auth.example/x");
  REQUIRE(secure.ok());
  CHECK(secure->tls);
  CHECK(secure->port == 443);
  CHECK(secure->base_path == "/x");
  CHECK(secure->host_header() == "auth.example");
}

TEST_CASE("url: IPv6") {
  auto r = parse_url("http://[::1]:8080/hook");
  REQUIRE(r.ok());
  CHECK(r->host == "::1");
  CHECK(r->port == 8080);
  CHECK(r->base_path == "/hook");
  CHECK(r->host_header() == "[::1]:8080");
  auto no_port = parse_url("http://[fe80::1]");
  REQUIRE(no_port.ok());
  CHECK(no_port->port == 80);
  CHECK(no_port->host_header() == "[fe80::1]");
}

TEST_CASE("url: errors name the text") {
  for (const char* text : {"", "auth.example:8080", "ftp://auth.example", "http://", "http://:80/x",
                           "http://user:pw@auth.example/", "http://auth.example:0", "http://auth.example/x?y=1",
                           "unix:///var/run/docker.sock"}) {
    CAPTURE(text);
    auto r = parse_url(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "HTTP_ENDPOINT_INVALID");
    CHECK(r.error().message.find("\"" + std::string(text) + "\"") != std::string::npos);
  }
}
