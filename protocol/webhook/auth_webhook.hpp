#pragma once
// ContainerSSH's authentication webhook protocol (JSON over HTTP POST).
//
//   POST {url}/password  {username, remoteAddress, connectionId, clientVersion, passwordBase64,
//                         metadata, environment, files}
//   POST {url}/pubkey    the same with publicKey (authorized_keys format) instead of passwordBase64
//   POST {url}/authz     the same without credentials, plus authenticatedUsername
//                        (the config server receives this body too)
//   answer 200 {success: bool, authenticatedUsername?, metadata?, environment?, files?}
//
// metadata and environment map names to {value, sensitive}; files map absolute paths in the
// container to {value: base64 contents, sensitive}. What a login gathers travels along: every
// request carries what the earlier answers returned.

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/login_context.hpp"
#include "common/result.hpp"

namespace cssh::auth_webhook {

// The login's values (connection_metadata, login_context) are shared with the users file and
// the actors, so they live in common/login_context.hpp; the webhook speaks them.
using cssh::connection_metadata;
using cssh::login_context;
using cssh::meta_value;
using cssh::value_map;
using cssh::loggable;
using cssh::loggable_files;

struct auth_response {
  bool success = false;
  std::string authenticated_username;  // empty when the server did not say
  connection_metadata meta;
};

/// The JSON body for POST {url}/password (the password only as passwordBase64).
std::string encode_password_request(const login_context& login, const std::string& password);

/// The JSON body for POST {url}/pubkey.
std::string encode_pubkey_request(const login_context& login, const std::string& public_key);

/// The JSON body for POST {url}/authz and for the config server.
std::string encode_authz_request(const login_context& login, const std::string& authenticated_username);

/// Parses a 200 answer's body. Malformed JSON or a missing/mistyped field is a failure
/// (AUTH_WEBHOOK_BAD_RESPONSE) whose message says what was wrong and never echoes values.
result<auth_response> decode_auth_response(const std::string& body);

/// Reads the `metadata`, `environment` and `files` members of an answer object into `out`
/// (shared with the config server's answer). `who` starts messages ("auth webhook response").
result<void> read_connection_metadata(const nlohmann::json& answer, const std::string& who, connection_metadata& out);

std::string base64_encode(const std::string& raw);
/// Standard alphabet, padding optional; whitespace and any other character are an error.
result<std::string> base64_decode(const std::string& text);

}  // namespace cssh::auth_webhook
