#include "protocol/ssh_session_driver.hpp"

#include <arpa/inet.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <variant>

#include "common/log.hpp"

namespace cssh::ssh {
namespace {

// The session thread's stack: libssh's key exchange and our callbacks need far less than
// the 8 MiB default, and thousands of idle connections must fit in memory.
constexpr std::size_t session_thread_stack = 512 * 1024;

// Largest slice handed to ssh_channel_write at once (one SSH packet's worth of payload).
constexpr std::size_t max_write_slice = 32768;

struct data_item {
  output_stream stream;
  std::string bytes;
  std::size_t offset = 0;  // bytes already written; never erase from the front
};
struct exit_status_item { int status; };
struct eof_item {};
struct close_item {};
using output_item = std::variant<data_item, exit_status_item, eof_item, close_item>;

struct command {
  channel_id ch = 0;
  output_item item;
};

}  // namespace

class session_driver : public session_commands, public std::enable_shared_from_this<session_driver> {
 public:
  session_driver(ssh_session session, std::shared_ptr<session_events> events, session_limits limits,
                 std::string peer)
      : session_(session), events_(std::move(events)), limits_(limits), peer_(std::move(peer)) {
    doorbell_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }

  ~session_driver() override {
    if (doorbell_ >= 0) ::close(doorbell_);
  }

  // --- session_commands (any thread) ---------------------------------------------------
  void write(channel_id ch, output_stream stream, std::string bytes) override {
    if (bytes.empty()) return;
    enqueue(command{ch, data_item{stream, std::move(bytes)}});
  }
  void send_exit_status(channel_id ch, int status) override { enqueue(command{ch, exit_status_item{status}}); }
  void send_eof(channel_id ch) override { enqueue(command{ch, eof_item{}}); }
  void close_channel(channel_id ch) override { enqueue(command{ch, close_item{}}); }
  void disconnect(const std::string& reason) override {
    {
      std::lock_guard<std::mutex> guard(inbox_mutex_);
      if (finished_) return;
      disconnect_reason_ = reason;
      disconnect_requested_ = true;
    }
    ring();
  }

  // --- the session thread ----------------------------------------------------------------
  void run();
  /// Ends a session whose thread never started.
  void abandon(const std::string& reason) { finish(reason); }

 private:
  struct channel_state {
    session_driver* driver = nullptr;
    channel_id id = 0;
    ssh_channel handle = nullptr;
    ssh_channel_callbacks_struct callbacks{};
    std::deque<output_item> pending;
    bool peer_closed = false;   // CLOSE received from the client
    bool local_closed = false;  // CLOSE sent by us
    bool eof_sent = false;
  };

  void enqueue(command cmd) {
    {
      std::lock_guard<std::mutex> guard(inbox_mutex_);
      if (finished_) return;
      inbox_.push_back(std::move(cmd));
    }
    ring();
  }
  void ring() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(doorbell_, &one, sizeof one);
  }

  bool key_exchange();
  void install_server_callbacks();
  void take_inbox();
  void flush_all();
  void flush_channel(channel_state& cs);
  void reap_channels();
  void finish(const std::string& reason);

  // libssh callbacks (static trampolines; userdata is the driver or the channel state)
  static int on_auth_password(ssh_session, const char* user, const char* password, void* ud);
  static int on_auth_none(ssh_session, const char* user, void* ud);
  static int on_auth_pubkey(ssh_session, const char* user, ssh_key_struct*, char, void* ud);
  static ssh_channel on_channel_open(ssh_session, void* ud);
  static int on_doorbell(socket_t fd, int revents, void* ud);

  static int on_data(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr, void* ud);
  static void on_eof(ssh_session, ssh_channel, void* ud);
  static void on_close(ssh_session, ssh_channel, void* ud);
  static void on_signal(ssh_session, ssh_channel, const char* sig, void* ud);
  static int on_pty(ssh_session, ssh_channel, const char* term, int w, int h, int pw, int ph, void* ud);
  static int on_shell(ssh_session, ssh_channel, void* ud);
  static int on_exec(ssh_session, ssh_channel, const char* cmd, void* ud);
  static int on_subsystem(ssh_session, ssh_channel, const char* name, void* ud);
  static int on_env(ssh_session, ssh_channel, const char* name, const char* value, void* ud);
  static int on_window_change(ssh_session, ssh_channel, int w, int h, int pw, int ph, void* ud);

  ssh_session session_;
  ssh_event event_ = nullptr;
  std::shared_ptr<session_events> events_;
  session_limits limits_;
  std::string peer_;
  int doorbell_ = -1;

