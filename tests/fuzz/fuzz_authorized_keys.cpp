// libFuzzer target: authorized_keys text (auth::parse_authorized_keys) and the check of an
// offered key against it (auth::key_listed), with the input's first line as the offered key.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "auth/authorized_keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> problems;
  auto keys = cssh::auth::parse_authorized_keys(text, &problems);
  for (const auto& k : keys)
    if (k.type.empty() || k.blob.empty()) __builtin_trap();
  std::string offered = text.substr(0, text.find('\n'));
  (void)cssh::auth::key_listed(offered, keys);
  // Every parsed key must match itself when offered back.
  for (const auto& k : keys)
    if (!cssh::auth::key_listed(k.type + " " + k.blob, keys)) __builtin_trap();
  return 0;
}
