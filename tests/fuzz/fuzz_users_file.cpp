// libFuzzer target: the built-in users file, YAML or htpasswd (config::parse_users_file).

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/log.hpp"
#include "config/users_file.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cssh::log::set_level(cssh::log::level::emergency);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = cssh::config::parse_users_file(text, "/etc/containerssh/users.yaml");
  if (r) {
    for (const auto& [name, user] : r->users) {
      // Relative authorizedKeysFile paths are made absolute against the users file's directory.
      if (!user.authorized_keys_file.empty() && user.authorized_keys_file.front() != '/') __builtin_trap();
      if (name.empty()) __builtin_trap();
    }
  } else if (r.error().message.empty()) {
    __builtin_trap();
  }
  return 0;
}
