// forward_hub: one connection's forwarded connections over the helper's stream, driven through a
// scripted stream (the helper's side, frames written by hand) and a recording session. The e2e
// suite (tests/e2e/forwarding_test.py) drives it with the real helper, dockerd and clients.

#include <doctest/doctest.h>

#include <chrono>
#include <map>

#include "actors/docker_frame.hpp"
#include "actors/forward_hub.hpp"
#include "common/flow_limits.hpp"
#include "unit/actors/scripted_stream.hpp"

using namespace cssh;
using namespace cssh::actors;
using cssh::test::scripted_stream;
using forward::frame_type;

namespace {

/// What the hub told the SSH session, per channel.
class recording_session final : public ssh::session_commands {
 public:
  void write(ssh::channel_id ch, ssh::output_stream, std::string bytes) override { written[ch] += bytes; }
  void send_exit_status(ssh::channel_id, int) override {}
  void send_exit_signal(ssh::channel_id, const std::string&, bool, const std::string&) override {}
  void input_consumed(ssh::channel_id ch, std::size_t bytes) override { consumed[ch] += bytes; }
  void set_output_credit_sink(ssh::channel_id ch, std::function<void(std::size_t)> s) override {
    sinks[ch] = std::move(s);
  }
  void send_eof(ssh::channel_id ch) override { eofs[ch]++; }
  void close_channel(ssh::channel_id ch) override { closes[ch]++; }
  void open_channel(ssh::channel_open_request request,
                    std::function<void(std::optional<ssh::channel_id>)> opened) override {
    opens.emplace_back(std::move(request), std::move(opened));
  }
  void disconnect(const std::string&) override {}

  std::map<ssh::channel_id, std::string> written;
  std::map<ssh::channel_id, std::size_t> consumed;
  std::map<ssh::channel_id, std::function<void(std::size_t)>> sinks;
  std::map<ssh::channel_id, int> eofs, closes;
  std::vector<std::pair<ssh::channel_open_request, std::function<void(std::optional<ssh::channel_id>)>>> opens;
};

struct decoded {
  frame_type type;
  std::uint32_t id;
  std::string payload;
};

/// Everything the hub wrote to the helper so far (each write completed), as frames.
std::vector<decoded> frames_from(scripted_stream& stream) {
  std::string all;
  while (!stream.pending_writes.empty()) stream.finish_write(true);
  for (auto& w : stream.written) all += w;
  std::vector<decoded> out;
  forward::decoder d([&out](const forward::frame& f) { out.push_back({f.type, f.id, std::string(f.payload)}); });
  REQUIRE(d.feed(all).ok());
  return out;
}

/// The helper's frames as the Engine delivers them: inside a stdout frame.
std::string from_helper(frame_type type, std::uint32_t id, std::string_view payload = {}) {
  std::string f;
  forward::append_frame(f, type, id, payload);
  return docker_frame::encode(docker_frame::stream_kind::stdout_stream, f);
}

std::string u16(unsigned v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; }
std::string u32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 8) & 0xff),
          static_cast<char>(v & 0xff)};
}

struct fixture {
  std::shared_ptr<recording_session> session = std::make_shared<recording_session>();
  std::shared_ptr<scripted_stream> stream = std::make_shared<scripted_stream>();
  std::shared_ptr<forward_hub> hub = std::make_shared<forward_hub>(session, "conn-1");
  ~fixture() { stream->end_pending_read(); }
};

}  // namespace

TEST_CASE("forward hub: a dial waits for the helper, then data flows within the window both ways") {
  fixture f;
  f.hub->dial(3, "127.0.0.1", 8080);
  f.hub->client_data(3, std::string(300000, 'a'));  // more than the window
  CHECK(f.stream->written.empty());                  // no helper yet: queued
  f.hub->attach(f.stream, "exec-1");
  auto frames = frames_from(*f.stream);
  REQUIRE(frames.size() >= 2);
  CHECK(frames[0].type == frame_type::dial_tcp);
  CHECK(frames[0].payload == u16(8080) + "127.0.0.1");
  const auto id = frames[0].id;
  std::size_t sent = 0;
  for (auto& fr : frames)
    if (fr.type == frame_type::data && fr.id == id) sent += fr.payload.size();
  CHECK(sent == forward::stream_window);  // the rest waits for credit
  CHECK(f.session->consumed[3] == 0);
  f.stream->written.clear();

  // The helper wrote 100000 to the socket: that much is credited to the client, and more goes.
  f.stream->answer(from_helper(frame_type::ok, id) + from_helper(frame_type::credit, id, u32(100000)));
  CHECK(f.session->consumed[3] == 100000);
  frames = frames_from(*f.stream);
  sent = 0;
  for (auto& fr : frames)
    if (fr.type == frame_type::data) sent += fr.payload.size();
  CHECK(sent == 300000 - forward::stream_window);
  f.stream->written.clear();

  // The helper's bytes go to the channel; what the client's window took is credited back.
  f.stream->answer(from_helper(frame_type::data, id, "response"));
  CHECK(f.session->written[3] == "response");
  REQUIRE(f.session->sinks.count(3));
  f.session->sinks[3](8);
  frames = frames_from(*f.stream);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == frame_type::credit);
  CHECK(frames[0].payload == u32(8));
  f.stream->written.clear();

  // Half-close both ways, then close.
  f.hub->client_eof(3);
  frames = frames_from(*f.stream);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == frame_type::eof);
  f.stream->written.clear();
  f.stream->answer(from_helper(frame_type::eof, id));
  CHECK(f.session->eofs[3] == 1);
  CHECK(f.session->closes[3] == 0);
  f.stream->answer(from_helper(frame_type::close, id));
  CHECK(f.session->closes[3] == 1);
  frames = frames_from(*f.stream);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == frame_type::close);  // answered
  CHECK_FALSE(f.hub->owns(3));
}

