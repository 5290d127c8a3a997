// The log destinations: stdout, an append-only file that can be reopened, and syslog.
#include "common/log_sink.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>

namespace cssh::log {
namespace {

enum class kind { stdout_stream, file, syslog };

struct sink_state {
  std::mutex mutex;
  kind where = kind::stdout_stream;
  // file
  std::string path;
  int file_fd = -1;
  // syslog
  syslog_target target;
  int socket_fd = -1;
  bool stream_socket = false;  // a SOCK_STREAM syslog socket needs a newline per message
  bool udp = false;
  std::string hostname;
};

sink_state& state() {
  // Never destroyed: a thread that outlives main may still log.
  static sink_state* s = new sink_state;
  return *s;
}

std::string errno_text(int err) { return std::strerror(err); }

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

void to_stderr(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

// --- syslog --------------------------------------------------------------------------------

constexpr std::array<std::pair<std::string_view, int>, 24> facilities = {{
    {"kern", 0},     {"user", 1},      {"mail", 2},      {"daemon", 3},    {"auth", 4},      {"syslog", 5},
    {"lpr", 6},      {"news", 7},      {"uucp", 8},      {"cron", 9},      {"authpriv", 10}, {"ftp", 11},
    {"ntp", 12},     {"logaudit", 13}, {"logalert", 14}, {"clock", 15},    {"local0", 16},   {"local1", 17},
    {"local2", 18},  {"local3", 19},   {"local4", 20},   {"local5", 21},   {"local6", 22},   {"local7", 23},
}};

/// Opens the syslog socket described by `t`; the fd, or a failure naming the destination.
result<int> open_syslog_socket(const syslog_target& t, bool& stream, bool& udp) {
  udp = t.destination.rfind("udp://", 0) == 0;
  if (udp) {
    std::string rest = t.destination.substr(6);
    std::string host;
    std::string port;
    if (!rest.empty() && rest.front() == '[') {  // [::1]:514
      auto close = rest.find(']');
      if (close == std::string::npos || close + 2 > rest.size() || rest[close + 1] != ':')
        return fail("LOG_SYSLOG_INVALID", "log.syslog.destination " + t.destination + ": expected udp://host:port");
      host = rest.substr(1, close - 1);
      port = rest.substr(close + 2);
    } else {
      auto colon = rest.rfind(':');
      if (colon == std::string::npos)
        return fail("LOG_SYSLOG_INVALID", "log.syslog.destination " + t.destination + ": expected udp://host:port");
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
    }
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
      return fail("LOG_SYSLOG_INVALID", "log.syslog.destination " + t.destination + ": " + gai_strerror(rc));
    int fd = -1;
    int err = 0;
    for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
      fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        err = errno;
        continue;
      }
      if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
        err = errno;
        ::close(fd);
        fd = -1;
      }
    }
    ::freeaddrinfo(found);
    if (fd < 0) return fail("LOG_SYSLOG_FAILED", "cannot reach syslog at " + t.destination + ": " + errno_text(err));
    stream = false;
    return fd;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (t.destination.size() >= sizeof addr.sun_path)
    return fail("LOG_SYSLOG_INVALID", "log.syslog.destination " + t.destination + ": the path is too long");
  std::memcpy(addr.sun_path, t.destination.c_str(), t.destination.size() + 1);
  int err = 0;
  // Syslog daemons listen on datagram sockets; some (syslog-ng) on stream ones.
  for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
    int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("LOG_SYSLOG_FAILED", "cannot create a socket for syslog: " + errno_text(errno));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      stream = type == SOCK_STREAM;
      return fd;
    }
    err = errno;
    ::close(fd);
    if (err != EPROTOTYPE) break;
  }
  return fail("LOG_SYSLOG_FAILED", "cannot connect to syslog at " + t.destination + ": " + errno_text(err));
}

