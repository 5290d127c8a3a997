// forward_hub's side of the helper's stream: attaching it, writing the queued frames, reading
// and dispatching the helper's frames, failure and close (forward_hub.hpp).

#include "actors/forward_hub.hpp"
#include "actors/forward_hub_state.hpp"
#include "common/forward_metrics.hpp"
#include "common/log.hpp"

namespace cssh::actors {

using namespace forward_detail;


void forward_hub::attach(std::shared_ptr<http::upgraded_stream> stream, std::string exec_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || failed_) {
      stream->close();
      return;
    }
    stream_ = std::move(stream);
    exec_id_ = std::move(exec_id);
    reading_ = true;
  }
  flush_out();
  read_more();
}

void forward_hub::flush_out() {
  std::shared_ptr<http::upgraded_stream> stream;
  std::string bytes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stream_ || writing_ || out_.empty() || closed_) return;
    writing_ = true;
    bytes.swap(out_);
    stream = stream_;
  }
  std::weak_ptr<forward_hub> weak = weak_from_this();
  stream->async_write(std::move(bytes), [weak](result<void> written) {
    auto hub = weak.lock();
    if (!hub) return;
    {
      std::lock_guard<std::mutex> lock(hub->mu_);
      hub->writing_ = false;
      if (!written && !hub->closed_) {
        hub->fail_locked(cssh::fail("FORWARD_HELPER_FAILED",
                              "writing to the forwarding helper failed: " + written.error().message));
        return;
      }
    }
    hub->flush_out();
  });
}

void forward_hub::read_more() {
  std::shared_ptr<http::upgraded_stream> stream;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stream_ || closed_) return;
    stream = stream_;
  }
  std::weak_ptr<forward_hub> weak = weak_from_this();
  stream->async_read(read_chunk, [weak](result<std::string> chunk) {
    if (auto hub = weak.lock()) hub->on_read(std::move(chunk));
  });
}

void forward_hub::on_read(result<std::string> chunk) {
  deferred later;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || failed_) return;
    if (!chunk || chunk->empty()) {
      fail_locked(cssh::fail("FORWARD_HELPER_FAILED", chunk ? "the forwarding helper ended"
                                                      : "reading from the forwarding helper failed: " +
                                                            chunk.error().message));
      return;
    }
    pending_later_ = &later;
    auto fed = demux_.feed(*chunk);
    pending_later_ = nullptr;
    if (!fed) decode_error_ = fed.error();
    if (decode_error_) {
      fail_locked(cssh::fail("FORWARD_PROTOCOL", "the forwarding helper broke the protocol: " + decode_error_->message));
      return;
    }
  }
  for (auto& step : later) step();
  flush_out();
  read_more();
}

void forward_hub::on_frame(const forward::frame& f, deferred& later) {
  using forward::frame_type;
  switch (f.type) {
    case frame_type::hello:
      hello_seen_ = true;
      return;
    case frame_type::ok:
      return on_ok(f);
    case frame_type::fail:
      return on_fail(f);
    case frame_type::accepted:
      return on_accepted(f, later);
    case frame_type::data: {
      auto it = streams_.find(f.id);
      if (it == streams_.end()) return;
      auto& s = *it->second;
      s.receive_used += f.payload.size();
      if (s.receive_used > forward::stream_window) {
        // A helper that ignores our window (its process tampered with) could fill our memory.
        decode_error_ = cssh::fail("FORWARD_PROTOCOL", "the helper sent more than the stream's window");
        return;
      }
      if (s.ch)
        session_->write(*s.ch, ssh::output_stream::stdout_stream, std::string(f.payload));
      else
        s.early.append(f.payload);
      return;
    }
    case frame_type::eof: {
      auto it = streams_.find(f.id);
      if (it == streams_.end()) return;
      it->second->helper_eof = true;
      if (it->second->ch) session_->send_eof(*it->second->ch);
      return;
    }
    case frame_type::close: {
      auto it = streams_.find(f.id);
      if (it == streams_.end()) return;
      auto& s = *it->second;
      s.helper_closed = true;
      if (!s.close_sent) forward::append_frame(out_, frame_type::close, f.id);
      s.close_sent = true;
      if (!s.ch) return;  // the channel is still being opened: closed when it is
      session_->close_channel(*s.ch);
      drop_stream(f.id);
      return;
    }
    case frame_type::credit: {
      auto it = streams_.find(f.id);
      auto bytes = forward::read_credit(f.payload);
      if (it == streams_.end() || !bytes) return;
      auto& s = *it->second;
      s.send_credit += *bytes;
      if (s.ch) session_->input_consumed(*s.ch, *bytes);
      pump_to_helper(f.id, s);
      return;
    }
    default:
      // Requests only the server sends: the helper has no business sending them.
      decode_error_ = cssh::fail("FORWARD_PROTOCOL", std::string("the helper sent ") + forward::name_of(f.type));
      return;
  }
}

