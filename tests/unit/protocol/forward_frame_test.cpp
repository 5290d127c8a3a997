// The framing between the server and the guest helper's `forward` mode (docs/forwarding.md):
// what the encoder writes, byte for byte, and what the incremental decoder accepts or refuses.

#include <doctest/doctest.h>

#include <vector>

#include "protocol/forward/frame.hpp"

using namespace cssh;
using namespace cssh::forward;

namespace {

struct seen {
  frame_type type;
  std::uint32_t id;
  std::string payload;
};

std::vector<seen> decode_all(const std::string& bytes, std::size_t chunk, result<void>* outcome = nullptr) {
  std::vector<seen> out;
  decoder d([&out](const frame& f) { out.push_back({f.type, f.id, std::string(f.payload)}); });
  result<void> last;
  for (std::size_t at = 0; at < bytes.size() && last; at += chunk) last = d.feed(std::string_view(bytes).substr(at, chunk));
  if (outcome) *outcome = last;
  return out;
}

}  // namespace

TEST_CASE("forward frames: the encoder writes length, type, id and payload big-endian") {
  std::string out;
  append_dial_tcp(out, 0x01020304, "db", 5432);
  const std::string expected("\x00\x00\x00\x09\x10\x01\x02\x03\x04\x15\x38" "db", 13);
  CHECK(out == expected);
  out.clear();
  append_credit(out, 7, 262144);
  CHECK(out == std::string("\x00\x00\x00\x09\x33\x00\x00\x00\x07\x00\x04\x00\x00", 13));
  out.clear();
  append_listen_tcp(out, 2, "127.0.0.1", 6010, 990);
  CHECK(out.substr(9, 4) == std::string("\x17\x7a\x03\xde", 4));
  CHECK(out.substr(13) == "127.0.0.1");
  out.clear();
  append_listen_unix(out, 3, "/tmp/x/agent.sock", listen_private_directory);
  CHECK(out[9] == '\x01');
  CHECK(out.substr(10) == "/tmp/x/agent.sock");
}

TEST_CASE("forward frames: DATA is split at 65536 bytes; whole frames come out of any chunking") {
  std::string out;
  std::string big(200000, 'x');
  big[70000] = 'y';
  append_data(out, 9, big);
  append_frame(out, frame_type::eof, 9);
  append_frame(out, frame_type::close, 9);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{65545}, out.size()}) {
    auto frames = decode_all(out, chunk);
    REQUIRE(frames.size() == 6);  // 65536 + 65536 + 65536 + 3392, EOF, CLOSE
    std::string joined;
    for (int i = 0; i < 4; ++i) {
      CHECK(frames[static_cast<std::size_t>(i)].type == frame_type::data);
      CHECK(frames[static_cast<std::size_t>(i)].payload.size() <= max_payload);
      joined += frames[static_cast<std::size_t>(i)].payload;
    }
    CHECK(joined == big);
    CHECK(frames[4].type == frame_type::eof);
    CHECK(frames[5].type == frame_type::close);
    CHECK(frames[5].id == 9);
  }
}

TEST_CASE("forward frames: a bad length or an unknown type fails the decoder for good") {
  result<void> outcome;
  auto frames = decode_all(std::string("\x00\x00\x00\x04\x30\x00\x00\x00\x01", 9), 9, &outcome);
  CHECK_FALSE(outcome.ok());
  CHECK(outcome.error().code == "FORWARD_PROTOCOL");
  CHECK(frames.empty());
  decode_all(std::string("\x00\x01\x00\x06\x30\x00\x00\x00\x01", 9), 9, &outcome);  // 65542 > 65541
  CHECK_FALSE(outcome.ok());
  std::string unknown("\x00\x00\x00\x05\x7f\x00\x00\x00\x01", 9);
  decode_all(unknown, 3, &outcome);
  CHECK_FALSE(outcome.ok());
  CHECK(outcome.error().message.find("unknown frame type 127") != std::string::npos);
  // The largest payload is fine.
  std::string max;
  append_frame(max, frame_type::data, 1, std::string(max_payload, 'z'));
  CHECK(decode_all(max, 4096, &outcome).size() == 1);
  CHECK(outcome.ok());
}

TEST_CASE("forward frames: payload readers check their sizes") {
  CHECK(read_credit(std::string("\x00\x00\x01\x00", 4)).value() == 256);
  CHECK_FALSE(read_credit("abc").ok());
  const std::string ok_payload("\x1f\x90" "127.0.0.1", 11);  // the results view into it
  auto ok = read_ok(ok_payload);
  REQUIRE(ok.ok());
  CHECK(ok->port == 8080);
  CHECK(ok->where == "127.0.0.1");
  CHECK_FALSE(read_ok("x").ok());
  const std::string accepted_payload("\x00\x00\x00\x05\x30\x39" "10.0.0.1", 14);
  auto acc = read_accepted(accepted_payload);
  REQUIRE(acc.ok());
  CHECK(acc->listener == 5);
  CHECK(acc->port == 12345);
  CHECK(acc->address == "10.0.0.1");
  CHECK_FALSE(read_accepted("short").ok());
}
