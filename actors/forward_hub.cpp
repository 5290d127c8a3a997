#include "actors/forward_hub.hpp"

#include "common/flow_limits.hpp"
#include "common/forward_metrics.hpp"
#include "common/log.hpp"

namespace cssh::actors {

const char* kind_label(forward_kind kind) {
  switch (kind) {
    case forward_kind::local: return "local";
    case forward_kind::remote: return "remote";
    case forward_kind::agent: return "agent";
    case forward_kind::x11: return "x11";
  }
  return "local";
}

namespace {
constexpr std::size_t read_chunk = flow::output_read_chunk;
/// The first X11 display tried, as sshd's X11DisplayOffset, and how many after it.
constexpr std::uint16_t x11_first_display = 10;
constexpr std::uint16_t x11_displays = 990;
/// Credit goes back to the helper in pieces of at least this (a quarter of its window).
constexpr std::size_t credit_batch = forward::stream_window / 4;
}  // namespace

/// One forwarded connection: a helper stream and (once open) its SSH channel.
struct forward_hub::stream_state {
  forward_kind kind = forward_kind::local;
  std::optional<ssh::channel_id> ch;              // none until the client's channel is open
  std::size_t send_credit = forward::stream_window;  // bytes we may still send the helper
  std::string to_helper;                          // the client's bytes waiting for that credit
  std::size_t to_helper_sent = 0;                 // ... of which this many went already
  bool client_eof = false;                        // the client's EOF, sent after to_helper
  bool eof_sent = false;
  std::size_t receive_used = 0;  // the helper's bytes we have not credited yet (its window)
  std::size_t drained = 0;       // ... of which the client took this many (credited in batches)
  std::string early;          // the helper's bytes before the channel opened (accepted streams)
  bool helper_eof = false;    // ... and its EOF
  bool helper_closed = false;
  bool close_sent = false;
  metrics::counter* bytes_in = nullptr;
  metrics::counter* bytes_out = nullptr;
};

/// A listen in the container (-R, the agent, X11) and who waits for its answer.
struct forward_hub::listener_state {
  forward_kind kind = forward_kind::remote;
  std::string client_address;  // -R: as the client asked (named in forwarded-tcpip opens)
  std::uint16_t port = 0;      // -R: the port bound, once known
  bool ready = false;
  bool single_connection = false;  // X11
  std::optional<std::promise<result<std::uint16_t>>> tcp_answer;
  std::optional<std::promise<result<std::string>>> path_answer;
  std::optional<std::promise<result<unsigned>>> display_answer;
  std::string authority_path, cookie;  // X11: written once the display number is known

  void answer(const failure& why) {
    if (tcp_answer) tcp_answer->set_value(why);
    if (path_answer) path_answer->set_value(why);
    if (display_answer) display_answer->set_value(why);
    tcp_answer.reset();
    path_answer.reset();
    display_answer.reset();
  }
};

forward_hub::forward_hub(std::shared_ptr<ssh::session_commands> session, std::string connection_id)
    : session_(std::move(session)),
      connection_id_(std::move(connection_id)),
      demux_([this](docker_frame::stream_kind kind, std::string_view payload) {
        if (kind == docker_frame::stream_kind::stderr_stream) {
          log::warning("FORWARD_HELPER_SAYS", std::string(payload.substr(0, 512)),
                       {{"connectionId", connection_id_}, {"execId", exec_id_}});
          return;
        }
        if (decode_error_) return;
        if (auto fed = decoder_.feed(payload); !fed) decode_error_ = fed.error();
      }),
      decoder_([this](const forward::frame& f) { on_frame(f, *pending_later_); }) {}

forward_hub::~forward_hub() = default;

// --- requests (session thread) -----------------------------------------------------------

forward_hub::stream_state& forward_hub::add_stream(std::uint32_t id, forward_kind kind) {
  auto s = std::make_unique<stream_state>();
  s->kind = kind;
  auto& m = metrics::forwarding();
  s->bytes_in = &m.bytes.with({kind_label(kind), "in"});
  s->bytes_out = &m.bytes.with({kind_label(kind), "out"});
  m.open.with({kind_label(kind)}).inc();
  m.total.with({kind_label(kind)}).inc();
  auto& ref = *s;
  streams_[id] = std::move(s);
  return ref;
}

void forward_hub::drop_stream(std::uint32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  metrics::forwarding().open.with({kind_label(it->second->kind)}).dec();
  if (it->second->ch) by_channel_.erase(*it->second->ch);
  streams_.erase(it);
}

void forward_hub::dial(ssh::channel_id ch, std::string host, std::uint16_t port) {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_ || failed_) {
    lock.unlock();
    session_->close_channel(ch);
    return;
  }
  const auto id = new_id();
  auto& s = add_stream(id, forward_kind::local);
  s.ch = ch;
  by_channel_[ch] = id;
  std::string frame;
  forward::append_dial_tcp(frame, id, host, port);
  out_ += frame;
  std::weak_ptr<forward_hub> weak = weak_from_this();
  session_->set_output_credit_sink(ch, [weak, id](std::size_t n) {
    if (auto hub = weak.lock()) hub->credit_helper(id, n);
  });
  lock.unlock();
  flush_out();
}

