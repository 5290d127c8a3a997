// The channels of one SSH connection (sessions and forwardings): libssh's channel callbacks turned into events.
// Callbacks only record and forward; freeing a channel happens after ssh_event_dopoll
// returns (reap_channels), never inside its own callback.

#include <algorithm>

#include "protocol/ssh/session_internal.hpp"

namespace cssh::ssh {
namespace {

channel_state& state_of(void* userdata) { return *static_cast<channel_state*>(userdata); }
session_events& events_of(void* userdata) { return state_of(userdata).driver->events(); }
unsigned dimension(int value) { return static_cast<unsigned>(std::max(value, 0)); }

int on_data(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr, void* userdata) {
  if (is_stderr) return static_cast<int>(len);  // clients have no business sending stderr
  auto& cs = state_of(userdata);
  if (len > 0) cs.driver->note_channel_data();
  if (cs.close_due) return static_cast<int>(len);  // closing: nobody takes it any more
  if (cs.input_paused || cs.input_in_flight >= input_in_flight_limit) {
    // Full: leave the bytes in libssh's buffer (its window stays closed) until the program
    // has taken what is in flight; resume_input() collects them then.
    cs.input_paused = true;
    return 0;
  }
  cs.input_in_flight += len;
  cs.driver->batch_input(cs, static_cast<const char*>(data), len);
  return static_cast<int>(len);
}

void on_eof(ssh_session, ssh_channel, void* userdata) {
  auto& cs = state_of(userdata);
  cs.peer_eof = true;
  if (cs.input_paused) {
    cs.eof_deferred = true;  // EOF must not overtake the input still buffered
    return;
  }
  cs.driver->deliver_input(cs);  // nor the input batched in this burst
  events_of(userdata).eof_received(cs.id);
}

void on_close(ssh_session, ssh_channel, void* userdata) { state_of(userdata).peer_closed = true; }

void on_signal(ssh_session, ssh_channel, const char* sig, void* userdata) {
  events_of(userdata).signal_requested(state_of(userdata).id, sig ? sig : "");
}

int on_pty(ssh_session, ssh_channel, const char* term, int cols, int rows, int, int, void* userdata) {
  return events_of(userdata).pty_requested(state_of(userdata).id, term ? term : "", dimension(cols), dimension(rows))
             ? 0
             : -1;
}

/// shell, exec, subsystem. A refusal's message goes to stderr right here, before libssh sends
/// the failure reply, for clients that show what arrived first. (OpenSSH does not: it exits at
/// the failure reply; the reason is in the server's log.)
int answer_program(ssh_channel channel, void* userdata, program_kind kind, const char* argument) {
  auto answer = events_of(userdata).program_requested(state_of(userdata).id, kind, argument ? argument : "");
  if (answer.accepted) return 0;
  if (!answer.message.empty()) {
    std::string line = answer.message + "\r\n";
    ssh_channel_write_stderr(channel, line.data(), static_cast<uint32_t>(line.size()));
  }
  return -1;
}

int on_shell(ssh_session, ssh_channel channel, void* userdata) {
  return answer_program(channel, userdata, program_kind::shell, "");
}

int on_exec(ssh_session, ssh_channel channel, const char* command, void* userdata) {
  return answer_program(channel, userdata, program_kind::exec, command);
}

int on_subsystem(ssh_session, ssh_channel channel, const char* name, void* userdata) {
  return answer_program(channel, userdata, program_kind::subsystem, name);
}

int on_env(ssh_session, ssh_channel, const char* name, const char* value, void* userdata) {
  return events_of(userdata).env_requested(state_of(userdata).id, name ? name : "", value ? value : "") ? 0 : -1;
}

/// OpenSSH's -A asks without wanting a reply (libssh would answer success to one that did):
/// whether it is served shows only in the program's SSH_AUTH_SOCK.
void on_agent_request(ssh_session, ssh_channel, void* userdata) {
  events_of(userdata).agent_forwarding_requested(state_of(userdata).id);
}

int on_window_change(ssh_session, ssh_channel, int cols, int rows, int, int, void* userdata) {
  events_of(userdata).window_changed(state_of(userdata).id, dimension(cols), dimension(rows));
  return 0;
}

}  // namespace

channel_state& session_driver::add_channel(ssh_channel handle, bool forwarded) {
  auto cs = std::make_unique<channel_state>();
  cs->driver = this;
  cs->id = next_channel_id++;
  cs->handle = handle;
  cs->forwarded = forwarded;
  auto& cb = cs->callbacks;
  cb.userdata = cs.get();
  cb.channel_data_function = &on_data;
  cb.channel_eof_function = &on_eof;
  cb.channel_close_function = &on_close;
  if (!forwarded) {
    cb.channel_signal_function = &on_signal;
    cb.channel_pty_request_function = &on_pty;
    cb.channel_shell_request_function = &on_shell;
    cb.channel_exec_request_function = &on_exec;
    cb.channel_subsystem_request_function = &on_subsystem;
    cb.channel_env_request_function = &on_env;
    cb.channel_pty_window_change_function = &on_window_change;
    cb.channel_auth_agent_req_function = &on_agent_request;
    // x11-req is left to the message callback (forward_callbacks.cpp): libssh answers success
    // to every x11-req a channel callback sees, and a refused one must be answered failure.
  }
  ssh_callbacks_init(&cb);
  ssh_set_channel_callbacks(handle, &cb);
  auto& state = *cs;
  channels.emplace(state.id, std::move(cs));
  return state;
}

channel_state* session_driver::find_channel(ssh_channel handle) {
  for (auto& [id, cs] : channels)
    if (cs->handle == handle) return cs.get();
  return nullptr;
}

ssh_channel session_driver::open_session_channel() {
  if (!authenticated_ || no_more_sessions) return nullptr;
  if (!events_->may_open_session()) return nullptr;  // open failure: administratively prohibited
  ssh_channel handle = ssh_channel_new(session_);
  if (handle == nullptr) return nullptr;
  auto id = add_channel(handle, false).id;
  events_->channel_opened(id);
  return handle;
}

}  // namespace cssh::ssh