std::string syslog_message(const sink_state& s, level lv, std::string_view line) {
  char header[128];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
  int pri = s.target.facility * 8 + static_cast<int>(lv);
  std::snprintf(header, sizeof header, "<%d>%s ", pri, stamp);
  std::string msg = header;
  if (s.udp) msg += s.hostname + " ";
  msg += s.target.tag;
  if (s.target.pid) msg += "[" + std::to_string(::getpid()) + "]";
  msg += ": ";
  msg += line;
  if (s.stream_socket) msg += '\n';
  return msg;
}

/// Sends without blocking: a syslog that does not keep up must not stall the server.
bool send_syslog(sink_state& s, const std::string& msg) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (s.socket_fd < 0) {
      auto opened = open_syslog_socket(s.target, s.stream_socket, s.udp);
      if (!opened) return false;
      s.socket_fd = opened.value();
    }
    ssize_t n = ::send(s.socket_fd, msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(msg.size())) return true;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    // The daemon restarted (ECONNREFUSED, ENOTCONN) or the stream broke: reconnect once.
    ::close(s.socket_fd);
    s.socket_fd = -1;
  }
  return false;
}

void close_outputs(sink_state& s) {
  if (s.file_fd >= 0) ::close(s.file_fd);
  if (s.socket_fd >= 0) ::close(s.socket_fd);
  s.file_fd = -1;
  s.socket_fd = -1;
}

result<int> open_log_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return fail("LOG_FILE_FAILED", "cannot open log file " + path + ": " + errno_text(errno));
  return fd;
}

}  // namespace

namespace detail {

void deliver(level lv, std::string_view line) {
  auto& s = state();
  std::lock_guard<std::mutex> guard(s.mutex);
  switch (s.where) {
    case kind::stdout_stream:
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
      return;
    case kind::file: {
      std::string with_newline(line);
      with_newline += '\n';
      // O_APPEND makes each line one atomic append, even with logrotate's copytruncate.
      if (!write_all(s.file_fd, with_newline.data(), with_newline.size())) to_stderr(line);
      return;
    }
    case kind::syslog:
      if (!send_syslog(s, syslog_message(s, lv, line))) to_stderr(line);
      return;
  }
}

}  // namespace detail

void to_stdout() {
  auto& s = state();
  std::lock_guard<std::mutex> guard(s.mutex);
  close_outputs(s);
  s.where = kind::stdout_stream;
}

result<void> to_file(const std::string& path) {
  auto opened = open_log_file(path);
  if (!opened) return opened.error();
  auto& s = state();
  std::lock_guard<std::mutex> guard(s.mutex);
  close_outputs(s);
  s.where = kind::file;
  s.path = path;
  s.file_fd = opened.value();
  return {};
}

result<void> to_syslog(const syslog_target& target) {
  bool stream = false;
  bool udp = false;
  auto opened = open_syslog_socket(target, stream, udp);
  if (!opened) return opened.error();
  auto& s = state();
  std::lock_guard<std::mutex> guard(s.mutex);
  close_outputs(s);
  s.where = kind::syslog;
  s.target = target;
  s.socket_fd = opened.value();
  s.stream_socket = stream;
  s.udp = udp;
  char host[256] = "-";
  if (::gethostname(host, sizeof host) != 0) std::strcpy(host, "-");
  host[sizeof host - 1] = '\0';
  s.hostname = host;
  return {};
}

int syslog_facility(std::string_view name) {
  for (const auto& [n, number] : facilities)
    if (n == name) return number;
  return -1;
}

result<void> reopen() {
  auto& s = state();
  std::string path;
  {
    std::lock_guard<std::mutex> guard(s.mutex);
    if (s.where != kind::file) return {};
    path = s.path;
  }
  auto opened = open_log_file(path);
  if (!opened) return opened.error();
  std::lock_guard<std::mutex> guard(s.mutex);
  if (s.file_fd >= 0) ::close(s.file_fd);
  s.file_fd = opened.value();
  return {};
}

}  // namespace cssh::log
