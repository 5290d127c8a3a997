#pragma once
// The SSH listening socket: accepts TCP connections on a thread of its own and hands each
// one, wrapped in a libssh session bound to our host keys, to the layer above.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/result.hpp"
#include "protocol/ssh_host_keys.hpp"
#include "protocol/ssh_startup_limiter.hpp"

struct ssh_bind_struct;
struct ssh_session_struct;

namespace cssh::ssh {

struct listener_options {
  std::string listen;  // "host:port"; "[::1]:2222" for IPv6
  std::vector<std::string> hostkeys;
  std::string server_version;  // "SSH-2.0-..." as configured; the "SSH-2.0-" prefix is ours to add
  // Algorithm lists; empty = the defaults of protocol/ssh_algorithms.hpp.
  std::vector<std::string> ciphers;
  std::vector<std::string> kex;
  std::vector<std::string> macs;
  std::vector<std::string> host_key_algorithms;
  int max_startups = 100;
  int max_startups_per_source = 10;
};

class listener {
 public:
  /// Called on the accept thread for each new connection; the callee owns `session` and must
  /// call `release_startup` once the connection authenticated or ended (its maxStartups slot).
  using accept_handler =
      std::function<void(ssh_session_struct* session, std::string peer, std::function<void()> release_startup)>;

  ~listener();
  /// Binds and listens; errors name the address or the key that failed.
  static result<std::unique_ptr<listener>> open(const listener_options& options);
  /// The port actually bound (useful with port 0).
  unsigned port() const { return port_; }
  void start(accept_handler handler);
  /// Stops accepting; established connections are not touched.
  void stop();

 private:
  listener() = default;
  void accept_loop();

  ssh_bind_struct* bind_ = nullptr;
  std::vector<loaded_host_key> keys_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  unsigned port_ = 0;
  accept_handler handler_;
  std::shared_ptr<startup_limiter> limiter_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

}  // namespace cssh::ssh
