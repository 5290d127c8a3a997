#include "docker/registry_auth.hpp"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>
#include <optional>

namespace cssh::docker {

namespace {

/// Standard base64 to bytes; nullopt when it is not base64.
std::optional<std::string> decode_base64(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n));
  // EVP_DecodeBlock counts padding as zero bytes.
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) out.pop_back();
  return out;
}

}  // namespace

std::string encode_registry_auth(const config::registry_auth_config& given) {
  if (given.empty()) return "";
  config::registry_auth_config auth = given;
  // The Engine authenticates pulls with username/password only; `auth` (base64 "user:password",
  // as in ~/.docker/config.json) is something the Docker CLI unpacks before sending. So do we.
  if (!auth.auth.empty() && auth.username.empty() && auth.password.empty()) {
    if (auto decoded = decode_base64(auth.auth)) {
      auto colon = decoded->find(':');
      if (colon != std::string::npos) {
        auth.username = decoded->substr(0, colon);
        auth.password = decoded->substr(colon + 1);
      }
    }
  }
  nlohmann::json body = nlohmann::json::object();
  auto put = [&body](const char* key, const std::string& value) {
    if (!value.empty()) body[key] = value;
  };
  put("username", auth.username);
  put("password", auth.password);
  put("auth", auth.auth);
  put("email", auth.email);
  put("serveraddress", auth.serveraddress);
  put("identitytoken", auth.identitytoken);
  put("registrytoken", auth.registrytoken);
  std::string json = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out(4 * ((json.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(json.data()), static_cast<int>(json.size()));
  out.resize(static_cast<std::size_t>(n));
  // The Engine decodes with Go's base64.URLEncoding: the URL alphabet, padding kept.
  for (auto& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

}  // namespace cssh::docker
