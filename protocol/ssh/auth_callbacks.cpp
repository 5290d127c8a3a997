// Authentication for one SSH session: password, public key and keyboard-interactive, each
// asking the layer above (which asks the configured backend). `none` is always refused.

#include "common/log.hpp"
#include "protocol/ssh/session_internal.hpp"

namespace cssh::ssh {
namespace {

session_driver& driver_of(void* userdata) { return *static_cast<session_driver*>(userdata); }

std::string client_version_of(ssh_session session) {
  const char* banner = ssh_get_clientbanner(session);
  return banner ? banner : "";
}

/// "ssh-ed25519 AAAA..." as authorized_keys files and ContainerSSH's webhook write it.
std::string authorized_keys_line(ssh_key key) {
  char* b64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK || b64 == nullptr) return "";
  const char* type = ssh_key_type_to_char(ssh_key_type(key));
  std::string line = std::string(type ? type : "unknown") + " " + b64;
  ssh_string_free_char(b64);
  return line;
}

int on_auth_password(ssh_session session, const char* user, const char* password, void* userdata) {
  auto& d = driver_of(userdata);
  d.send_banner_once();
  std::string name = user ? user : "";
  if (d.events().check_password(name, password ? password : "", client_version_of(session))) {
    d.mark_authenticated(name, "password");
    return SSH_AUTH_SUCCESS;
  }
  d.count_failed_attempt("password", name);
  return SSH_AUTH_DENIED;
}

int on_auth_none(ssh_session, const char*, void* userdata) {
  driver_of(userdata).send_banner_once();
  return SSH_AUTH_DENIED;
}

int on_auth_pubkey(ssh_session session, const char* user, ssh_key_struct* key, char signature_state,
                   void* userdata) {
  auto& d = driver_of(userdata);
  d.send_banner_once();
  std::string name = user ? user : "";
  if (!d.options().public_key) return SSH_AUTH_DENIED;
  std::string line = authorized_keys_line(key);
  if (line.empty()) return SSH_AUTH_DENIED;
  // Ask the backend once per (user, key): the probe without signature and the signed
  // attempt that follows get the same answer.
  std::string cache_key = name + "\n" + line;
  auto cached = d.key_verdicts.find(cache_key);
  bool belongs = false;
  if (cached != d.key_verdicts.end()) {
    belongs = cached->second;
  } else {
    belongs = d.events().check_public_key(name, line, client_version_of(session));
    d.key_verdicts.emplace(cache_key, belongs);
  }
  if (signature_state == SSH_PUBLICKEY_STATE_NONE) {
    // The probe: SUCCESS here makes libssh answer PK_OK ("sign with it"), not log the user in.
    // A refused key counts as a failed attempt, as in OpenSSH.
    if (!belongs) d.count_failed_attempt("publickey", name);
    return belongs ? SSH_AUTH_SUCCESS : SSH_AUTH_DENIED;
  }
  if (signature_state != SSH_PUBLICKEY_STATE_VALID) {
    log::info("SSH_AUTH_FAILED", "public key signature did not verify",
              {{"connectionId", d.options().connection_id}, {"remoteAddress", d.peer()}, {"username", name}});
    d.count_failed_attempt("publickey", name);
    return SSH_AUTH_DENIED;
  }
  if (!belongs) {
    d.count_failed_attempt("publickey", name);
    return SSH_AUTH_DENIED;
  }
  d.mark_authenticated(name, "publickey");
  return SSH_AUTH_SUCCESS;
}

ssh_channel on_channel_open(ssh_session, void* userdata) { return driver_of(userdata).open_session_channel(); }

/// keyboard-interactive has no dedicated libssh server callback: it arrives as a message.
/// One prompt ("Password: ", not echoed); the answer is checked like a password.
int on_message(ssh_session session, ssh_message msg, void* userdata) {
  auto& d = driver_of(userdata);
  if (ssh_message_type(msg) != SSH_REQUEST_AUTH || ssh_message_subtype(msg) != SSH_AUTH_METHOD_INTERACTIVE) {
    if (d.authenticated() && d.answer_forwarding(msg)) return 0;
    return 1;  // libssh's default handling (a refusal for anything no callback took)
  }
  if (!d.options().keyboard_interactive) return 1;
  d.send_banner_once();
  if (!ssh_message_auth_kbdint_is_response(msg)) {
    // The answer (INFO_RESPONSE) carries no user name: remember the one asked for.
    d.kbdint_user = ssh_message_auth_user(msg) ? ssh_message_auth_user(msg) : "";
    const char* prompts[] = {"Password: "};
    char echo[] = {0};
    ssh_message_auth_interactive_request(msg, "", "", 1, prompts, echo);
    return 0;
  }
  const char* answer = ssh_userauth_kbdint_getnanswers(session) == 1 ? ssh_userauth_kbdint_getanswer(session, 0)
                                                                     : nullptr;
  const std::string& name = d.kbdint_user;
  if (answer != nullptr && d.events().check_password(name, answer, client_version_of(session))) {
    d.mark_authenticated(name, "keyboard-interactive");
    ssh_message_auth_reply_success(msg, 0);
    return 0;
  }
  d.count_failed_attempt("keyboard-interactive", name);
  ssh_message_reply_default(msg);  // failure, listing the methods that remain
  return 0;
}

}  // namespace

