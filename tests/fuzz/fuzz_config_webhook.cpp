// libFuzzer target: the config server's answer (config_webhook::decode_config_response) and the
// merge of its `config` object over a loaded configuration (config::merge_connection_config):
// both take bytes a remote HTTP server controls.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/log.hpp"
#include "config/loader.hpp"
#include "protocol/webhook/config_webhook.hpp"

namespace {
const cssh::config::app_config& base_config() {
  static const cssh::config::app_config base = [] {
    auto r = cssh::config::load_from_string("docker:\n  execution:\n    container:\n      image: busybox\n");
    if (!r) __builtin_trap();
    return *r;
  }();
  return base;
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cssh::log::set_level(cssh::log::level::emergency);
  (void)base_config();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  auto r = cssh::config_webhook::decode_config_response(body);
  if (!r) {
    if (r.error().message.empty()) __builtin_trap();
    return 0;
  }
  auto merged = cssh::config::merge_connection_config(base_config(), r->config);
  if (!merged && merged.error().message.empty()) __builtin_trap();
  return 0;
}
