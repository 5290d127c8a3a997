#include "protocol/ssh/host_keys.hpp"

#include <libssh/libssh.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/log.hpp"

namespace cssh::ssh {
namespace {

bool looks_like_pem(const std::string& entry) { return entry.find("-----BEGIN ") != std::string::npos; }

result<ssh_key> generate_key_file(const std::string& path) {
  ssh_key key = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
    return fail("SSH_HOSTKEY_GENERATE_FAILED", "could not generate an Ed25519 host key for " + path);
  }
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ssh_pki_export_privkey_file(key, nullptr, nullptr, nullptr, path.c_str()) != SSH_OK) {
    ssh_key_free(key);
    return fail("SSH_HOSTKEY_WRITE_FAILED", "could not write the generated host key to " + path);
  }
  ::chmod(path.c_str(), 0600);
  log::notice("SSH_HOSTKEY_GENERATED", "generated a new Ed25519 host key", {{"path", path}});
  return key;
}

}  // namespace

result<std::vector<loaded_host_key>> load_host_keys(const std::vector<std::string>& entries) {
  std::vector<loaded_host_key> keys;
  auto give_up = [&](failure f) -> result<std::vector<loaded_host_key>> {
    free_host_keys(keys);
    return f;
  };
  int inline_index = 0;
  for (const auto& entry : entries) {
    loaded_host_key loaded;
    ssh_key key = nullptr;
    if (looks_like_pem(entry)) {
      loaded.origin = "inline key #" + std::to_string(++inline_index);
      if (ssh_pki_import_privkey_base64(entry.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
        return give_up(fail("SSH_HOSTKEY_INVALID", "ssh.hostkeys: " + loaded.origin + " is not a readable private key"));
      }
    } else {
      loaded.origin = entry;
      std::error_code ec;
      if (!std::filesystem::exists(entry, ec)) {
        auto generated = generate_key_file(entry);
        if (!generated) return give_up(generated.error());
        key = generated.value();
      } else if (ssh_pki_import_privkey_file(entry.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
        return give_up(fail("SSH_HOSTKEY_INVALID", "ssh.hostkeys: " + entry + " is not a readable private key"));
      }
    }
    loaded.key = key;
    const char* name = ssh_key_type_to_char(ssh_key_type(key));
    loaded.type_name = name ? name : "unknown";
    keys.push_back(loaded);
  }
  if (keys.empty()) {
    return fail("SSH_HOSTKEY_MISSING", "ssh.hostkeys: no host key configured");
  }
  return keys;
}

void free_host_keys(std::vector<loaded_host_key>& keys) {
  for (auto& k : keys) {
    if (k.key) ssh_key_free(k.key);
    k.key = nullptr;
  }
  keys.clear();
}

}  // namespace cssh::ssh