std::optional<failure> forward_hub::unusable() const {
  if (failed_) return failed_;
  if (closed_) return cssh::fail("FORWARD_HELPER_FAILED", "the connection is closing");
  return std::nullopt;
}

std::pair<std::uint32_t, forward_hub::listener_state&> forward_hub::add_listener(forward_kind kind) {
  const auto id = new_id();
  auto l = std::make_unique<listener_state>();
  l->kind = kind;
  auto& ref = *l;
  listeners_[id] = std::move(l);
  return {id, ref};
}

std::future<result<std::uint16_t>> forward_hub::listen_tcp(std::string client_address, std::string bind_address,
                                                           std::uint16_t port) {
  std::promise<result<std::uint16_t>> answer;
  auto future = answer.get_future();
  std::unique_lock<std::mutex> lock(mu_);
  if (auto why = unusable()) {
    answer.set_value(*why);
    return future;
  }
  auto [id, l] = add_listener(forward_kind::remote);
  l.client_address = std::move(client_address);
  l.port = port;
  l.tcp_answer = std::move(answer);
  forward::append_listen_tcp(out_, id, bind_address, port, 1);
  lock.unlock();
  flush_out();
  return future;
}

bool forward_hub::unlisten_tcp(const std::string& client_address, std::uint16_t port) {
  std::unique_lock<std::mutex> lock(mu_);
  for (auto it = listeners_.begin(); it != listeners_.end(); ++it) {
    auto& l = *it->second;
    if (l.kind != forward_kind::remote || !l.ready || l.port != port || l.client_address != client_address) continue;
    std::string frame;
    forward::append_frame(frame, forward::frame_type::unlisten, it->first);
    out_ += frame;
    listeners_.erase(it);
    lock.unlock();
    flush_out();
    return true;
  }
  return false;
}

std::future<result<std::string>> forward_hub::listen_agent(std::string path) {
  std::promise<result<std::string>> answer;
  auto future = answer.get_future();
  std::unique_lock<std::mutex> lock(mu_);
  if (auto why = unusable()) {
    answer.set_value(*why);
    return future;
  }
  auto [id, l] = add_listener(forward_kind::agent);
  l.path_answer = std::move(answer);
  forward::append_listen_unix(out_, id, path, forward::listen_private_directory);
  lock.unlock();
  flush_out();
  return future;
}

forward_hub::x11_display forward_hub::listen_x11(std::string authority_path, std::string cookie,
                                                bool single_connection) {
  std::promise<result<unsigned>> answer;
  x11_display out{0, answer.get_future()};
  std::unique_lock<std::mutex> lock(mu_);
  if (auto why = unusable()) {
    answer.set_value(*why);
    return out;
  }
  auto [id, l] = add_listener(forward_kind::x11);
  out.listener = id;
  x11_files_[id] = authority_path;
  l.single_connection = single_connection;
  l.display_answer = std::move(answer);
  l.authority_path = std::move(authority_path);
  l.cookie = std::move(cookie);
  forward::append_listen_tcp(out_, id, "127.0.0.1", 6000 + x11_first_display, x11_displays);
  lock.unlock();
  flush_out();
  return out;
}

