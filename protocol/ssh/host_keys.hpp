#pragma once
// Host keys: file paths or inline PEM from `ssh.hostkeys`. A configured path that does not
// exist yet gets a fresh Ed25519 key (logged), so a first start needs no manual step.

#include <string>
#include <vector>

#include "common/result.hpp"

struct ssh_key_struct;

namespace cssh::ssh {

struct loaded_host_key {
  ssh_key_struct* key = nullptr;  // owned; freed by free_host_keys
  std::string origin;             // path, or "inline key #N"
  std::string type_name;          // "ssh-ed25519", "ssh-rsa", ...
};

result<std::vector<loaded_host_key>> load_host_keys(const std::vector<std::string>& entries);
void free_host_keys(std::vector<loaded_host_key>& keys);

}  // namespace cssh::ssh
