#include "docker/tar_archive.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>

namespace cssh::docker {
namespace {

constexpr std::size_t block = 512;

using header = std::array<char, block>;

/// An octal number in a field of `width` bytes: digits, then a NUL.
void put_octal(header& h, std::size_t offset, std::size_t width, unsigned long long value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llo", static_cast<int>(width - 1), value);
  std::memcpy(h.data() + offset, buf, width - 1);
  h[offset + width - 1] = '\0';
}

void put_text(header& h, std::size_t offset, std::size_t width, std::string_view text) {
  std::memcpy(h.data() + offset, text.data(), std::min(width, text.size()));
}

void pad_to_block(std::string& out) {
  if (out.size() % block != 0) out.append(block - out.size() % block, '\0');
}

/// Splits a path into ustar's prefix (155) and name (100) at a '/', or says it does not fit.
bool split_ustar(const std::string& path, std::string& prefix, std::string& name) {
  if (path.size() <= 100) {
    prefix.clear();
    name = path;
    return true;
  }
  for (std::size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    if (slash <= 155 && path.size() - slash - 1 <= 100 && path.size() - slash - 1 > 0) {
      prefix = path.substr(0, slash);
      name = path.substr(slash + 1);
      return true;
    }
  }
  return false;
}

void append_header(std::string& out, const std::string& name, const std::string& prefix, unsigned mode, unsigned uid,
                   unsigned gid, std::size_t size, char type, unsigned long long mtime) {
  header h{};
  put_text(h, 0, 100, name);
  put_octal(h, 100, 8, mode);
  put_octal(h, 108, 8, uid);
  put_octal(h, 116, 8, gid);
  put_octal(h, 124, 12, size);
  put_octal(h, 136, 12, mtime);
  std::memset(h.data() + 148, ' ', 8);  // the checksum counts itself as spaces
  h[156] = type;
  put_text(h, 257, 6, std::string_view("ustar\0", 6));
  put_text(h, 263, 2, "00");
  put_text(h, 345, 155, prefix);
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", sum);
  std::memcpy(h.data() + 148, chk, 6);
  h[154] = '\0';
  h[155] = ' ';
  out.append(h.data(), h.size());
}

/// "LEN path=VALUE\n", where LEN counts the whole record including its own digits.
std::string pax_record(const std::string& key, const std::string& value) {
  std::string body = " " + key + "=" + value + "\n";
  std::size_t len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len) ++len;
  return std::to_string(len) + body;
}

unsigned long long parse_octal(std::string_view field) {
  unsigned long long v = 0;
  for (char c : field) {
    if (c == '\0' || c == ' ') {
      if (v != 0) break;
      continue;
    }
    if (c < '0' || c > '7') break;
    v = v * 8 + static_cast<unsigned>(c - '0');
  }
  return v;
}

std::string field_text(std::string_view h, std::size_t offset, std::size_t width) {
  std::string_view f = h.substr(offset, width);
  auto nul = f.find('\0');
  return std::string(f.substr(0, nul));
}

}  // namespace

std::string build_tar(const std::vector<tar_file>& files) {
  const auto mtime = static_cast<unsigned long long>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::string out;
  for (const auto& f : files) {
    std::string prefix;
    std::string name;
    if (!split_ustar(f.path, prefix, name)) {
      // Too long for ustar: a pax header carries the real path; the ustar name is a stand-in.
      std::string records = pax_record("path", f.path);
      append_header(out, "PaxHeaders/" + f.path.substr(f.path.size() - std::min<std::size_t>(f.path.size(), 80)), "",
                    0644, 0, 0, records.size(), 'x', mtime);
      out += records;
      pad_to_block(out);
      prefix.clear();
      name = f.path.substr(f.path.size() - std::min<std::size_t>(f.path.size(), 100));
    }
    append_header(out, name, prefix, f.mode, f.uid, f.gid, f.contents.size(), '0', mtime);
    out += f.contents;
    pad_to_block(out);
  }
  out.append(2 * block, '\0');
  return out;
}

std::optional<std::string> read_tar_file(std::string_view tar, std::string_view wanted) {
  std::size_t pos = 0;
  std::string long_name;  // from a pax 'x' header, for the entry that follows
  while (pos + block <= tar.size()) {
    std::string_view h = tar.substr(pos, block);
    if (h.find_first_not_of('\0') == std::string_view::npos) return std::nullopt;  // end of archive
    std::size_t size = parse_octal(h.substr(124, 12));
    char type = h[156];
    std::string name = field_text(h, 0, 100);
    std::string prefix = field_text(h, 345, 155);
    if (!prefix.empty()) name = prefix + "/" + name;
    std::size_t data = pos + block;
    if (data + size > tar.size()) return std::nullopt;
    if (type == 'x') {
      std::string_view records = tar.substr(data, size);
      auto at = records.find(" path=");
      if (at != std::string_view::npos) {
        auto end = records.find('\n', at);
        long_name = std::string(records.substr(at + 6, end == std::string_view::npos ? std::string_view::npos : end - at - 6));
      }
    } else {
      if (!long_name.empty()) name = std::exchange(long_name, std::string());
      while (name.starts_with("./")) name.erase(0, 2);
      if ((type == '0' || type == '\0') && name == wanted) return std::string(tar.substr(data, size));
    }
    pos = data + (size + block - 1) / block * block;
  }
  return std::nullopt;
}

}  // namespace cssh::docker
