#include "auth/password_hash.hpp"

#include <crypt.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace cssh::auth {
namespace {

constexpr const char* supported_methods = "yescrypt ($y$), bcrypt ($2b$), sha512-crypt ($6$)";

bool equal_constant_time(const char* a, const std::string& b) {
  std::size_t n = std::strlen(a);
  unsigned char diff = n == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < b.size(); ++i) diff |= static_cast<unsigned char>(a[i < n ? i : 0] ^ b[i]);
  return diff == 0;
}

}  // namespace

result<void> check_hash_format(const std::string& hash) {
  constexpr const char* code = "PASSWORD_HASH_UNSUPPORTED";
  if (hash.empty()) return fail(code, "the password hash is empty");
  switch (crypt_checksalt(hash.c_str())) {
    case CRYPT_SALT_OK:
      return {};
    case CRYPT_SALT_METHOD_LEGACY:
      // Any word of 2+ plain characters is a valid DES "hash": this is also where plain text lands.
      return fail(code, "is plain text or a legacy hash (DES, MD5 or sha256-crypt), which is refused; use " +
                            std::string(supported_methods) + ", e.g. from `mkpasswd -m yescrypt` or `openssl passwd -6`");
    default:
      return fail(code, "is not a crypt(3) hash this system's libcrypt supports (" + std::string(supported_methods) +
                            "; Apache's $apr1$ and locked entries such as \"!...\" are not)");
  }
}

bool verify_password(const std::string& password, const std::string& hash) {
  if (hash.empty() || crypt_checksalt(hash.c_str()) != CRYPT_SALT_OK) return false;
  if (password.find('\0') != std::string::npos) return false;  // crypt(3) would stop there
  // crypt_data is ~32 KiB: too big for a stack that may be small; zeroed as libcrypt asks.
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), static_cast<int>(sizeof(crypt_data)));
  // Failures return null or a string starting with '*', which never equals a valid hash.
  bool ok = out != nullptr && out[0] != '*' && equal_constant_time(out, hash);
  std::memset(data.get(), 0, sizeof(crypt_data));  // the password went through this buffer
  return ok;
}

result<std::string> hash_password(const std::string& password, const std::string& prefix, unsigned long cost) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(prefix.empty() ? nullptr : prefix.c_str(), cost, nullptr, 0, setting, sizeof setting) == nullptr)
    return fail("PASSWORD_HASH_FAILED", "libcrypt cannot make a salt for method \"" + prefix + "\": " + std::strerror(errno));
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_rn(password.c_str(), setting, data.get(), static_cast<int>(sizeof(crypt_data)));
  if (out == nullptr || out[0] == '*') return fail("PASSWORD_HASH_FAILED", "libcrypt could not hash with \"" + prefix + "\"");
  std::string hashed = out;
  std::memset(data.get(), 0, sizeof(crypt_data));
  return hashed;
}

}  // namespace cssh::auth
