// Forwarding requests of one SSH connection, in libssh 0.10's terms (docs/forwarding.md):
//   direct-tcpip (-L, -D), tcpip-forward / cancel-tcpip-forward (-R) and x11-req reach us only
//   as messages, and each must be answered inside the message callback: a channel is accepted
//   or refused (always "administratively prohibited") there, a global request answered there.
//   Channels towards the client (forwarded-tcpip, auth-agent, x11) are opened without blocking:
//   libssh's open returns SSH_AGAIN until the client answers, so the run loop carries them on.
//   Unix-socket forwarding (streamlocal) cannot be served: libssh 0.10 answers its global
//   request itself and hands over its channel open without the socket's path.

#include "protocol/ssh/session_internal.hpp"

namespace cssh::ssh {
namespace {

std::string text(const char* s) { return s ? s : ""; }

/// libssh has no non-deprecated accessors for an x11-req's fields in 0.10 (its replacement, a
/// channel callback, answers success to every request, so a refused one could not be refused).
x11_request x11_fields(ssh_message msg) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  x11_request r;
  r.single_connection = ssh_message_channel_request_x11_single_connection(msg) != 0;
  r.protocol = text(ssh_message_channel_request_x11_auth_protocol(msg));
  r.cookie = text(ssh_message_channel_request_x11_auth_cookie(msg));
  r.screen = static_cast<unsigned>(std::max(0, ssh_message_channel_request_x11_screen_number(msg)));
#pragma GCC diagnostic pop
  return r;
}

/// Sends the channel open for `request` (the first call) or looks for the client's answer.
int open_towards_client(ssh_channel handle, const channel_open_request& request) {
  switch (request.what) {
    case channel_open_request::kind::forwarded_tcpip:
      return ssh_channel_open_reverse_forward(handle, request.address.c_str(), request.port,
                                              request.originator.c_str(), request.originator_port);
    case channel_open_request::kind::agent:
      return ssh_channel_open_auth_agent(handle);
    case channel_open_request::kind::x11:
      return ssh_channel_open_x11(handle, request.originator.c_str(), request.originator_port);
  }
  return SSH_ERROR;
}

}  // namespace

bool session_driver::answer_forwarding(ssh_message msg) {
  const int type = ssh_message_type(msg);
  const int subtype = ssh_message_subtype(msg);
  if (type == SSH_REQUEST_CHANNEL_OPEN && subtype == SSH_CHANNEL_DIRECT_TCPIP) {
    const channel_id id = next_channel_id;  // the id the channel gets if accepted
    const int port = ssh_message_channel_request_open_destination_port(msg);
    if (!events_->direct_tcpip_requested(id, text(ssh_message_channel_request_open_destination(msg)),
                                         static_cast<unsigned>(std::max(port, 0)),
                                         text(ssh_message_channel_request_open_originator(msg)),
                                         static_cast<unsigned>(std::max(0, ssh_message_channel_request_open_originator_port(msg))))) {
      return false;  // libssh refuses it
    }
    ssh_channel handle = ssh_message_channel_request_open_reply_accept(msg);
    if (handle == nullptr) {
      // The accept could not be sent: the layer above counted the channel; close it there.
      events_->channel_closed(next_channel_id++);
      return true;
    }
    add_channel(handle, true);
    return true;
  }
  if (type == SSH_REQUEST_GLOBAL && subtype == SSH_GLOBAL_REQUEST_TCPIP_FORWARD) {
    const int port = ssh_message_global_request_port(msg);
    auto bound = events_->remote_forward_requested(text(ssh_message_global_request_address(msg)),
                                                   static_cast<unsigned>(std::max(port, 0)));
    if (!bound) return false;
    ssh_message_global_request_reply_success(msg, static_cast<uint16_t>(*bound));
    return true;
  }
  if (type == SSH_REQUEST_GLOBAL && subtype == SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD) {
    const int port = ssh_message_global_request_port(msg);
    if (!events_->remote_forward_cancelled(text(ssh_message_global_request_address(msg)),
                                           static_cast<unsigned>(std::max(port, 0))))
      return false;
    ssh_message_global_request_reply_success(msg, 0);
    return true;
  }
  if (type == SSH_REQUEST_CHANNEL && subtype == SSH_CHANNEL_REQUEST_X11) {
    auto* cs = find_channel(ssh_message_channel_request_channel(msg));
    if (cs == nullptr || cs->forwarded || !events_->x11_forwarding_requested(cs->id, x11_fields(msg))) return false;
    ssh_message_channel_request_reply_success(msg);
    return true;
  }
  if (type == SSH_REQUEST_CHANNEL_OPEN && subtype == SSH_CHANNEL_UNKNOWN) {
    // direct-streamlocal@openssh.com (ssh -L to a Unix socket) arrives as this, path unknown.
    events_->forwarding_requested(forwarding_kind::streamlocal, "");
  }
  return false;
}

void session_driver::start_open(open_channel_item item) {
  ssh_channel handle = ssh_channel_new(session_);
  if (handle == nullptr) {
    if (item.opened) item.opened(std::nullopt);
    return;
  }
  // Registered (with its callbacks) before the open is sent: the client's first data may come
  // in the same read as its confirmation. Nobody knows the id until `opened` runs.
  auto& cs = add_channel(handle, true);
  openings.push_back(opening{cs.id, std::move(item.request), std::move(item.opened)});
}

void session_driver::continue_opens() {
  if (openings.empty()) return;
  // Opening handles packets, whose callbacks do not touch this list; take it out meanwhile.
  std::vector<opening> pending;
  pending.swap(openings);
  for (auto& o : pending) {
    auto it = channels.find(o.id);
    int rc = it == channels.end() ? SSH_ERROR : open_towards_client(it->second->handle, o.request);
    if (rc == SSH_AGAIN) {
      openings.push_back(std::move(o));
    } else if (rc == SSH_OK) {
      if (o.opened) o.opened(o.id);
    } else {
      if (it != channels.end()) {
        ssh_channel_free(it->second->handle);
        channels.erase(it);
      }
      if (o.opened) o.opened(std::nullopt);
    }
  }
}

}  // namespace cssh::ssh
