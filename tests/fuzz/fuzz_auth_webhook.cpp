// libFuzzer target: the auth webhook's answer body (auth_webhook::decode_auth_response), which a
// remote HTTP server controls, and the base64 decoder its file values go through.

#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/webhook/auth_webhook.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  auto r = cssh::auth_webhook::decode_auth_response(body);
  if (r) {
    // What the server does next with an accepted answer: merge it and log it.
    cssh::auth_webhook::connection_metadata gathered;
    gathered.merge(r->meta);
    (void)cssh::auth_webhook::loggable(gathered.metadata).dump();
    (void)cssh::auth_webhook::loggable(gathered.environment).dump();
    (void)cssh::auth_webhook::loggable_files(gathered.files).dump();
  } else if (r.error().message.empty()) {
    __builtin_trap();
  }
  auto decoded = cssh::auth_webhook::base64_decode(body);
  // What decodes must encode back to text of the same length, give or take padding.
  if (decoded) {
    auto again = cssh::auth_webhook::base64_encode(*decoded);
    std::string unpadded = body;
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
    std::string again_unpadded = again;
    while (!again_unpadded.empty() && again_unpadded.back() == '=') again_unpadded.pop_back();
    // Non-canonical trailing bits may give other characters, but never another length.
    if (again_unpadded.size() != unpadded.size()) __builtin_trap();
  }
  return 0;
}
