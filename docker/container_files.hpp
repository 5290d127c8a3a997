#pragma once
// Putting the files an auth or config webhook answer names (`files`) into a session's container
// before its program starts: ContainerSSH's agent writes them with mode 0600 as the container's
// user; we do the same with one tar through the Engine's archive endpoint, so no agent is needed.

#include <map>
#include <memory>
#include <string>

#include "common/result.hpp"
#include "docker/engine.hpp"

namespace cssh::docker {

struct file_owner {
  unsigned uid = 0;
  unsigned gid = 0;
};

/// Docker's user setting ("", "root", "1000", "1000:100", "alice", "alice:staff") as numbers,
/// looked up in the image's /etc/passwd and /etc/group texts as the Engine does: a name must be
/// there; a numeric uid takes its primary group from passwd when listed there, else group 0.
result<file_owner> resolve_owner(const std::string& user, const std::string& passwd, const std::string& group);

/// True when resolve_owner needs the image's passwd/group files for `user`.
bool owner_needs_lookup(const std::string& user);

/// Writes `files` (absolute path -> contents) into created container `id`: mode 0600, owned
/// by the user the container runs as (its Config.User); missing parent directories are created
/// by the Engine (root, 0755). `done` runs on a reactor thread.
void write_container_files(std::shared_ptr<engine> e, const std::string& id, std::map<std::string, std::string> files,
                           callback<void> done);

}  // namespace cssh::docker
