#include "protocol/ssh/listener.hpp"

#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "common/thread_name.hpp"
#include "protocol/proxy/header_reader.hpp"
#include "protocol/ssh/algorithms.hpp"
#include "protocol/ssh/session_driver.hpp"

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

const std::vector<std::string>& or_default(const std::vector<std::string>& given, algorithm_kind kind) {
  return given.empty() ? default_algorithms(kind) : given;
}

result<void> set_list(ssh_bind bind, ssh_bind_options_e option, const std::string& value, const char* key) {
  if (ssh_bind_options_set(bind, option, value.c_str()) != SSH_OK) {
    return fail("SSH_ALGORITHMS_INVALID", std::string("ssh.") + key + ": libssh refused \"" + value + "\"");
  }
  return {};
}

/// Algorithm lists onto the bind. Host key algorithms follow the keys that are loaded: an
/// ECDSA key brings its algorithm along even when the default list leaves ECDSA out.
result<void> apply_algorithms(ssh_bind bind, const listener_options& o, const std::vector<loaded_host_key>& keys) {
  std::string ciphers = join_algorithms(or_default(o.ciphers, algorithm_kind::cipher));
  std::string macs = join_algorithms(or_default(o.macs, algorithm_kind::mac));
  std::vector<std::string> host_algorithms = or_default(o.host_key_algorithms, algorithm_kind::host_key);
  if (o.host_key_algorithms.empty()) {
    for (const auto& k : keys) {
      if (k.type_name.rfind("ecdsa-", 0) == 0 &&
          std::find(host_algorithms.begin(), host_algorithms.end(), k.type_name) == host_algorithms.end()) {
        host_algorithms.push_back(k.type_name);
      }
    }
  }
  for (auto r : {set_list(bind, SSH_BIND_OPTIONS_CIPHERS_C_S, ciphers, "ciphers"),
                 set_list(bind, SSH_BIND_OPTIONS_CIPHERS_S_C, ciphers, "ciphers"),
                 set_list(bind, SSH_BIND_OPTIONS_KEY_EXCHANGE, join_algorithms(or_default(o.kex, algorithm_kind::kex)), "kex"),
                 set_list(bind, SSH_BIND_OPTIONS_HMAC_C_S, macs, "macs"),
                 set_list(bind, SSH_BIND_OPTIONS_HMAC_S_C, macs, "macs"),
                 set_list(bind, SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, join_algorithms(host_algorithms), "hostKeyAlgorithms")}) {
    if (!r) return r;
  }
  return {};
}

/// "1.2.3.4:5678" -> "1.2.3.4"; "[::1]:22" -> "::1".
std::string source_of(const std::string& peer) {
  if (!peer.empty() && peer.front() == '[') return peer.substr(1, peer.find(']') - 1);
  return peer.substr(0, peer.rfind(':'));
}

// A header reader needs little stack (a 1 KiB buffer, the parser), but it also runs the hand-over
// to the session layer (actor spawn, logging).
constexpr std::size_t header_reader_stack = 256 * 1024;

}  // namespace

result<std::unique_ptr<listener>> listener::open(const listener_options& options) {
  std::unique_ptr<listener> l(new listener());
  l->options_ = options;
  auto keys = load_host_keys(options.hostkeys);
  if (!keys) return keys.error();

  l->bind_ = ssh_bind_new();
  bool no = false;
  ssh_bind_options_set(l->bind_, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no);
  std::string version = options.server_version;
  if (version.rfind("SSH-2.0-", 0) == 0) version = version.substr(8);
  if (!version.empty()) ssh_bind_options_set(l->bind_, SSH_BIND_OPTIONS_BANNER, version.c_str());
  if (auto ok = apply_algorithms(l->bind_, options, *keys); !ok) return ok.error();
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
  l->limiter_ = std::make_shared<startup_limiter>(options.max_startups, options.max_startups_per_source);
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
  thread_ = std::thread([this] {
    name_this_thread("cssh-listener");
    accept_loop();
  });
}

void listener::stop() {
  if (!stopping_.exchange(true)) {
    // Wakes the accept loop.
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  // Closed now, not at destruction: new connections are refused at once (a load balancer then
  // tries another instance) instead of waiting in the backlog of a server that will not serve them.
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  std::unique_lock<std::mutex> lock(handover_mutex_);
  readers_done_.wait(lock, [this] { return readers_ == 0; });
}

void listener::hand_over(int fd, connection_addresses addresses, std::function<void()> release) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ssh_session session = ssh_new();
  bool accepted = false;
  std::string error = "out of memory";
  if (session != nullptr) {
    // ssh_bind_accept_fd reads the bind's keys and options; header readers call it concurrently.
    std::lock_guard<std::mutex> guard(handover_mutex_);
    accepted = ssh_bind_accept_fd(bind_, session, fd) == SSH_OK;
    if (!accepted) error = ssh_get_error(bind_);
  }
  if (!accepted) {
    log::warning("SSH_ACCEPT_FAILED", "could not set up an SSH session for a new connection",
                 {{"peer", addresses.peer}, {"error", error}});
    if (session) ssh_free(session);
    ::close(fd);
    release();
    return;
  }
  handler_(session, std::move(addresses), std::move(release));
}

