#pragma once
// From `docker.connection` to what the Engine client needs: where the Engine is, whether and
// how to speak TLS to it, and which API version to pin. Runs once at start-up.

#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/app_config.hpp"
#include "protocol/http/endpoint.hpp"

namespace cssh::docker {

struct engine_connection {
  http::endpoint endpoint;
  /// "" = negotiate; otherwise the version every request uses.
  std::string pinned_api_version;
  /// Things the operator must hear about at start-up (plain TCP, ignored settings).
  std::vector<std::string> warnings;
  /// True when the Engine is reached over TCP without TLS (the seed's "Danger").
  bool plain_tcp = false;
};

/// The rules:
/// - `unix:///path`: the socket; cert/key/cacert have no meaning there and are ignored (warned).
/// - `tcp://h:p`, `h:p`, `http://h:p` with any of cert/key/cacert: TLS. cacert verifies the
///   Engine (without it: the system's CAs); cert+key authenticate us (Docker's --tlsverify
///   daemons require them). The Engine's certificate must name the host connected to.
/// - `https://h:p`: TLS even without any of them (system CAs, no client certificate).
/// - TCP without any of them: plain HTTP, allowed as the seed allows it, with a loud warning.
/// Failures name the key (`docker.connection.cacert: ...`).
result<engine_connection> make_engine_connection(const config::docker_connection_config& c);

}  // namespace cssh::docker
