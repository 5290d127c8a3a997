#include "protocol/webhook/auth_webhook.hpp"

namespace cssh::auth_webhook {
namespace {

using json = nlohmann::json;

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

bool valid_metadata_name(const std::string& name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

/// An absolute path inside the container, without "." or ".." components, control characters
/// or a trailing slash: where exactly the file lands must be obvious from the path.
bool valid_file_path(const std::string& path) {
  if (path.size() < 2 || path.front() != '/' || path.back() == '/') return false;
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f) return false;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

/// Names are not secret, but they come from outside: escape them before they reach a message.
std::string quoted(const std::string& s) { return json(s).dump(-1, ' ', false, json::error_handler_t::replace); }

json encode_values(const value_map& values, bool as_base64) {
  json out = json::object();
  for (const auto& [name, v] : values)
    out[name] = {{"value", as_base64 ? base64_encode(v.value) : v.value}, {"sensitive", v.sensitive}};
  return out;
}

json common_body(const login_context& login) {
  return {
      {"username", login.username},
      {"remoteAddress", login.remote_address},
      {"connectionId", login.connection_id},
      {"clientVersion", login.client_version},
      {"metadata", encode_values(login.meta.metadata, false)},
      {"environment", encode_values(login.meta.environment, false)},
      {"files", encode_values(login.meta.files, true)},
  };
}

// The username and client version come straight from the client and need not be UTF-8;
// replacing bad bytes beats throwing in the middle of an authentication.
std::string dump(const json& body) { return body.dump(-1, ' ', false, json::error_handler_t::replace); }

/// Reads one of the three maps. `kind` is "metadata", "environment" or "files".
result<void> read_values(const json& answer, const std::string& kind, const std::string& who, value_map& out) {
  auto bad = [&who](const std::string& what) { return fail("AUTH_WEBHOOK_BAD_RESPONSE", who + ": " + what); };
  auto member = answer.find(kind);
  if (member == answer.end() || member->is_null()) return {};
  if (!member->is_object()) return bad("`" + kind + "` must be an object, got " + type_of(*member));
  for (const auto& [name, entry] : member->items()) {
    if (kind == "environment" && !valid_env_name(name))
      return bad("`environment` has an invalid variable name " + quoted(name));
    if (kind == "metadata" && !valid_metadata_name(name)) return bad("`metadata` has an invalid name " + quoted(name));
    if (kind == "files" && !valid_file_path(name))
      return bad("`files` has an invalid path " + quoted(name) + " (absolute, no . or .. parts, no trailing /)");
    const std::string where = kind + "." + name;
    meta_value v;
    const json* value = nullptr;
    if (entry.is_string()) {
      value = &entry;  // a bare string: tolerated, not sensitive
    } else if (entry.is_object()) {
      auto found = entry.find("value");
      if (found == entry.end() || !found->is_string())
        return bad("`" + where + ".value` must be a string, got " +
                   (found == entry.end() ? std::string("nothing") : type_of(*found)));
      value = &*found;
      auto sensitive = entry.find("sensitive");
      if (sensitive != entry.end() && !sensitive->is_null()) {
        if (!sensitive->is_boolean()) return bad("`" + where + ".sensitive` must be a boolean, got " + type_of(*sensitive));
        v.sensitive = sensitive->get<bool>();
      }
    } else {
      return bad("`" + where + "` must be {value, sensitive}, got " + type_of(entry));
    }
    if (kind == "files") {
      auto decoded = base64_decode(value->get<std::string>());
      if (!decoded) return bad("`" + where + ".value` is not valid base64");
      v.value = std::move(decoded.value());
    } else {
      v.value = value->get<std::string>();
    }
    out[name] = std::move(v);
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

result<std::string> base64_decode(const std::string& text) {
  auto bad = [] { return fail("BASE64_INVALID", "not valid base64"); };
  auto digit = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::size_t len = text.size();
  std::size_t pad = 0;
  while (pad < 2 && len > 0 && text[len - 1] == '=') {
    --len;
    ++pad;
  }
  if (pad > 0 && (len + pad) % 4 != 0) return bad();
  if (len % 4 == 1) return bad();
  std::string out;
  out.reserve(len / 4 * 3 + 2);
  unsigned acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < len; ++i) {
    int d = digit(text[i]);
    if (d < 0) return bad();
    acc = (acc << 6) | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero, or two encodings would decode to the same bytes.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return bad();
  return out;
}

std::string encode_password_request(const login_context& login, const std::string& password) {
  json body = common_body(login);
  body["passwordBase64"] = base64_encode(password);
  return dump(body);
}

std::string encode_pubkey_request(const login_context& login, const std::string& public_key) {
  json body = common_body(login);
  body["publicKey"] = public_key;
  return dump(body);
}

std::string encode_authz_request(const login_context& login, const std::string& authenticated_username) {
  json body = common_body(login);
  body["authenticatedUsername"] = authenticated_username;
  return dump(body);
}

result<void> read_connection_metadata(const json& answer, const std::string& who, connection_metadata& out) {
  if (auto r = read_values(answer, "metadata", who, out.metadata); !r) return r;
  if (auto r = read_values(answer, "environment", who, out.environment); !r) return r;
  if (auto r = read_values(answer, "files", who, out.files); !r) return r;
  return {};
}

result<auth_response> decode_auth_response(const std::string& body) {
  const std::string who = "auth webhook response";
  auto bad = [&who](const std::string& what) { return fail("AUTH_WEBHOOK_BAD_RESPONSE", who + ": " + what); };
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    // e.what() quotes the offending bytes; only the position is safe to repeat.
    return bad("not valid JSON (error at byte " + std::to_string(e.byte) + " of " + std::to_string(body.size()) + ")");
  } catch (const json::exception&) {
    // A number no double holds (1e999) is out_of_range, not parse_error; uncaught, it killed the
    // shared auth actor and with it every later login (found by tests/fuzz/fuzz_auth_webhook).
    return bad("not valid JSON (a number out of range)");
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
  if (auto r = read_connection_metadata(j, who, out.meta); !r) return r.error();
  return out;
}

}  // namespace cssh::auth_webhook
