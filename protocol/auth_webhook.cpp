#include "protocol/auth_webhook.hpp"

#include <nlohmann/json.hpp>

namespace cssh::auth_webhook {
namespace {

using json = nlohmann::json;

constexpr const char* bad_response = "AUTH_WEBHOOK_BAD_RESPONSE";

failure bad(const std::string& what) { return fail(bad_response, "auth webhook response: " + what); }

/// JSON type names for messages; values themselves are never quoted (they may be secrets).
std::string type_of(const json& j) {
  if (j.is_boolean()) return "a boolean";
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_array()) return "a list";
  if (j.is_object()) return "an object";
  return "null";
}

/// A variable name the container can take: non-empty, no '=' (it would split "K=V" wrongly) and
/// no control characters (a newline in a name would forge lines in our logs).
bool valid_env_name(const std::string& name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (c == '=' || c < 0x20 || c == 0x7f) return false;
  return true;
}

/// Names are not secret, but they come from outside: escape them before they reach a message.
std::string quoted(const std::string& s) { return json(s).dump(-1, ' ', false, json::error_handler_t::replace); }

result<void> read_environment(const json& env, auth_response& out) {
  if (env.is_null()) return {};
  if (!env.is_object()) return bad("`environment` must be an object, got " + type_of(env));
  for (const auto& [name, entry] : env.items()) {
    if (!valid_env_name(name)) return bad("`environment` has an invalid variable name " + quoted(name));
    const std::string where = "environment." + name;
    if (entry.is_string()) {
      out.environment[name] = entry.get<std::string>();
      continue;
    }
    // ContainerSSH's metadata shape: {"value": "...", "sensitive": true}.
    if (!entry.is_object()) return bad("`" + where + "` must be a string or {value, sensitive}, got " + type_of(entry));
    auto value = entry.find("value");
    if (value == entry.end() || !value->is_string())
      return bad("`" + where + ".value` must be a string, got " +
                 (value == entry.end() ? std::string("nothing") : type_of(*value)));
    auto sensitive = entry.find("sensitive");
    if (sensitive != entry.end() && !sensitive->is_null() && !sensitive->is_boolean())
      return bad("`" + where + ".sensitive` must be a boolean, got " + type_of(*sensitive));
    out.environment[name] = value->get<std::string>();
    if (sensitive != entry.end() && sensitive->is_boolean() && sensitive->get<bool>())
      out.sensitive_environment.insert(name);
  }
  return {};
}

}  // namespace

std::string base64_encode(const std::string& raw) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((raw.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(raw[i]) << 16) | (static_cast<unsigned char>(raw[i + 1]) << 8) |
                 static_cast<unsigned char>(raw[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  std::size_t rest = raw.size() - i;
  if (rest > 0) {
    unsigned n = static_cast<unsigned char>(raw[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned char>(raw[i + 1]) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string encode_password_request(const password_request& req) {
  json body = {
      {"username", req.username},
      {"remoteAddress", req.remote_address},
      {"connectionId", req.connection_id},
      {"clientVersion", req.client_version},
      {"passwordBase64", base64_encode(req.password)},
  };
  // The username and client version come straight from the client and need not be UTF-8;
  // replacing bad bytes beats throwing in the middle of an authentication.
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

result<auth_response> decode_auth_response(const std::string& body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    // e.what() quotes the offending bytes; only the position is safe to repeat.
    return bad("not valid JSON (error at byte " + std::to_string(e.byte) + " of " + std::to_string(body.size()) +
               ")");
  }
  if (!j.is_object()) return bad("expected a JSON object, got " + type_of(j));

  auth_response out;
  auto success = j.find("success");
  if (success == j.end()) return bad("`success` is missing");
  if (!success->is_boolean()) return bad("`success` must be a boolean, got " + type_of(*success));
  out.success = success->get<bool>();

  if (auto user = j.find("authenticatedUsername"); user != j.end() && !user->is_null()) {
    if (!user->is_string()) return bad("`authenticatedUsername` must be a string, got " + type_of(*user));
    out.authenticated_username = user->get<std::string>();
  }
  if (auto env = j.find("environment"); env != j.end()) {
    if (auto r = read_environment(*env, out); !r) return r.error();
  }
  return out;
}

}  // namespace cssh::auth_webhook
