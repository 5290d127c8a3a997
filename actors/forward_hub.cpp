#include "actors/forward_hub.hpp"

#include "actors/forward_hub_state.hpp"
#include "common/forward_metrics.hpp"
#include "common/log.hpp"

namespace cssh::actors {

using namespace forward_detail;

const char* kind_label(forward_kind kind) {
  switch (kind) {
    case forward_kind::local: return "local";
    case forward_kind::remote: return "remote";
    case forward_kind::agent: return "agent";
    case forward_kind::x11: return "x11";
  }
  return "local";
}


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
}  // namespace cssh::actors
