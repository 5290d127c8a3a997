#include "protocol/forward/frame.hpp"

namespace cssh::forward {
namespace {

void put_u16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::uint16_t get_u16(std::string_view s) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(s[0]) << 8) | static_cast<unsigned char>(s[1]));
}

std::uint32_t get_u32(std::string_view s) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[static_cast<std::size_t>(i)]);
  return v;
}

/// header: length (4) + type (1) + id (4)
constexpr std::size_t header_size = 9;

failure bad(std::string message) { return fail("FORWARD_PROTOCOL", std::move(message)); }

}  // namespace

const char* name_of(frame_type type) {
  switch (type) {
    case frame_type::hello: return "HELLO";
    case frame_type::dial_tcp: return "DIAL_TCP";
    case frame_type::dial_unix: return "DIAL_UNIX";
    case frame_type::ok: return "OK";
    case frame_type::fail: return "FAIL";
    case frame_type::listen_tcp: return "LISTEN_TCP";
    case frame_type::listen_unix: return "LISTEN_UNIX";
    case frame_type::unlisten: return "UNLISTEN";
    case frame_type::accepted: return "ACCEPTED";
    case frame_type::write_file: return "WRITE_FILE";
    case frame_type::remove_file: return "REMOVE_FILE";
    case frame_type::data: return "DATA";
    case frame_type::eof: return "EOF";
    case frame_type::close: return "CLOSE";
    case frame_type::credit: return "CREDIT";
  }
  return "unknown";
}

bool is_known(std::uint8_t type) {
  return std::string_view(name_of(static_cast<frame_type>(type))) != "unknown";
}

void append_frame(std::string& out, frame_type type, std::uint32_t id, std::string_view payload) {
  put_u32(out, static_cast<std::uint32_t>(5 + payload.size()));
  out.push_back(static_cast<char>(type));
  put_u32(out, id);
  out.append(payload);
}

void append_dial_tcp(std::string& out, std::uint32_t id, std::string_view host, std::uint16_t port) {
  std::string payload;
  put_u16(payload, port);
  payload.append(host.substr(0, max_payload - 2));
  append_frame(out, frame_type::dial_tcp, id, payload);
}

void append_dial_unix(std::string& out, std::uint32_t id, std::string_view path) {
  append_frame(out, frame_type::dial_unix, id, path.substr(0, max_payload));
}

void append_listen_tcp(std::string& out, std::uint32_t id, std::string_view address, std::uint16_t port,
                       std::uint16_t count) {
  std::string payload;
  put_u16(payload, port);
  put_u16(payload, count);
  payload.append(address.substr(0, max_payload - 4));
  append_frame(out, frame_type::listen_tcp, id, payload);
}

void append_listen_unix(std::string& out, std::uint32_t id, std::string_view path, std::uint8_t flags) {
  std::string payload(1, static_cast<char>(flags));
  payload.append(path.substr(0, max_payload - 1));
  append_frame(out, frame_type::listen_unix, id, payload);
}

void append_write_file(std::string& out, std::uint32_t id, std::string_view path, std::uint16_t mode,
                       std::string_view content) {
  std::string payload;
  put_u16(payload, mode);
  put_u16(payload, static_cast<std::uint16_t>(path.size()));
  payload.append(path);
  payload.append(content);
  append_frame(out, frame_type::write_file, id, std::string_view(payload).substr(0, max_payload));
}

void append_credit(std::string& out, std::uint32_t id, std::uint32_t bytes) {
  std::string payload;
  put_u32(payload, bytes);
  append_frame(out, frame_type::credit, id, payload);
}

void append_data(std::string& out, std::uint32_t id, std::string_view bytes) {
  while (!bytes.empty()) {
    auto piece = bytes.substr(0, max_payload);
    append_frame(out, frame_type::data, id, piece);
    bytes.remove_prefix(piece.size());
  }
}

result<ok_payload> read_ok(std::string_view payload) {
  if (payload.size() < 2) return bad("OK of a listen carries no port");
  return ok_payload{get_u16(payload), payload.substr(2)};
}

result<accepted_payload> read_accepted(std::string_view payload) {
  if (payload.size() < 6) return bad("ACCEPTED is shorter than its listener id and port");
  return accepted_payload{get_u32(payload), get_u16(payload.substr(4)), payload.substr(6)};
}

result<std::uint32_t> read_credit(std::string_view payload) {
  if (payload.size() != 4) return bad("CREDIT carries " + std::to_string(payload.size()) + " bytes, not 4");
  return get_u32(payload);
}

result<std::size_t> decoder::consume(std::string_view bytes) {
  std::size_t used = 0;
  while (bytes.size() - used >= header_size) {
    auto at = bytes.substr(used);
    const std::uint32_t length = get_u32(at);
    if (length < 5 || length > 5 + max_payload)
      return bad("frame length " + std::to_string(length) + " is outside 5.." + std::to_string(5 + max_payload));
    const auto type = static_cast<std::uint8_t>(at[4]);
    if (!is_known(type)) return bad("unknown frame type " + std::to_string(type));
    if (at.size() < 4 + std::size_t{length}) break;
    out_(frame{static_cast<frame_type>(type), get_u32(at.substr(5)), at.substr(header_size, length - 5)});
    used += 4 + length;
  }
  return used;
}

result<void> decoder::feed(std::string_view chunk) {
  if (broken_) return bad("the stream already failed");
  if (partial_.empty()) {
    // The common case: whole frames straight from the chunk, only a tail is copied.
    auto used = consume(chunk);
    if (!used) return broken_ = true, used.error();
    partial_.assign(chunk.substr(*used));
    return {};
  }
  partial_.append(chunk);
  auto used = consume(partial_);
  if (!used) return broken_ = true, used.error();
  partial_.erase(0, *used);
  return {};
}

}  // namespace cssh::forward
