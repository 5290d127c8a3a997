#pragma once
// ContainerSSH's authentication webhook protocol (JSON over HTTP POST).
// POST {url}/password  {username, remoteAddress, connectionId, clientVersion, passwordBase64}
// answer 200 {success: bool, authenticatedUsername?, metadata?, environment?, files?}

#include <map>
#include <set>
#include <string>

#include "common/result.hpp"

namespace cssh::auth_webhook {

struct password_request {
  std::string username;
  std::string remote_address;  // "ip:port"
  std::string connection_id;
  std::string client_version;
  std::string password;        // raw; encoded as passwordBase64 on the wire
};

struct auth_response {
  bool success = false;
  std::string authenticated_username;  // empty when the server did not say
  /// environment values the container should get (value only; `sensitive` is kept apart)
  std::map<std::string, std::string> environment;
  /// names in `environment` the server marked sensitive: their values must never be logged
  std::set<std::string> sensitive_environment;
};

/// The JSON body for POST {url}/password.
std::string encode_password_request(const password_request& req);

/// Parses a 200 answer's body. Malformed JSON or a missing/mistyped `success` is a failure
/// whose message says what was wrong (and never echoes secrets).
result<auth_response> decode_auth_response(const std::string& body);

std::string base64_encode(const std::string& raw);

}  // namespace cssh::auth_webhook