void listener::accept_proxied(int fd, const std::string& socket_peer) {
  std::string source = source_of(socket_peer);
  if (!any_contains(options_.proxy_sources, source)) {
    log::warning("PROXY_SOURCE_DENIED",
                 "connection from an address not in ssh.proxyProtocol.allowedSources; closing",
                 {{"proxyAddress", socket_peer}});
    metrics::server().proxy_rejected("source_denied").inc();
    ::close(fd);
    return;
  }
  // The balancer's address says nothing about the client: only the total counts for now.
  if (!limiter_->try_acquire_unattributed()) {
    log::warning("SSH_STARTUPS_EXCEEDED", "too many unauthenticated connections; refusing",
                 {{"proxyAddress", socket_peer}, {"inUse", limiter_->in_use()}});
    ::close(fd);
    return;
  }
  {
    std::lock_guard<std::mutex> guard(handover_mutex_);
    ++readers_;
  }
  struct job {
    listener* self;
    int fd;
    std::string socket_peer;
  };
  auto* work = new job{this, fd, socket_peer};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, header_reader_stack);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, [](void* arg) -> void* {
    std::unique_ptr<job> w(static_cast<job*>(arg));
    name_this_thread("cssh-proxy-hdr");
    w->self->read_header_then_hand_over(w->fd, std::move(w->socket_peer));
    return nullptr;
  }, work);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete work;
    log::error("SSH_THREAD_FAILED", "could not start a thread to read a PROXY header", {{"errno", rc}});
    ::close(fd);
    limiter_->release("");
    std::lock_guard<std::mutex> guard(handover_mutex_);
    --readers_;
    readers_done_.notify_all();
  }
}

void listener::read_header_then_hand_over(int fd, std::string socket_peer) {
  auto outcome = read_proxy_header(fd, options_.proxy_timeout);
  connection_addresses addresses;
  addresses.peer = socket_peer;
  addresses.proxy = socket_peer;
  std::string attributed;  // the limiter's key once the client is known
  bool refused = !outcome.ok;
  if (!outcome.ok) {
    const auto& e = outcome.error;
    // A balancer's plain TCP health check connects and closes without a byte: not worth a warning.
    bool quiet = e.kind == proxy_read_failure::closed && e.bytes_read == 0;
    auto level = quiet ? log::level::debug : log::level::warning;
    log::write(level, code_of(e.kind), "no usable PROXY header; closing: " + e.message,
               {{"proxyAddress", socket_peer}});
    if (!quiet) metrics::server().proxy_rejected(metric_reason_of(e.kind)).inc();
  } else {
    const auto& h = outcome.header;
    if (h.has_addresses) {
      addresses.peer = proxy_protocol::describe_source(h);
      addresses.local = proxy_protocol::describe_destination(h);
    }
    log::debug("PROXY_HEADER_ACCEPTED", "PROXY header read",
               {{"proxyAddress", socket_peer}, {"remoteAddress", addresses.peer}, {"version", h.version},
                {"carriesAddress", h.has_addresses}});
    std::string client = source_of(addresses.peer);
    if (limiter_->try_attribute(client)) {
      attributed = client;
    } else {
      log::warning("SSH_STARTUPS_EXCEEDED", "too many unauthenticated connections from one address; refusing",
                   {{"remoteAddress", addresses.peer}, {"proxyAddress", socket_peer}, {"inUse", limiter_->in_use()}});
      refused = true;
    }
  }
  auto release = [limiter = limiter_, attributed]() { limiter->release(attributed); };
  if (refused) {
    ::close(fd);
    release();
  } else {
    hand_over(fd, std::move(addresses), std::move(release));
  }
  std::lock_guard<std::mutex> guard(handover_mutex_);
  --readers_;
  readers_done_.notify_all();
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
    std::string peer = describe_peer(fd);
    if (options_.proxy_protocol) {
      accept_proxied(fd, peer);
      continue;
    }
    std::string source = source_of(peer);
    if (!limiter_->try_acquire(source)) {
      // Refused before any SSH byte: cheap for us, and the address's other logins go on.
      log::warning("SSH_STARTUPS_EXCEEDED", "too many unauthenticated connections; refusing",
                   {{"remoteAddress", peer}, {"inUse", limiter_->in_use()}});
      ::close(fd);
      continue;
    }
    auto release = [limiter = limiter_, source]() { limiter->release(source); };
    hand_over(fd, connection_addresses{peer, "", ""}, std::move(release));
  }
}

}  // namespace cssh::ssh
