#include "protocol/ssh/session_driver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "common/thread_name.hpp"
#include "protocol/ssh/session_internal.hpp"

namespace cssh::ssh {
namespace {

// The session thread's stack: libssh's key exchange and our callbacks need far less than
// the 8 MiB default, and thousands of idle connections must fit in memory.
constexpr std::size_t session_thread_stack = 512 * 1024;

constexpr std::size_t max_write_slice = flow::output_write_slice;

}  // namespace

session_driver::session_driver(ssh_session session, std::shared_ptr<session_events> events,
                               session_options options, std::string peer)
    : session_(session), events_(std::move(events)), options_(std::move(options)), peer_(std::move(peer)) {
  doorbell_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

session_driver::~session_driver() {
  if (doorbell_ >= 0) ::close(doorbell_);
}

// --- commands (any thread) ----------------------------------------------------------------

void session_driver::write(channel_id ch, output_stream stream, std::string bytes) {
  if (bytes.empty()) return;
  enqueue(queued_command{ch, data_item{stream, std::move(bytes)}});
}
void session_driver::send_exit_status(channel_id ch, int status) { enqueue(queued_command{ch, exit_status_item{status}}); }
void session_driver::send_exit_signal(channel_id ch, const std::string& signal_name, bool core_dumped,
                                      const std::string& message) {
  enqueue(queued_command{ch, exit_signal_item{signal_name, core_dumped, message}});
}
void session_driver::input_consumed(channel_id ch, std::size_t bytes) {
  enqueue(queued_command{ch, input_credit_item{bytes}});
}
void session_driver::set_output_credit_sink(channel_id ch, std::function<void(std::size_t)> sink) {
  enqueue(queued_command{ch, credit_sink_item{std::move(sink)}});
}
void session_driver::send_eof(channel_id ch) { enqueue(queued_command{ch, eof_item{}}); }
void session_driver::close_channel(channel_id ch) { enqueue(queued_command{ch, close_item{}}); }
void session_driver::open_channel(channel_open_request request, std::function<void(std::optional<channel_id>)> opened) {
  {
    std::lock_guard<std::mutex> guard(inbox_mutex_);
    if (!finished_) {
      inbox_.push_back(queued_command{0, open_channel_item{std::move(request), opened}});
      opened = nullptr;
    }
  }
  if (opened) return opened(std::nullopt);  // the connection is gone
  ring();
}

void session_driver::disconnect(const std::string& reason) {
  {
    std::lock_guard<std::mutex> guard(inbox_mutex_);
    if (finished_) return;
    disconnect_reason_ = reason;
    disconnect_requested_ = true;
  }
  ring();
}

void session_driver::enqueue(queued_command cmd) {
  {
    std::lock_guard<std::mutex> guard(inbox_mutex_);
    if (finished_) return;
    inbox_.push_back(std::move(cmd));
  }
  ring();
}

void session_driver::ring() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(doorbell_, &one, sizeof one);
}

int session_driver::on_doorbell(socket_t fd, int, void*) {
  std::uint64_t count = 0;
  [[maybe_unused]] auto n = ::read(fd, &count, sizeof count);
  return 0;
}

// --- the loop ----------------------------------------------------------------------------

bool session_driver::key_exchange() {
  // Blocking key exchange on our own thread; libssh's timeout bounds each wait and the
  // login grace time bounds the whole pre-auth phase in run().
  long timeout_s = std::max<long>(1, static_cast<long>(options_.login_grace.count() / 1000));
  ssh_options_set(session_, SSH_OPTIONS_TIMEOUT, &timeout_s);
  if (ssh_handle_key_exchange(session_) != SSH_OK) {
    fatal_reason_ = std::string("key exchange failed: ") + ssh_get_error(session_);
    return false;
  }
  return true;
}

void session_driver::take_inbox() {
  std::deque<queued_command> batch;
  {
    std::lock_guard<std::mutex> guard(inbox_mutex_);
    batch.swap(inbox_);
  }
  for (auto& cmd : batch) {
    if (auto* open = std::get_if<open_channel_item>(&cmd.item)) {
      start_open(std::move(*open));
      continue;
    }
    auto it = channels.find(cmd.ch);
    if (it == channels.end() || it->second->local_closed || it->second->peer_closed) continue;
    auto& cs = *it->second;
    if (auto* credit = std::get_if<input_credit_item>(&cmd.item)) {
      // Never below what is held here: the held batch counts as in flight until handed on.
      std::size_t floor = cs.input_batch.size();
      cs.input_in_flight = credit->bytes + floor >= cs.input_in_flight ? floor : cs.input_in_flight - credit->bytes;
      offer_input(cs);
      resume_input(cs);
      continue;
    }
    if (auto* sink = std::get_if<credit_sink_item>(&cmd.item)) {
      cs.output_credit_sink = std::move(sink->sink);
      continue;
    }
    std::visit(
        [&cs](auto&& item) {
          using T = std::decay_t<decltype(item)>;
          if constexpr (!std::is_same_v<T, input_credit_item> && !std::is_same_v<T, credit_sink_item> &&
                        !std::is_same_v<T, open_channel_item>) {
            cs.pending.push_back(std::move(item));
          }
        },
        std::move(cmd.item));
  }
}

void session_driver::batch_input(channel_state& cs, const char* data, std::size_t len) {
  // A bulk sender's batch grows to input_batch_limit: sized once instead of reallocated (and
  // copied) on the way; a keystroke's stays small.
  if (cs.input_batch.empty() && len >= 8192) cs.input_batch.reserve(input_batch_limit + 32768);
  cs.input_batch.append(data, len);
  input_batched_ += len;
}

void session_driver::deliver_input(channel_state& cs) {
  if (cs.input_batch.empty()) return;
  std::string batch;
  batch.swap(cs.input_batch);
  events_->data_received(cs.id, std::move(batch));
}

int session_driver::drain_ready_input(int rc) {
  // Bounded: other channels' output and the inbox wait for this loop.
  constexpr int max_rounds = 32;
  for (int round = 0; rc == SSH_OK && input_batched_ > 0 && input_batched_ < input_batch_limit && round < max_rounds;
       ++round) {
    int more = ssh_event_dopoll(event_, 0);
    if (more == SSH_AGAIN) break;  // nothing more is ready
    rc = more;
  }
  input_batched_ = 0;
  return rc;  // the run loop offers the batches after the inbox (credits may have come in)
}

void session_driver::offer_input(channel_state& cs) {
  // One batch on its way at a time: while input handed on earlier is not consumed yet, the
  // next batch keeps growing here (up to input_batch_limit) instead of following in small
  // pieces, each of which costs a round of thread wake-ups. Typing, with nothing on its way,
  // goes on at once.
  std::size_t on_its_way = cs.input_in_flight - cs.input_batch.size();
  if (on_its_way > 0 && cs.input_batch.size() < input_batch_limit) return;
  deliver_input(cs);
}

void session_driver::resume_input(channel_state& cs) {
  // Take what libssh kept while we were full; reading it also lets libssh open the client's
  // window again.
  char buffer[32768];
  if (cs.input_paused && cs.input_in_flight < input_in_flight_limit) deliver_input(cs);  // it came first
  while (cs.input_paused && cs.input_in_flight < input_in_flight_limit) {
    int available = ssh_channel_poll(cs.handle, 0);
    if (available <= 0) {
      cs.input_paused = false;
      break;
    }
    auto want = std::min<std::size_t>({static_cast<std::size_t>(available), sizeof buffer,
                                       input_in_flight_limit - cs.input_in_flight});
    int n = ssh_channel_read_nonblocking(cs.handle, buffer, static_cast<uint32_t>(want), 0);
    if (n <= 0) break;
    cs.input_in_flight += static_cast<std::size_t>(n);
    events_->data_received(cs.id, std::string(buffer, static_cast<std::size_t>(n)));
  }
  if (!cs.input_paused && cs.eof_deferred) {
    cs.eof_deferred = false;
    events_->eof_received(cs.id);
  }
}

void session_driver::flush_channel(channel_state& cs) {
  std::size_t drained = 0;
  while (!cs.pending.empty() && !cs.peer_closed && !cs.local_closed) {
    auto& item = cs.pending.front();
    if (auto* data = std::get_if<data_item>(&item)) {
      if (cs.eof_sent) {
        // Nothing may follow our EOF; dropping it keeps the CLOSE behind it (libssh refuses the
        // write, and treating that as an error would clear the queue, CLOSE included).
        cs.pending.pop_front();
        continue;
      }
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
      note_channel_data();
      data->offset += static_cast<std::size_t>(rc);
      drained += static_cast<std::size_t>(rc);
      if (data->offset == data->bytes.size()) cs.pending.pop_front();
    } else if (auto* status = std::get_if<exit_status_item>(&item)) {
      ssh_channel_request_send_exit_status(cs.handle, status->status);
      cs.pending.pop_front();
    } else if (auto* sig = std::get_if<exit_signal_item>(&item)) {
      ssh_channel_request_send_exit_signal(cs.handle, sig->signal_name.c_str(), sig->core_dumped ? 1 : 0,
                                           sig->message.c_str(), "");
      cs.pending.pop_front();
    } else if (std::holds_alternative<eof_item>(item)) {
      if (!cs.eof_sent) ssh_channel_send_eof(cs.handle);
      cs.eof_sent = true;
      cs.pending.pop_front();
    } else {
      if (cs.forwarded && !cs.peer_eof && !cs.close_due) {
        if (!cs.eof_sent) ssh_channel_send_eof(cs.handle);
        cs.eof_sent = true;
        cs.close_due = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        cs.pending.clear();
        break;
      }
      ssh_channel_close(cs.handle);
      cs.local_closed = true;
      cs.pending.clear();
    }
  }
  // Only the relay's output is paced by credit; other writes (a failure message) need none.
  if (drained > 0 && cs.output_credit_sink) cs.output_credit_sink(drained);
}

bool session_driver::close_due_channels() {
  bool waiting = false;
  const auto now = std::chrono::steady_clock::now();
  for (auto& [id, cs] : channels) {
    if (!cs->close_due || cs->local_closed || cs->peer_closed) continue;
    if (cs->peer_eof || now >= *cs->close_due) {
      ssh_channel_close(cs->handle);
      cs->local_closed = true;
    } else {
      waiting = true;
    }
  }
  return waiting;
}

void session_driver::reap_channels() {
  for (auto it = channels.begin(); it != channels.end();) {
    auto& cs = *it->second;
    if (cs.peer_closed) {
      deliver_input(cs);
      // The client closed: answer with our CLOSE (if not sent yet) and forget the channel.
      if (!cs.local_closed) ssh_channel_close(cs.handle);
      ssh_channel_free(cs.handle);
      events_->channel_closed(cs.id);
      it = channels.erase(it);
    } else {
      ++it;
    }
  }
}

void session_driver::finish(const std::string& reason) {
  release_startup_slot();
  {
    std::lock_guard<std::mutex> guard(inbox_mutex_);
    finished_ = true;
    inbox_.clear();
  }
  for (auto& [id, cs] : channels) {
    deliver_input(*cs);
    events_->channel_closed(id);
    ssh_channel_free(cs->handle);
  }
  channels.clear();
  for (auto& o : openings)
    if (o.opened) o.opened(std::nullopt);  // its channel was freed with the others above
  openings.clear();
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

void session_driver::send_banner_once() {
  // SSH_MSG_USERAUTH_BANNER is only valid once the client asked for ssh-userauth: clients
  // (OpenSSH, PuTTY) drop the connection over a banner that comes earlier. The first
  // authentication request is the earliest safe moment, and the banner precedes its answer.
  if (banner_sent_ || options_.banner.empty()) return;
  banner_sent_ = true;
  ssh_string banner = ssh_string_from_char(options_.banner.c_str());
  ssh_send_issue_banner(session_, banner);
  ssh_string_free(banner);
}

void session_driver::release_startup_slot() {
  if (startup_released_) return;
  startup_released_ = true;
  if (options_.startup_done) options_.startup_done();
}

void session_driver::check_client_alive() {
  if (!authenticated_ || options_.client_alive_interval.count() <= 0) return;
  auto now = std::chrono::steady_clock::now();
  if (received_.in_packets != packets_seen_) {
    // Any packet from the client (a keepalive reply included) proves it is alive.
    packets_seen_ = received_.in_packets;
    last_heard_ = now;
    unanswered_keepalives_ = 0;
    return;
  }
  if (now - last_heard_ < options_.client_alive_interval) return;
  if (unanswered_keepalives_ >= options_.client_alive_count_max) {
    fatal_reason_ = "client did not answer " + std::to_string(unanswered_keepalives_) +
                    " keepalives (clientAliveInterval " +
                    std::to_string(options_.client_alive_interval.count()) + "ms)";
    log::notice("SSH_KEEPALIVE_NORESP", "closing an unresponsive connection",
                {{"connectionId", options_.connection_id}, {"remoteAddress", peer_}});
    return;
  }
  ++unanswered_keepalives_;
  last_heard_ = now;  // the next ask comes one interval later
  ssh_send_keepalive(session_);
}

namespace {
/// "90s", "15m", "1h30m": durations as the configuration writes them, for messages.
std::string describe_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  long long s = ms / 1000;
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string(s % 3600 / 60) + "m";
  if (s % 60 != 0 || out.empty()) out += std::to_string(s % 60) + "s";
  return out;
}
}  // namespace

void session_driver::tell_client(const std::string& text) {
  for (auto& [id, cs] : channels) {
    if (cs->local_closed || cs->peer_closed || cs->forwarded) continue;
    cs->pending.push_back(data_item{output_stream::stderr_stream, text});
    flush_channel(*cs);
  }
  // Disconnect follows at once: give the write a moment to leave (non-blocking session).
  ssh_blocking_flush(session_, 200);
  ssh_session_set_disconnect_message(session_, text.substr(0, text.find_last_not_of("\r\n") + 1).c_str());
}

std::chrono::milliseconds session_driver::check_timeouts() {
  using std::chrono::milliseconds;
  constexpr milliseconds none{1000};  // nothing due: look again within a second anyway
  auto now = std::chrono::steady_clock::now();
  milliseconds next = none;
  if (options_.session_timeout.count() > 0) {
    auto left = std::chrono::duration_cast<milliseconds>(started_ + options_.session_timeout - now);
    if (left.count() <= 0) {
      const std::string limit = describe_duration(options_.session_timeout);
      tell_client("containerssh: the connection reached its time limit (sessionTimeout " + limit +
                  ") and is closed\r\n");
      fatal_reason_ = "session timeout (" + limit + ")";
      log::notice("SSH_SESSION_TIMEOUT", "closing a connection at its time limit",
                  {{"connectionId", options_.connection_id}, {"remoteAddress", peer_}, {"sessionTimeout", limit}});
      metrics::server().timeouts("session").inc();
      return none;
    }
    next = std::min(next, left);
  }
  if (options_.idle_timeout.count() > 0 && authenticated_) {
    if (last_data_ == std::chrono::steady_clock::time_point{}) last_data_ = now;  // authenticated just now
    auto left = std::chrono::duration_cast<milliseconds>(last_data_ + options_.idle_timeout - now);
    if (left.count() <= 0) {
      const std::string limit = describe_duration(options_.idle_timeout);
      tell_client("containerssh: no data for " + limit + " (idleTimeout): the connection is closed\r\n");
      fatal_reason_ = "idle timeout (" + limit + " without data)";
      log::notice("SSH_IDLE_TIMEOUT", "closing an idle connection",
                  {{"connectionId", options_.connection_id}, {"remoteAddress", peer_}, {"idleTimeout", limit}});
      metrics::server().timeouts("idle").inc();
      return none;
    }
    next = std::min(next, left);
  }
  return std::max(next, milliseconds(1));
}

void session_driver::on_libssh_log(int priority, const char*, const char* buffer, void* userdata) {
  auto* self = static_cast<session_driver*>(userdata);
  if (self == nullptr || buffer == nullptr) return;
  // libssh 0.10 answers global requests it does not know without any hook for us; the only
  // trace of OpenSSH's no-more-sessions@openssh.com is this protocol-level log line.
  if (std::strstr(buffer, "UNKNOWN SSH_MSG_GLOBAL_REQUEST") != nullptr &&
      std::strstr(buffer, "no-more-sessions@openssh.com") != nullptr) {
    self->no_more_sessions = true;
    return;
  }
  if (priority <= SSH_LOG_WARNING) {
    log::debug("SSH_LIBSSH", buffer, {{"connectionId", self->options_.connection_id}});
  }
}

void session_driver::run() {
  auto keep_alive = shared_from_this();
  // libssh's log settings are per thread, and this thread serves this session only.
  ssh_set_log_level(SSH_LOG_PROTOCOL);
  ssh_set_log_userdata(this);
  ssh_set_log_callback(&on_libssh_log);
  auto login_deadline = std::chrono::steady_clock::now() + options_.login_grace;
  ssh_set_counters(session_, &sent_, &received_);
  // Callbacks go in before the key exchange: clients such as PuTTY send their service
  // request right behind NEWKEYS, and it must find a handler, not a queue nobody reads.
  install_server_callbacks();
  if (!key_exchange()) {
    finish(fatal_reason_);
    return;
  }
  ssh_set_blocking(session_, 0);
  event_ = ssh_event_new();
  ssh_event_add_session(event_, session_);
  ssh_event_add_fd(event_, doorbell_, POLLIN, &on_doorbell, this);

  std::string reason = "client disconnected";
  bool closes_waiting = false;  // a forwarding channel's CLOSE waits for the client's EOF
  for (;;) {
    int timeout_ms = -1;
    auto now = std::chrono::steady_clock::now();
    if (!authenticated_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(login_deadline - now);
      if (left.count() <= 0) {
        reason = "login grace time exceeded";
        break;
      }
      timeout_ms = static_cast<int>(std::min<long long>(left.count(), 1000));
    } else if (options_.client_alive_interval.count() > 0) {
      timeout_ms = static_cast<int>(std::min<long long>(options_.client_alive_interval.count(), 1000));
    }
    if (options_.idle_timeout.count() > 0 || options_.session_timeout.count() > 0) {
      auto due = check_timeouts();
      if (!fatal_reason_.empty()) {
        reason = fatal_reason_;
        break;
      }
      timeout_ms = timeout_ms < 0 ? static_cast<int>(due.count()) : std::min(timeout_ms, static_cast<int>(due.count()));
    }
    if (closes_waiting) timeout_ms = timeout_ms < 0 ? 100 : std::min(timeout_ms, 100);
    int rc = drain_ready_input(ssh_event_dopoll(event_, timeout_ms));
    if (rc == SSH_ERROR) {
      const char* err = ssh_get_error(session_);
      reason = (err && *err) ? std::string("connection error: ") + err : "client disconnected";
      break;
    }
    check_client_alive();
    if (!fatal_reason_.empty()) {
      reason = fatal_reason_;
      break;
    }
    take_inbox();
    continue_opens();
    // A batch may have grown outside the poll burst (libssh reads packets for any channel while
    // resume_input asks about one): offer every batch, not only the credited ones.
    for (auto& [id, cs] : channels) offer_input(*cs);
    for (auto& [id, cs] : channels) flush_channel(*cs);
    closes_waiting = close_due_channels();
    reap_channels();
    int status = ssh_get_status(session_);
    if (status & (SSH_CLOSED | SSH_CLOSED_ERROR)) break;
    bool want_disconnect = false;
    {
      std::lock_guard<std::mutex> guard(inbox_mutex_);
      want_disconnect = disconnect_requested_;
      if (want_disconnect) reason = disconnect_reason_;
    }
    if (want_disconnect) {
      // The layer above ends the connection (server shutdown, a refused login): say why, on every
      // open channel's stderr and as the description of SSH_MSG_DISCONNECT (OpenSSH prints it).
      // libssh writes a packet at once only when the socket reported writable since its last
      // write: flush what is queued (the failure reply to a refused login), then one more poll
      // marks the socket writable, so the DISCONNECT leaves before ssh_disconnect closes it.
      tell_client("containerssh: " + reason + "\r\n");
      ssh_blocking_flush(session_, 1000);
      ssh_event_dopoll(event_, 0);
      break;
    }
  }
  finish(reason);
}

// --- public entry points ------------------------------------------------------------------

namespace {
void* session_thread_main(void* arg) {
  auto* holder = static_cast<std::shared_ptr<session_driver>*>(arg);
  std::shared_ptr<session_driver> driver = std::move(*holder);
  delete holder;
  name_this_thread("cssh-session");
  driver->run();
  return nullptr;
}
}  // namespace

bool start_session_thread(ssh_session_struct* session, std::shared_ptr<session_events> events,
                          session_options options, std::string peer,
                          const std::function<void(std::shared_ptr<session_commands>)>& before_start) {
  auto driver = std::make_shared<session_driver>(session, std::move(events), std::move(options), std::move(peer));
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