  std::mutex inbox_mutex_;
  std::deque<command> inbox_;
  bool finished_ = false;
  bool disconnect_requested_ = false;
  std::string disconnect_reason_;

  ssh_server_callbacks_struct server_callbacks_{};
  bool authenticated_ = false;
  int auth_attempts_ = 0;
  std::string fatal_reason_;
  channel_id next_channel_id_ = 0;
  std::map<channel_id, std::unique_ptr<channel_state>> channels_;
};

// --- callbacks -------------------------------------------------------------------------

int session_driver::on_auth_password(ssh_session session, const char* user, const char* password, void* ud) {
  auto* self = static_cast<session_driver*>(ud);
  if (++self->auth_attempts_ > self->limits_.max_auth_tries) {
    self->fatal_reason_ = "too many authentication attempts";
    return SSH_AUTH_DENIED;
  }
  const char* banner = ssh_get_clientbanner(session);
  if (self->events_->check_password(user ? user : "", password ? password : "", banner ? banner : "")) {
    self->authenticated_ = true;
    self->events_->authenticated(user ? user : "");
    return SSH_AUTH_SUCCESS;
  }
  return SSH_AUTH_DENIED;
}

int session_driver::on_auth_none(ssh_session, const char*, void*) { return SSH_AUTH_DENIED; }

int session_driver::on_auth_pubkey(ssh_session, const char*, ssh_key_struct*, char, void* ud) {
  // Public keys arrive with issue 8; until then every key is refused so the client moves on.
  auto* self = static_cast<session_driver*>(ud);
  (void)self;
  return SSH_AUTH_DENIED;
}

ssh_channel session_driver::on_channel_open(ssh_session session, void* ud) {
  auto* self = static_cast<session_driver*>(ud);
  if (!self->authenticated_) return nullptr;
  ssh_channel handle = ssh_channel_new(session);
  if (handle == nullptr) return nullptr;
  auto cs = std::make_unique<channel_state>();
  cs->driver = self;
  cs->id = self->next_channel_id_++;
  cs->handle = handle;
  auto& cb = cs->callbacks;
  cb.userdata = cs.get();
  cb.channel_data_function = &on_data;
  cb.channel_eof_function = &on_eof;
  cb.channel_close_function = &on_close;
  cb.channel_signal_function = &on_signal;
  cb.channel_pty_request_function = &on_pty;
  cb.channel_shell_request_function = &on_shell;
  cb.channel_exec_request_function = &on_exec;
  cb.channel_subsystem_request_function = &on_subsystem;
  cb.channel_env_request_function = &on_env;
  cb.channel_pty_window_change_function = &on_window_change;
  ssh_callbacks_init(&cb);
  ssh_set_channel_callbacks(handle, &cb);
  auto id = cs->id;
  self->channels_.emplace(id, std::move(cs));
  self->events_->channel_opened(id);
  return handle;
}

int session_driver::on_doorbell(socket_t fd, int, void*) {
  std::uint64_t count = 0;
  [[maybe_unused]] auto n = ::read(fd, &count, sizeof count);
  return 0;
}

int session_driver::on_data(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr, void* ud) {
  auto* cs = static_cast<channel_state*>(ud);
  if (is_stderr) return static_cast<int>(len);  // clients have no business sending stderr
  cs->driver->events_->data_received(cs->id, std::string(static_cast<const char*>(data), len));
  return static_cast<int>(len);
}

void session_driver::on_eof(ssh_session, ssh_channel, void* ud) {
  auto* cs = static_cast<channel_state*>(ud);
  cs->driver->events_->eof_received(cs->id);
}

void session_driver::on_close(ssh_session, ssh_channel, void* ud) {
  // Only mark here: freeing the channel inside its own callback would pull libssh's
  // state out from under it. reap_channels() finishes the job after dopoll returns.
  auto* cs = static_cast<channel_state*>(ud);
  cs->peer_closed = true;
}

void session_driver::on_signal(ssh_session, ssh_channel, const char* sig, void* ud) {
  auto* cs = static_cast<channel_state*>(ud);
  cs->driver->events_->signal_requested(cs->id, sig ? sig : "");
}

int session_driver::on_pty(ssh_session, ssh_channel, const char* term, int w, int h, int, int, void* ud) {
  auto* cs = static_cast<channel_state*>(ud);
  cs->driver->events_->pty_requested(cs->id, term ? term : "", static_cast<unsigned>(std::max(w, 0)),
                                     static_cast<unsigned>(std::max(h, 0)));
  return 0;
}