void forward_hub::on_ok(const forward::frame& f) {
  if (auto file = file_for_listener_.find(f.id); file != file_for_listener_.end()) {
    // The X11 authority file is written: the display is ready.
    auto l = listeners_.find(file->second);
    file_for_listener_.erase(file);
    if (l == listeners_.end()) return;
    l->second->ready = true;
    if (l->second->display_answer) l->second->display_answer->set_value(static_cast<unsigned>(l->second->port));
    l->second->display_answer.reset();
    return;
  }
  if (auto l = listeners_.find(f.id); l != listeners_.end()) {
    auto& listener = *l->second;
    auto bound = forward::read_ok(f.payload);
    if (!bound) {
      decode_error_ = bound.error();
      return;
    }
    listener.port = bound->port;
    if (listener.kind == forward_kind::x11) {
      // The display is N = port - 6000; its cookie goes into the authority file first.
      listener.port = static_cast<std::uint16_t>(bound->port - 6000);
      const auto request = new_id();
      file_for_listener_[request] = f.id;
      std::string number = std::to_string(listener.port);
      std::string entry;
      auto put16 = [&entry](std::size_t v) {
        entry.push_back(static_cast<char>((v >> 8) & 0xff));
        entry.push_back(static_cast<char>(v & 0xff));
      };
      // One Xauthority entry: FamilyWild (any address), display number, MIT-MAGIC-COOKIE-1.
      static const std::string protocol = "MIT-MAGIC-COOKIE-1";
      put16(0xffff);
      put16(0);
      put16(number.size());
      entry += number;
      put16(protocol.size());
      entry += protocol;
      put16(listener.cookie.size());
      entry += listener.cookie;
      forward::append_write_file(out_, request, listener.authority_path, 0600, entry);
      return;
    }
    listener.ready = true;
    if (listener.tcp_answer) listener.tcp_answer->set_value(bound->port);
    if (listener.path_answer) listener.path_answer->set_value(std::string(bound->where));
    listener.tcp_answer.reset();
    listener.path_answer.reset();
    return;
  }
  // OK of a dial: the stream is connected; nothing to do (its bytes already flow).
}

void forward_hub::on_fail(const forward::frame& f) {
  const std::string reason(f.payload.substr(0, 512));
  if (auto file = file_for_listener_.find(f.id); file != file_for_listener_.end()) {
    auto l = listeners_.find(file->second);
    file_for_listener_.erase(file);
    if (l == listeners_.end()) return;
    metrics::forwarding().failures.with({"x11", "listen_failed"}).inc();
    l->second->answer(cssh::fail("FORWARD_LISTEN_FAILED", "writing the X11 authority file failed: " + reason));
    forward::append_frame(out_, forward::frame_type::unlisten, l->first);
    listeners_.erase(l);
    return;
  }
  if (auto l = listeners_.find(f.id); l != listeners_.end()) {
    metrics::forwarding().failures.with({kind_label(l->second->kind), "listen_failed"}).inc();
    l->second->answer(cssh::fail("FORWARD_LISTEN_FAILED", reason));
    listeners_.erase(l);
    return;
  }
  auto it = streams_.find(f.id);
  if (it == streams_.end()) return;
  auto& s = *it->second;
  metrics::forwarding().failures.with({kind_label(s.kind), "dial_failed"}).inc();
  log::info("FORWARD_DIAL_FAILED", "a forwarded connection could not be made in the container: " + reason,
            {{"connectionId", connection_id_}});
  if (s.ch) session_->close_channel(*s.ch);
  drop_stream(f.id);
}

