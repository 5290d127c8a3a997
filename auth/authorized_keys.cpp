#include "auth/authorized_keys.hpp"

#include <cctype>
#include <sstream>

namespace cssh::auth {
namespace {

/// Key types OpenSSH writes into authorized_keys (certificates included).
bool is_key_type(const std::string& word) {
  static const char* const types[] = {
      "ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
      "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
  };
  for (const char* t : types) {
    std::string type(t);
    if (word == type) return true;
    // "ssh-ed25519-cert-v01@openssh.com" for "ssh-ed25519", and so on.
    auto at = type.find('@');
    std::string cert = (at == std::string::npos ? type : type.substr(0, at)) + "-cert-v01@openssh.com";
    if (word == cert) return true;
  }
  return false;
}

bool is_base64(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) return false;
  return true;
}

}  // namespace

std::vector<authorized_key> parse_authorized_keys(const std::string& text, std::vector<std::string>* problems) {
  std::vector<authorized_key> keys;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::istringstream words(line);
    std::string first;
    if (!(words >> first) || first.front() == '#') continue;
    std::string blob;
    words >> blob;
    auto note = [&](const std::string& why) {
      if (problems) problems->push_back("line " + std::to_string(number) + ": " + why);
    };
    if (!is_key_type(first)) {
      note("skipped: starts with options or an unknown key type (" + first.substr(0, 32) +
           "); key options are not supported");
      continue;
    }
    if (!is_base64(blob)) {
      note("skipped: the " + first + " key data is missing or not base64");
      continue;
    }
    keys.push_back({first, blob});
  }
  return keys;
}

bool key_listed(const std::string& offered, const std::vector<authorized_key>& keys) {
  std::istringstream words(offered);
  std::string type;
  std::string blob;
  if (!(words >> type >> blob)) return false;
  for (const auto& k : keys)
    if (k.type == type && k.blob == blob) return true;
  return false;
}

}  // namespace cssh::auth
