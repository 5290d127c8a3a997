#include "protocol/webhook/config_webhook.hpp"

namespace cssh::config_webhook {

result<config_response> decode_config_response(const std::string& body) {
  const std::string who = "config server response";
  auto bad = [&who](const std::string& what) { return fail("CONFIG_SERVER_BAD_RESPONSE", who + ": " + what); };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    return bad("not valid JSON (error at byte " + std::to_string(e.byte) + " of " + std::to_string(body.size()) + ")");
  } catch (const nlohmann::json::exception&) {
    // out_of_range for a number no double holds (1e999): see auth_webhook.cpp.
    return bad("not valid JSON (a number out of range)");
  }
  if (!j.is_object()) return bad("expected a JSON object");
  config_response out;
  if (auto cfg = j.find("config"); cfg != j.end() && !cfg->is_null()) {
    if (!cfg->is_object()) return bad("`config` must be an object");
    out.config = *cfg;
  }
  if (auto r = auth_webhook::read_connection_metadata(j, who, out.meta); !r)
    return fail("CONFIG_SERVER_BAD_RESPONSE", r.error().message);
  return out;
}

}  // namespace cssh::config_webhook