void forward_hub::on_accepted(const forward::frame& f, deferred& later) {
  auto accepted = forward::read_accepted(f.payload);
  if (!accepted) {
    decode_error_ = accepted.error();
    return;
  }
  auto l = listeners_.find(accepted->listener);
  if (l == listeners_.end() || f.id < forward::helper_id_base || streams_.count(f.id)) {
    forward::append_frame(out_, forward::frame_type::close, f.id);  // a listen we no longer have
    return;
  }
  auto& listener = *l->second;
  if (streams_.size() >= flow::forward_streams_limit) {
    forward::append_frame(out_, forward::frame_type::close, f.id);
    metrics::forwarding().refusals.with({kind_label(listener.kind), "limit"}).inc();
    log::notice("FORWARD_LIMIT", "a connection accepted in the container was closed: this SSH connection has " +
                                     std::to_string(flow::forward_streams_limit) + " forwarded connections open",
                {{"connectionId", connection_id_}});
    return;
  }
  ssh::channel_open_request request;
  switch (listener.kind) {
    case forward_kind::remote:
      request.what = ssh::channel_open_request::kind::forwarded_tcpip;
      request.address = listener.client_address;
      request.port = listener.port;
      break;
    case forward_kind::agent:
      request.what = ssh::channel_open_request::kind::agent;
      break;
    case forward_kind::x11:
      request.what = ssh::channel_open_request::kind::x11;
      break;
    case forward_kind::local:
      break;
  }
  request.originator = std::string(accepted->address);
  request.originator_port = accepted->port;
  add_stream(f.id, listener.kind);
  if (listener.kind == forward_kind::x11 && listener.single_connection) {
    forward::append_frame(out_, forward::frame_type::unlisten, l->first);
    listeners_.erase(l);
  }
  // Opening may answer at once (the connection is gone), and that answer takes our lock.
  std::weak_ptr<forward_hub> weak = weak_from_this();
  const auto id = f.id;
  later.push_back([this, weak, id, request = std::move(request)]() mutable {
    session_->open_channel(std::move(request), [weak, id](std::optional<ssh::channel_id> ch) {
      if (auto hub = weak.lock()) hub->on_channel_open(id, ch);
    });
  });
}

void forward_hub::on_channel_open(std::uint32_t id, std::optional<ssh::channel_id> ch) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = streams_.find(id);
  if (it == streams_.end()) {
    if (ch) {
      lock.unlock();
      session_->close_channel(*ch);
    }
    return;
  }
  auto& s = *it->second;
  if (!ch || closed_) {
    if (!ch) {
      metrics::forwarding().failures.with({kind_label(s.kind), "channel_refused"}).inc();
      log::debug("FORWARD_CHANNEL_REFUSED", "the client refused the channel of a connection accepted in the container",
                 {{"connectionId", connection_id_}, {"kind", kind_label(s.kind)}});
    }
    if (!s.close_sent && !s.helper_closed) send_frame(forward::frame_type::close, id);
    drop_stream(id);
    lock.unlock();
    if (ch) session_->close_channel(*ch);
    flush_out();
    return;
  }
  s.ch = *ch;
  by_channel_[*ch] = id;
  std::weak_ptr<forward_hub> weak = weak_from_this();
  session_->set_output_credit_sink(*ch, [weak, id](std::size_t n) {
    if (auto hub = weak.lock()) hub->credit_helper(id, n);
  });
  if (!s.early.empty()) session_->write(*ch, ssh::output_stream::stdout_stream, std::move(s.early));
  s.early.clear();
  if (s.helper_eof) session_->send_eof(*ch);
  if (s.helper_closed) {
    session_->close_channel(*ch);
    drop_stream(id);
  }
  pump_to_helper(id, s);
  lock.unlock();
  flush_out();
}

void forward_hub::fail(const failure& why) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_locked(why);
}

void forward_hub::fail_locked(const failure& why) {
  if (failed_ || closed_) return;
  failed_ = why;
  log::warning(why.code, why.message, {{"connectionId", connection_id_}, {"execId", exec_id_}});
  auto& m = metrics::forwarding();
  for (auto& [id, l] : listeners_) {
    m.failures.with({kind_label(l->kind), "helper_failed"}).inc();
    l->answer(why);
  }
  listeners_.clear();
  for (auto& [id, s] : streams_) {
    m.failures.with({kind_label(s->kind), "helper_failed"}).inc();
    m.open.with({kind_label(s->kind)}).dec();
    if (s->ch) session_->close_channel(*s->ch);
  }
  streams_.clear();
  by_channel_.clear();
  out_.clear();
  if (stream_) stream_->close();
}

void forward_hub::close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  for (auto& [id, l] : listeners_) l->answer(cssh::fail("FORWARD_HELPER_FAILED", "the connection is closing"));
  listeners_.clear();
  for (auto& [id, s] : streams_) metrics::forwarding().open.with({kind_label(s->kind)}).dec();
  streams_.clear();
  by_channel_.clear();
  out_.clear();
  // The helper sees its stdin end and exits, removing what it made; the container's removal
  // would end it anyway.
  if (stream_) stream_->close();
}

}  // namespace cssh::actors
