#include "protocol/ssh_listener.hpp"

#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "protocol/ssh_session_driver.hpp"

namespace cssh::ssh {
namespace {

struct host_port {
  std::string host;
  std::string port;
};

result<host_port> split_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return fail("SSH_LISTEN_INVALID", "ssh.listen: expected host:port, got \"" + listen + "\"");
  }
  host_port hp{listen.substr(0, colon), listen.substr(colon + 1)};
  if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  return hp;
}

result<int> open_listening_socket(const std::string& listen, unsigned& bound_port) {
  auto hp = split_listen(listen);
  if (!hp) return hp.error();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const char* host = hp->host.empty() ? nullptr : hp->host.c_str();
  if (int rc = getaddrinfo(host, hp->port.c_str(), &hints, &found); rc != 0) {
    return fail("SSH_LISTEN_INVALID", "ssh.listen: cannot resolve \"" + listen + "\": " + gai_strerror(rc));
  }
  std::string last_error = "no address";
  for (auto* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 1024) == 0) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      bound_port = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                              : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
      freeaddrinfo(found);
      return fd;
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  freeaddrinfo(found);
  return fail("SSH_LISTEN_FAILED", "cannot listen on " + listen + ": " + last_error);
}

}  // namespace

result<std::unique_ptr<listener>> listener::open(const listener_options& options) {
  std::unique_ptr<listener> l(new listener());
  auto keys = load_host_keys(options.hostkeys);
  if (!keys) return keys.error();

  l->bind_ = ssh_bind_new();
  bool no = false;
  ssh_bind_options_set(l->bind_, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no);
  std::string version = options.server_version;
  if (version.rfind("SSH-2.0-", 0) == 0) version = version.substr(8);
  if (!version.empty()) ssh_bind_options_set(l->bind_, SSH_BIND_OPTIONS_BANNER, version.c_str());
  for (auto& k : *keys) {
    // The bind takes ownership of an imported key (one per key type).
    if (ssh_bind_options_set(l->bind_, SSH_BIND_OPTIONS_IMPORT_KEY, k.key) != SSH_OK) {
      return fail("SSH_HOSTKEY_INVALID", "ssh.hostkeys: libssh refused " + k.origin + " (" + k.type_name + ")");
    }
    log::info("SSH_HOSTKEY_LOADED", "host key loaded", {{"origin", k.origin}, {"type", k.type_name}});
    k.key = nullptr;
  }

  auto fd = open_listening_socket(options.listen, l->port_);
  if (!fd) return fd.error();
  l->listen_fd_ = fd.value();
  l->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  return l;
}

listener::~listener() {
  stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (bind_) ssh_bind_free(bind_);
}

void listener::start(accept_handler handler) {
  handler_ = std::move(handler);
  thread_ = std::thread([this] { accept_loop(); });
}

void listener::stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void listener::accept_loop() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  while (!stopping_) {
    int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      log::error("SSH_ACCEPT_FAILED", std::string("poll on the listening socket failed: ") + std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // EMFILE and friends: log and keep serving those already connected.
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        log::error("SSH_ACCEPT_FAILED", std::string("accept failed: ") + std::strerror(errno));
        ::usleep(100 * 1000);
      }
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string peer = describe_peer(fd);
    ssh_session session = ssh_new();
    if (session == nullptr || ssh_bind_accept_fd(bind_, session, fd) != SSH_OK) {
      log::warning("SSH_ACCEPT_FAILED", "could not set up an SSH session for a new connection",
                   {{"peer", peer}, {"error", session ? ssh_get_error(bind_) : "out of memory"}});
      if (session) ssh_free(session);
      ::close(fd);
      continue;
    }
    handler_(session, fd, peer);
  }
}

}  // namespace cssh::ssh