TEST_CASE("forward hub: a failed dial closes only its channel") {
  fixture f;
  f.hub->attach(f.stream, "exec-1");
  f.hub->dial(1, "127.0.0.1", 1);
  f.hub->dial(2, "127.0.0.1", 2);
  auto frames = frames_from(*f.stream);
  REQUIRE(frames.size() == 2);
  f.stream->answer(from_helper(frame_type::fail, frames[0].id, "connect 127.0.0.1:1: Connection refused") +
                   from_helper(frame_type::ok, frames[1].id));
  CHECK(f.session->closes[1] == 1);
  CHECK(f.session->closes[2] == 0);
  CHECK_FALSE(f.hub->owns(1));
  CHECK(f.hub->owns(2));
}

TEST_CASE("forward hub: a listen answers its port; accepted connections open channels") {
  fixture f;
  f.hub->attach(f.stream, "exec-1");
  auto bound = f.hub->listen_tcp("localhost", "127.0.0.1", 0);
  auto frames = frames_from(*f.stream);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == frame_type::listen_tcp);
  const auto listener = frames[0].id;
  f.stream->written.clear();
  f.stream->answer(from_helper(frame_type::ok, listener, u16(40123) + "127.0.0.1"));
  REQUIRE(bound.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  auto port = bound.get();
  REQUIRE(port.ok());
  CHECK(port.value() == 40123);

  // A connection arrives with data before the client confirmed the channel: it waits.
  const std::uint32_t accepted = forward::helper_id_base + 1;
  f.stream->answer(from_helper(frame_type::accepted, accepted, u32(listener) + u16(5555) + "127.0.0.1") +
                   from_helper(frame_type::data, accepted, "early"));
  REQUIRE(f.session->opens.size() == 1);
  CHECK(f.session->opens[0].first.what == ssh::channel_open_request::kind::forwarded_tcpip);
  CHECK(f.session->opens[0].first.address == "localhost");
  CHECK(f.session->opens[0].first.port == 40123);
  CHECK(f.session->opens[0].first.originator_port == 5555);
  f.session->opens[0].second(9);
  CHECK(f.session->written[9] == "early");
  CHECK(f.hub->owns(9));

  // A second one the client refuses: the helper is told to close it.
  f.stream->answer(from_helper(frame_type::accepted, accepted + 1, u32(listener) + u16(5556) + "127.0.0.1"));
  REQUIRE(f.session->opens.size() == 2);
  f.session->opens[1].second(std::nullopt);
  frames = frames_from(*f.stream);
  bool closed = false;
  for (auto& fr : frames) closed |= fr.type == frame_type::close && fr.id == accepted + 1;
  CHECK(closed);

  // cancel-tcpip-forward: by the address the client named and the port bound.
  CHECK_FALSE(f.hub->unlisten_tcp("localhost", 1));
  CHECK(f.hub->unlisten_tcp("localhost", 40123));
  CHECK_FALSE(f.hub->unlisten_tcp("localhost", 40123));
}