void session_driver::install_server_callbacks() {
  int methods = 0;
  if (options_.password) methods |= SSH_AUTH_METHOD_PASSWORD;
  if (options_.public_key) methods |= SSH_AUTH_METHOD_PUBLICKEY;
  if (options_.keyboard_interactive) methods |= SSH_AUTH_METHOD_INTERACTIVE;
  ssh_set_auth_methods(session_, methods);

  server_callbacks_.userdata = this;
  server_callbacks_.auth_password_function = options_.password ? &on_auth_password : nullptr;
  server_callbacks_.auth_none_function = &on_auth_none;
  server_callbacks_.auth_pubkey_function = &on_auth_pubkey;
  server_callbacks_.channel_open_request_session_function = &on_channel_open;
  ssh_callbacks_init(&server_callbacks_);
  ssh_set_server_callbacks(session_, &server_callbacks_);
  ssh_set_message_callback(session_, &on_message, this);
}

void session_driver::count_failed_attempt(const char* method, const std::string& user) {
  ++failed_attempts_;
  announce_refusal();
  log::info("SSH_AUTH_FAILED", "authentication attempt failed",
            {{"connectionId", options_.connection_id}, {"remoteAddress", peer_}, {"username", user},
             {"method", method}, {"attempt", failed_attempts_}});
  if (failed_attempts_ >= options_.max_auth_tries) {
    fatal_reason_ = "too many authentication failures (maxAuthTries " + std::to_string(options_.max_auth_tries) + ")";
  }
}

void session_driver::announce_refusal() {
  // The layer above refused this login and asked to disconnect (a limit was reached): the
  // reason goes out now as a banner, ahead of the failure reply, since a client that has no
  // method left gives up at that reply, before the DISCONNECT (which carries it too) arrives.
  // A banner is the one server text clients show during authentication (OpenSSH at its
  // default LogLevel).
  std::string reason;
  {
    std::lock_guard<std::mutex> guard(inbox_mutex_);
    if (!disconnect_requested_ || refusal_announced_) return;
    refusal_announced_ = true;
    reason = disconnect_reason_;
  }
  std::string text = reason + "\r\n";
  ssh_string banner = ssh_string_from_char(text.c_str());
  ssh_send_issue_banner(session_, banner);
  ssh_string_free(banner);
}

void session_driver::mark_authenticated(const std::string& user, const char* method) {
  authenticated_ = true;
  release_startup_slot();
  log::debug("SSH_AUTH_SUCCESSFUL", "authentication succeeded",
             {{"connectionId", options_.connection_id}, {"remoteAddress", peer_}, {"username", user},
              {"method", method}});
  events_->authenticated(user);
}

}  // namespace cssh::ssh
