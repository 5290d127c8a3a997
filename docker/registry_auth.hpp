#pragma once
// Registry credentials for the Engine's pulls: Docker's AuthConfig as the X-Registry-Auth header.

#include <string>

#include "config/app_config.hpp"

namespace cssh::docker {

/// base64url (with padding) of the AuthConfig JSON, holding only the fields that are set, which
/// is what the Engine decodes. An `auth` value (base64 "user:password") without username and
/// password is unpacked into them, as the Docker CLI does: the Engine itself ignores it.
/// Empty when no credential is configured (no header is sent then).
std::string encode_registry_auth(const config::registry_auth_config& auth);

}  // namespace cssh::docker