TEST_CASE("forward hub: a helper that overruns the window, or ends, fails everything") {
  fixture f;
  f.hub->attach(f.stream, "exec-1");
  f.hub->dial(1, "127.0.0.1", 80);
  auto agent = f.hub->listen_agent("/tmp/containerssh-agent-x/agent.sock");
  auto frames = frames_from(*f.stream);
  const auto id = frames[0].id;
  std::string flood;
  for (int i = 0; i < 5; ++i) flood += from_helper(frame_type::data, id, std::string(65536, 'x'));
  f.stream->answer(flood);  // 327680 > the 262144 window
  CHECK(f.session->closes[1] == 1);
  REQUIRE(agent.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  auto path = agent.get();
  CHECK_FALSE(path.ok());
  CHECK(f.stream->closed);
  // Requests after the failure fail at once.
  auto later = f.hub->listen_tcp("", "127.0.0.1", 1234);
  REQUIRE(later.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  CHECK_FALSE(later.get().ok());
  f.hub->dial(2, "127.0.0.1", 80);
  CHECK(f.session->closes[2] == 1);
}

TEST_CASE("forward hub: X11 listens from display 10 and writes the authority file before answering") {
  fixture f;
  f.hub->attach(f.stream, "exec-1");
  auto x11 = f.hub->listen_x11("/tmp/containerssh-x11-y/Xauthority", std::string("\x01\x02", 2), true);
  auto& display = x11.display;
  auto frames = frames_from(*f.stream);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == frame_type::listen_tcp);
  CHECK(frames[0].payload.substr(0, 4) == u16(6010) + u16(990));
  f.stream->written.clear();
  f.stream->answer(from_helper(frame_type::ok, frames[0].id, u16(6012) + "127.0.0.1"));
  CHECK(display.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);  // file first
  frames = frames_from(*f.stream);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == frame_type::write_file);
  const std::string& p = frames[0].payload;
  CHECK(p.substr(0, 2) == u16(0600));
  CHECK(p.find("/tmp/containerssh-x11-y/Xauthority") == 4);
  // FamilyWild, no address, display "12", the protocol, the cookie.
  CHECK(p.substr(4 + 34) == u16(0xffff) + u16(0) + u16(2) + "12" + u16(18) + "MIT-MAGIC-COOKIE-1" + u16(2) +
                                std::string("\x01\x02", 2));
  f.stream->answer(from_helper(frame_type::ok, frames[0].id));
  REQUIRE(display.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  CHECK(display.get().value() == 12u);
  // The session ends: the listen goes, and the file (only a file the helper wrote).
  f.stream->written.clear();
  f.hub->end_x11(x11.listener);
  frames = frames_from(*f.stream);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].type == frame_type::unlisten);
  CHECK(frames[0].id == x11.listener);
  CHECK(frames[1].type == frame_type::remove_file);
  CHECK(frames[1].payload == "/tmp/containerssh-x11-y/Xauthority");
}

TEST_CASE("forward hub: at most flow::forward_streams_limit forwarded connections per SSH connection") {
  fixture f;
  f.hub->attach(f.stream, "exec-1");
  auto bound = f.hub->listen_tcp("localhost", "127.0.0.1", 7000);
  auto frames = frames_from(*f.stream);
  const auto listener = frames[0].id;
  f.stream->written.clear();
  f.stream->answer(from_helper(frame_type::ok, listener, u16(7000) + "127.0.0.1"));
  for (ssh::channel_id ch = 0; ch < flow::forward_streams_limit; ++ch) {
    CHECK(f.hub->has_room());
    f.hub->dial(ch, "127.0.0.1", 80);
  }
  CHECK_FALSE(f.hub->has_room());
  frames_from(*f.stream);
  f.stream->written.clear();
  // One more accepted in the container is closed there at once, no channel is opened for it.
  f.stream->answer(from_helper(frame_type::accepted, forward::helper_id_base + 5, u32(listener) + u16(1) + "x"));
  CHECK(f.session->opens.empty());
  frames = frames_from(*f.stream);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == frame_type::close);
  CHECK(frames[0].id == forward::helper_id_base + 5);
  // One closing makes room again.
  f.hub->channel_closed(0);
  CHECK(f.hub->has_room());
}

TEST_CASE("forward hub: credit goes back to the helper in batches, and the remainder once all was taken") {
  fixture f;
  f.hub->attach(f.stream, "exec-1");
  f.hub->dial(4, "127.0.0.1", 80);
  const auto id = frames_from(*f.stream)[0].id;
  f.stream->written.clear();
  std::string data;
  for (int i = 0; i < 4; ++i) data += from_helper(frame_type::data, id, std::string(50000, 'd'));
  f.stream->answer(data);
  CHECK(f.session->written[4].size() == 200000);
  std::vector<std::uint32_t> credits;
  auto collect = [&] {
    for (auto& fr : frames_from(*f.stream))
      if (fr.type == frame_type::credit)
        credits.push_back(static_cast<std::uint32_t>(static_cast<unsigned char>(fr.payload[0])) << 24 |
                          static_cast<std::uint32_t>(static_cast<unsigned char>(fr.payload[1])) << 16 |
                          static_cast<std::uint32_t>(static_cast<unsigned char>(fr.payload[2])) << 8 |
                          static_cast<unsigned char>(fr.payload[3]));
    f.stream->written.clear();
  };
  for (int i = 0; i < 20; ++i) {  // the client's window takes 10000 at a time
    f.session->sinks[4](10000);
    collect();
  }
  // 65536-byte batches: three of them (70000 each, as 10000-byte pieces add up), then the rest.
  REQUIRE(credits.size() == 3);
  CHECK(credits[0] == 70000);
  CHECK(credits[1] == 70000);
  CHECK(credits[2] == 60000);  // the remainder: everything received was taken
  std::uint64_t total = 0;
  for (auto c : credits) total += c;
  CHECK(total == 200000);
}
