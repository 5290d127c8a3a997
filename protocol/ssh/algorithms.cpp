#include "protocol/ssh/algorithms.hpp"

#include <algorithm>

namespace cssh::ssh {
namespace {

const std::vector<std::string> default_ciphers{
    "chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
    "aes256-ctr", "aes192-ctr", "aes128-ctr"};
const std::vector<std::string> known_ciphers{
    "chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr",
    "aes192-ctr", "aes128-ctr", "aes256-cbc", "aes192-cbc", "aes128-cbc", "3des-cbc"};

// ssh-audit fails the NIST curves and SHA-1 groups; group16/18 (SHA-512) pass, so older
// clients without curve25519 still have a way in.
const std::vector<std::string> default_kex{
    "curve25519-sha256", "curve25519-sha256@libssh.org", "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512"};
const std::vector<std::string> known_kex{
    "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp521", "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp256", "diffie-hellman-group18-sha512", "diffie-hellman-group16-sha512",
    "diffie-hellman-group-exchange-sha256", "diffie-hellman-group14-sha256", "diffie-hellman-group14-sha1",
    "diffie-hellman-group-exchange-sha1", "diffie-hellman-group1-sha1"};

const std::vector<std::string> default_macs{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com"};
const std::vector<std::string> known_macs{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com",
                                          "hmac-sha1-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512",
                                          "hmac-sha1"};

const std::vector<std::string> default_host_keys{"ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"};
const std::vector<std::string> known_host_keys{"ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256",
                                               "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp384",
                                               "ecdsa-sha2-nistp256", "ssh-rsa"};

}  // namespace

const std::vector<std::string>& default_algorithms(algorithm_kind kind) {
  switch (kind) {
    case algorithm_kind::cipher: return default_ciphers;
    case algorithm_kind::kex: return default_kex;
    case algorithm_kind::mac: return default_macs;
    case algorithm_kind::host_key: return default_host_keys;
  }
  return default_ciphers;
}

const std::vector<std::string>& known_algorithms(algorithm_kind kind) {
  switch (kind) {
    case algorithm_kind::cipher: return known_ciphers;
    case algorithm_kind::kex: return known_kex;
    case algorithm_kind::mac: return known_macs;
    case algorithm_kind::host_key: return known_host_keys;
  }
  return known_ciphers;
}

bool is_known_algorithm(algorithm_kind kind, std::string_view name) {
  const auto& known = known_algorithms(kind);
  return std::find(known.begin(), known.end(), name) != known.end();
}

std::string join_algorithms(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

}  // namespace cssh::ssh
