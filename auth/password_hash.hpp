#pragma once
// crypt(3) password hashes through libcrypt (libxcrypt on Debian): yescrypt ($y$), gost-yescrypt
// ($gy$), scrypt ($7$), bcrypt ($2b$, $2y$, $2a$) and sha512-crypt ($6$). What libcrypt itself
// calls legacy (DES, MD5, sha256-crypt on Debian 12) is refused, as are Apache's $apr1$ and plain text.

#include <string>

#include "common/result.hpp"

namespace cssh::auth {

/// Nothing when libcrypt supports `hash`'s method and it is not a legacy one; otherwise a
/// failure (PASSWORD_HASH_UNSUPPORTED) saying why. Cheap: does not run the hash.
result<void> check_hash_format(const std::string& hash);

/// True when `password` hashes to `hash`. Runs the whole hash function (milliseconds for
/// sha512-crypt, tens to hundreds of milliseconds for yescrypt and bcrypt): keep it off threads
/// that must not block. Compares in constant time.
bool verify_password(const std::string& password, const std::string& hash);

/// A fresh hash of `password` with a random salt. `prefix` picks the method ("$y$", "$6$",
/// "$2b$", ...; empty: libcrypt's preferred, yescrypt); `cost` 0 means the method's default.
result<std::string> hash_password(const std::string& password, const std::string& prefix, unsigned long cost = 0);

}  // namespace cssh::auth