int session_driver::on_shell(ssh_session, ssh_channel, void* ud) {
  auto* cs = static_cast<channel_state*>(ud);
  return cs->driver->events_->program_requested(cs->id, program_kind::shell, "") ? 0 : -1;
}

int session_driver::on_exec(ssh_session, ssh_channel, const char* cmd, void* ud) {
  auto* cs = static_cast<channel_state*>(ud);
  return cs->driver->events_->program_requested(cs->id, program_kind::exec, cmd ? cmd : "") ? 0 : -1;
}

int session_driver::on_subsystem(ssh_session, ssh_channel, const char* name, void* ud) {
  auto* cs = static_cast<channel_state*>(ud);
  return cs->driver->events_->program_requested(cs->id, program_kind::subsystem, name ? name : "") ? 0 : -1;
}

int session_driver::on_env(ssh_session, ssh_channel, const char* name, const char* value, void* ud) {
  auto* cs = static_cast<channel_state*>(ud);
  cs->driver->events_->env_requested(cs->id, name ? name : "", value ? value : "");
  return 0;
}

int session_driver::on_window_change(ssh_session, ssh_channel, int w, int h, int, int, void* ud) {
  auto* cs = static_cast<channel_state*>(ud);
  cs->driver->events_->window_changed(cs->id, static_cast<unsigned>(std::max(w, 0)),
                                      static_cast<unsigned>(std::max(h, 0)));
  return 0;
}

// --- the loop ----------------------------------------------------------------------------

bool session_driver::key_exchange() {
  // Blocking key exchange on our own thread; libssh's timeout bounds each wait and the
  // login grace time bounds the whole pre-auth phase in run().
  long timeout_s = std::max<long>(1, static_cast<long>(limits_.login_grace.count() / 1000));
  ssh_options_set(session_, SSH_OPTIONS_TIMEOUT, &timeout_s);
  if (ssh_handle_key_exchange(session_) != SSH_OK) {
    fatal_reason_ = std::string("key exchange failed: ") + ssh_get_error(session_);
    return false;
  }
  return true;
}

void session_driver::install_server_callbacks() {
  server_callbacks_.userdata = this;
  server_callbacks_.auth_password_function = &on_auth_password;
  server_callbacks_.auth_none_function = &on_auth_none;
  server_callbacks_.auth_pubkey_function = &on_auth_pubkey;
  server_callbacks_.channel_open_request_session_function = &on_channel_open;
  ssh_callbacks_init(&server_callbacks_);
  ssh_set_server_callbacks(session_, &server_callbacks_);
}

void session_driver::take_inbox() {
  std::deque<command> batch;
  {
    std::lock_guard<std::mutex> guard(inbox_mutex_);
    batch.swap(inbox_);
  }
  for (auto& cmd : batch) {
    auto it = channels_.find(cmd.ch);
    if (it == channels_.end() || it->second->local_closed || it->second->peer_closed) continue;
    it->second->pending.push_back(std::move(cmd.item));
  }
}

void session_driver::flush_channel(channel_state& cs) {
  std::size_t drained = 0;
  while (!cs.pending.empty() && !cs.peer_closed && !cs.local_closed) {
    auto& item = cs.pending.front();
    if (auto* data = std::get_if<data_item>(&item)) {
      std::uint32_t window = ssh_channel_window_size(cs.handle);
      if (window == 0) break;  // resumes when the client adjusts its window
      std::size_t left = data->bytes.size() - data->offset;
      auto slice = static_cast<std::uint32_t>(std::min<std::size_t>({left, window, max_write_slice}));
      const char* from = data->bytes.data() + data->offset;
      int rc = data->stream == output_stream::stdout_stream ? ssh_channel_write(cs.handle, from, slice)
                                                            : ssh_channel_write_stderr(cs.handle, from, slice);
      if (rc == SSH_ERROR) {
        log::debug("SSH_WRITE_FAILED", "writing to the SSH channel failed",
                   {{"peer", peer_}, {"channel", cs.id}, {"error", ssh_get_error(session_)}});
        cs.pending.clear();
        break;
      }
      if (rc <= 0) break;
      data->offset += static_cast<std::size_t>(rc);
      drained += static_cast<std::size_t>(rc);
      if (data->offset == data->bytes.size()) cs.pending.pop_front();
    } else if (auto* status = std::get_if<exit_status_item>(&item)) {
      ssh_channel_request_send_exit_status(cs.handle, status->status);
      cs.pending.pop_front();
    } else if (std::holds_alternative<eof_item>(item)) {
      if (!cs.eof_sent) ssh_channel_send_eof(cs.handle);
      cs.eof_sent = true;
      cs.pending.pop_front();
    } else {
      ssh_channel_close(cs.handle);
      cs.local_closed = true;
      cs.pending.clear();
    }
  }
  if (drained > 0) events_->output_drained(cs.id, drained);
}

