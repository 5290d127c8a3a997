// libFuzzer target: the YAML configuration file (config::load_from_string). Any bytes must give
// either a configuration or a failure; never a crash, a hang or an exception escaping.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/log.hpp"
#include "config/loader.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cssh::log::set_level(cssh::log::level::emergency);  // warnings about odd keys would flood the run
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = cssh::config::load_from_string(text);
  // A failure must say something: an empty message would leave the operator guessing.
  if (!r && r.error().message.empty()) __builtin_trap();
  return 0;
}