void forward_hub::end_x11(std::uint32_t listener) {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_ || failed_) return;
  if (auto l = listeners_.find(listener); l != listeners_.end()) {
    l->second->answer(cssh::fail("FORWARD_LISTEN_FAILED", "the session ended"));
    listeners_.erase(l);
    forward::append_frame(out_, forward::frame_type::unlisten, listener);
  }
  if (auto file = x11_files_.find(listener); file != x11_files_.end()) {
    forward::append_frame(out_, forward::frame_type::remove_file, new_id(), file->second);
    x11_files_.erase(file);
  }
  lock.unlock();
  flush_out();
}

bool forward_hub::has_room() const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.size() < flow::forward_streams_limit;
}

bool forward_hub::owns(ssh::channel_id ch) const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_channel_.count(ch) > 0;
}

void forward_hub::client_data(ssh::channel_id ch, std::string bytes) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = by_channel_.find(ch);
  if (it == by_channel_.end() || closed_) {
    lock.unlock();
    session_->input_consumed(ch, bytes.size());  // nowhere to go: keep the window open
    return;
  }
  auto& s = *streams_.at(it->second);
  s.bytes_in->inc(bytes.size());
  if (s.to_helper.empty())
    s.to_helper = std::move(bytes);
  else
    s.to_helper += bytes;
  pump_to_helper(it->second, s);
  lock.unlock();
  flush_out();
}

void forward_hub::client_eof(ssh::channel_id ch) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = by_channel_.find(ch);
  if (it == by_channel_.end()) return;
  auto& s = *streams_.at(it->second);
  s.client_eof = true;
  pump_to_helper(it->second, s);
  lock.unlock();
  flush_out();
}

void forward_hub::channel_closed(ssh::channel_id ch) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = by_channel_.find(ch);
  if (it == by_channel_.end()) return;
  const auto id = it->second;
  auto& s = *streams_.at(id);
  if (!s.close_sent && !s.helper_closed) send_frame(forward::frame_type::close, id);
  drop_stream(id);
  lock.unlock();
  flush_out();
}

void forward_hub::pump_to_helper(std::uint32_t id, stream_state& s) {
  const std::size_t waiting = s.to_helper.size() - s.to_helper_sent;
  if (s.send_credit > 0 && waiting > 0 && !s.close_sent && !s.helper_closed) {
    const std::size_t n = std::min(s.send_credit, waiting);
    forward::append_data(out_, id, std::string_view(s.to_helper).substr(s.to_helper_sent, n));
    s.send_credit -= n;
    s.to_helper_sent += n;
    // Sent bytes are dropped without moving the rest each time (that memmove showed in the
    // upload profile): all at once when everything went, else once they are half the buffer.
    if (s.to_helper_sent == s.to_helper.size()) {
      s.to_helper.clear();
      s.to_helper_sent = 0;
    } else if (s.to_helper_sent > s.to_helper.size() / 2) {
      s.to_helper.erase(0, s.to_helper_sent);
      s.to_helper_sent = 0;
    }
  }
  if (s.client_eof && !s.eof_sent && s.to_helper.size() == s.to_helper_sent && !s.close_sent && !s.helper_closed) {
    s.eof_sent = true;
    send_frame(forward::frame_type::eof, id);
  }
}

void forward_hub::credit_helper(std::uint32_t id, std::size_t bytes) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = streams_.find(id);
  if (it == streams_.end() || closed_ || bytes == 0) return;
  auto& s = *it->second;
  s.bytes_out->inc(bytes);
  // One CREDIT per client window adjust would be a write to the helper (and a wake-up there) per
  // 32 KB slice: credit in batches, and whatever is left once the client took everything we got
  // (so the helper never waits on a remainder).
  s.drained += bytes;
  if (s.drained < credit_batch && s.drained < s.receive_used) return;
  const std::size_t credit = std::min(s.drained, s.receive_used);
  s.receive_used -= credit;
  s.drained -= credit;
  if (credit == 0) return;
  forward::append_credit(out_, id, static_cast<std::uint32_t>(credit));
  lock.unlock();
  flush_out();
}

void forward_hub::send_frame(forward::frame_type type, std::uint32_t id, std::string_view payload) {
  forward::append_frame(out_, type, id, payload);
  if (type == forward::frame_type::close) {
    if (auto it = streams_.find(id); it != streams_.end()) it->second->close_sent = true;
  }
}

// --- the helper's stream -----------------------------------------------------------------

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
