#pragma once
// The SSH listening socket: accepts TCP connections on a thread of its own and hands each
// one, wrapped in a libssh session bound to our host keys, to the layer above.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/cidr.hpp"
#include "common/result.hpp"
#include "protocol/ssh/host_keys.hpp"
#include "protocol/ssh/startup_limiter.hpp"

struct ssh_bind_struct;
struct ssh_session_struct;

namespace cssh::ssh {

struct listener_options {
  std::string listen;  // "host:port"; "[::1]:2222" for IPv6
  std::vector<std::string> hostkeys;
  std::string server_version;  // "SSH-2.0-..." as configured; the "SSH-2.0-" prefix is ours to add
  // Algorithm lists; empty = the defaults of protocol/ssh/algorithms.hpp.
  std::vector<std::string> ciphers;
  std::vector<std::string> kex;
  std::vector<std::string> macs;
  std::vector<std::string> host_key_algorithms;
  int max_startups = 100;
  int max_startups_per_source = 10;
  /// ssh.proxyProtocol: every connection must come from one of `proxy_sources` and start with
  /// a PROXY header (v1 or v2) arriving within `proxy_timeout`.
  bool proxy_protocol = false;
  std::vector<cidr> proxy_sources;
  std::chrono::milliseconds proxy_timeout{5000};
};

/// Who an accepted connection is with.
struct connection_addresses {
  /// The client, "ip:port" ("[ip]:port" for IPv6): from the PROXY header when there is one.
  std::string peer;
  /// Our end as the client addressed it (the header's destination); "" = the socket's own.
  std::string local;
  /// The load balancer that relayed the connection; "" when the client connected directly.
  std::string proxy;
};

class listener {
 public:
  /// Called for each new connection, on the accept thread (or, with the PROXY protocol, on the
  /// thread that read the header: concurrently with other calls). The callee owns `session`
  /// and must call `release_startup` once the connection authenticated or ended (its
  /// maxStartups slot). Never called once stop() has returned.
  using accept_handler = std::function<void(ssh_session_struct* session, connection_addresses addresses,
                                            std::function<void()> release_startup)>;

  ~listener();
  /// Binds and listens; errors name the address or the key that failed.
  static result<std::unique_ptr<listener>> open(const listener_options& options);
  /// The port actually bound (useful with port 0).
  unsigned port() const { return port_; }
  void start(accept_handler handler);
  /// Stops accepting and closes the listening socket; established connections are not touched.
  /// Connections accepted already whose PROXY header is still on its way are served once it
  /// arrives: stop() waits for them (each at most proxy_timeout).
  void stop();

 private:
  listener() = default;
  void accept_loop();
  /// Wraps the accepted fd in a libssh session and hands it on; closes it when that fails.
  void hand_over(int fd, connection_addresses addresses, std::function<void()> release);
  /// PROXY protocol: checks the source, then reads the header on a thread of its own.
  void accept_proxied(int fd, const std::string& socket_peer);
  void read_header_then_hand_over(int fd, std::string socket_peer);

  listener_options options_;
  ssh_bind_struct* bind_ = nullptr;
  std::vector<loaded_host_key> keys_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  unsigned port_ = 0;
  accept_handler handler_;
  std::shared_ptr<startup_limiter> limiter_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  // Header readers in flight; stop() waits for them (each is bounded by proxy_timeout). The
  // mutex also serializes ssh_bind_accept_fd between threads.
  std::mutex handover_mutex_;
  std::condition_variable readers_done_;
  int readers_ = 0;
};

}  // namespace cssh::ssh
