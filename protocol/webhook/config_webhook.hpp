#pragma once
// ContainerSSH's configuration server protocol: after authentication, POST {configserver.url}
// (the URL exactly as configured) with the body of an authz request
// (auth_webhook::encode_authz_request); the answer 200 is
//   {config: <partial configuration, ContainerSSH's layout>, metadata?, environment?, files?}

#include <nlohmann/json.hpp>
#include <string>

#include "common/result.hpp"
#include "protocol/webhook/auth_webhook.hpp"

namespace cssh::config_webhook {

struct config_response {
  /// The partial configuration; an empty object when the server sent none.
  nlohmann::json config = nlohmann::json::object();
  auth_webhook::connection_metadata meta;
};

/// Parses a 200 answer's body. Malformed JSON, a `config` that is not an object, or bad
/// metadata is a failure (CONFIG_SERVER_BAD_RESPONSE) that never echoes values.
result<config_response> decode_config_response(const std::string& body);

}  // namespace cssh::config_webhook