void session_driver::flush_all() {
  for (auto& [id, cs] : channels_) flush_channel(*cs);
}

void session_driver::reap_channels() {
  for (auto it = channels_.begin(); it != channels_.end();) {
    auto& cs = *it->second;
    if (cs.peer_closed) {
      // The client closed: answer with our CLOSE (if not sent yet) and forget the channel.
      if (!cs.local_closed) ssh_channel_close(cs.handle);
      ssh_channel_free(cs.handle);
      events_->channel_closed(cs.id);
      it = channels_.erase(it);
    } else {
      ++it;
    }
  }
}

void session_driver::finish(const std::string& reason) {
  {
    std::lock_guard<std::mutex> guard(inbox_mutex_);
    finished_ = true;
    inbox_.clear();
  }
  for (auto& [id, cs] : channels_) {
    events_->channel_closed(id);
    ssh_channel_free(cs->handle);
  }
  channels_.clear();
  if (event_ != nullptr) {
    ssh_event_remove_fd(event_, doorbell_);
    ssh_event_remove_session(event_, session_);
    ssh_event_free(event_);
    event_ = nullptr;
  }
  ssh_disconnect(session_);
  ssh_free(session_);
  session_ = nullptr;
  // Release the layer above: it holds our command interface, and we must not hold it back.
  auto events = std::move(events_);
  events->disconnected(reason);
}

void session_driver::run() {
  auto keep_alive = shared_from_this();
  auto login_deadline = std::chrono::steady_clock::now() + limits_.login_grace;
  if (!key_exchange()) {
    finish(fatal_reason_);
    return;
  }
  ssh_set_auth_methods(session_, SSH_AUTH_METHOD_PASSWORD);
  install_server_callbacks();
  ssh_set_blocking(session_, 0);
  event_ = ssh_event_new();
  ssh_event_add_session(event_, session_);
  ssh_event_add_fd(event_, doorbell_, POLLIN, &on_doorbell, this);

  std::string reason = "client disconnected";
  for (;;) {
    int timeout_ms = -1;
    if (!authenticated_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(login_deadline -
                                                                        std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        reason = "login grace time exceeded";
        break;
      }
      timeout_ms = static_cast<int>(std::min<long long>(left.count(), 1000));
    }
    int rc = ssh_event_dopoll(event_, timeout_ms);
    if (rc == SSH_ERROR) {
      const char* err = ssh_get_error(session_);
      reason = (err && *err) ? std::string("connection error: ") + err : "client disconnected";
      break;
    }
    if (!fatal_reason_.empty()) {
      reason = fatal_reason_;
      break;
    }
    take_inbox();
    flush_all();
    reap_channels();
    int status = ssh_get_status(session_);
    if (status & (SSH_CLOSED | SSH_CLOSED_ERROR)) {
      break;
    }
    bool want_disconnect = false;
    {
      std::lock_guard<std::mutex> guard(inbox_mutex_);
      want_disconnect = disconnect_requested_;
      if (want_disconnect) reason = disconnect_reason_;
    }
    if (want_disconnect) break;
  }
  finish(reason);
}

// --- public entry points ------------------------------------------------------------------

namespace {
void* session_thread_main(void* arg) {
  auto* holder = static_cast<std::shared_ptr<session_driver>*>(arg);
  std::shared_ptr<session_driver> driver = std::move(*holder);
  delete holder;
  driver->run();
  return nullptr;
}
}  // namespace

bool start_session_thread(ssh_session_struct* session, std::shared_ptr<session_events> events,
                          session_limits limits, std::string peer,
                          const std::function<void(std::shared_ptr<session_commands>)>& before_start) {
  auto driver = std::make_shared<session_driver>(session, std::move(events), limits, std::move(peer));
  before_start(driver);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, session_thread_stack);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  auto* holder = new std::shared_ptr<session_driver>(driver);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, &session_thread_main, holder);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete holder;
    log::error("SSH_THREAD_FAILED", "could not start a thread for an SSH connection",
               {{"errno", rc}});
    driver->abandon("no thread could be started for this connection");
    return false;
  }
  return true;
}

std::string describe_peer(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "unknown:0";
  char host[INET6_ADDRSTRLEN] = {0};
  unsigned port = 0;
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "unknown:0";
}

}  // namespace cssh::ssh
