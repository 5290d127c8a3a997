#pragma once
// authorized_keys lines ("ssh-ed25519 AAAA... comment") and whether an offered key is among them.

#include <string>
#include <vector>

namespace cssh::auth {

struct authorized_key {
  std::string type;  // "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", ...
  std::string blob;  // the base64 key data
};

/// Parses authorized_keys text: one key per line, blank lines and # comments skipped. A line
/// with options in front (from=, command=, no-pty, ...) is skipped: this server cannot honour
/// them, and ignoring a `from=` would let the key in from anywhere. Every skipped line is
/// described in `problems` ("line 3: ...") when given.
std::vector<authorized_key> parse_authorized_keys(const std::string& text, std::vector<std::string>* problems = nullptr);

/// Is `offered` (authorized_keys format: "type base64 [comment]") one of `keys`?
bool key_listed(const std::string& offered, const std::vector<authorized_key>& keys);

}  // namespace cssh::auth
