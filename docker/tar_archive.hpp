#pragma once
// The tar archives the Engine's /containers/{id}/archive endpoint takes and gives: POSIX ustar,
// with a pax extended header for paths too long for ustar's fields.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cssh::docker {

struct tar_file {
  std::string path;  // relative to where the archive is unpacked ("etc/motd"); no leading '/'
  std::string contents;
  unsigned mode = 0600;
  unsigned uid = 0;
  unsigned gid = 0;
};

/// A complete archive (entries, then the two zero blocks that end it). Parent directories are
/// not included: the Engine creates missing ones when it unpacks.
std::string build_tar(const std::vector<tar_file>& files);

/// The contents of the first regular file in `tar` whose name (leading "./" ignored) is `name`;
/// nullopt when there is none or the archive is malformed.
std::optional<std::string> read_tar_file(std::string_view tar, std::string_view name);

}  // namespace cssh::docker
