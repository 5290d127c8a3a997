// libFuzzer target: what the forwarding helper sends the server (docs/forwarding.md). The helper
// runs inside the user's container, as the user: its output is untrusted input. Two layers:
//   1. forward::decoder fed in chunks the input chooses, against the same bytes fed whole, and
//      the payload readers on every decoded frame;
//   2. forward_hub with two dials, a listen and an agent socket open, reading the input as the
//      helper's exec stream (Docker's stdout framing around the helper's frames), with a session
//      that confirms every channel and drains every write at once (credits flow back).
// Invariants: no crash, no sanitizer report, decoding independent of the chunking.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <map>
#include <vector>

#include "actors/forward_hub.hpp"
#include "common/log.hpp"
#include "protocol/forward/frame.hpp"

namespace {

using namespace cssh;

/// Completes writes at once; reads are answered by the fuzzer.
class fuzz_stream final : public http::upgraded_stream {
 public:
  void async_read(std::size_t, std::function<void(result<std::string>)> done) override { pending = std::move(done); }
  void async_write(std::string bytes, std::function<void(result<void>)> done) override {
    written += bytes.size();
    done({});
  }
  void shutdown_send() override {}
  void close() override { closed = true; }
  std::function<void(result<std::string>)> pending;
  std::size_t written = 0;
  bool closed = false;
};

/// Confirms every channel and drains every write (credited after each read, as the session
/// thread would: never inside the hub's call).
class draining_session final : public ssh::session_commands {
 public:
  void write(ssh::channel_id ch, ssh::output_stream, std::string bytes) override {
    drained.emplace_back(ch, bytes.size());
  }
  void credit_all() {
    auto now = std::move(drained);
    drained.clear();
    for (auto& [ch, n] : now)
      if (auto sink = sinks.find(ch); sink != sinks.end()) sink->second(n);
  }
  std::vector<std::pair<ssh::channel_id, std::size_t>> drained;
  void send_exit_status(ssh::channel_id, int) override {}
  void send_exit_signal(ssh::channel_id, const std::string&, bool, const std::string&) override {}
  void input_consumed(ssh::channel_id, std::size_t) override {}
  void set_output_credit_sink(ssh::channel_id ch, std::function<void(std::size_t)> s) override {
    sinks[ch] = std::move(s);
  }
  void send_eof(ssh::channel_id) override {}
  void close_channel(ssh::channel_id ch) override { sinks.erase(ch); }
  void open_channel(ssh::channel_open_request, std::function<void(std::optional<ssh::channel_id>)> opened) override {
    if (next % 3 == 2)
      opened(std::nullopt);  // the client refuses some
    else
      opened(next);
    ++next;
  }
  void disconnect(const std::string&) override {}
  std::map<ssh::channel_id, std::function<void(std::size_t)>> sinks;
  ssh::channel_id next = 100;
};

void decode_layer(std::string_view input, std::size_t chunk) {
  std::size_t frames = 0;
  forward::decoder chunked([&frames](const forward::frame& f) {
    ++frames;
    (void)forward::read_ok(f.payload);
    (void)forward::read_accepted(f.payload);
    (void)forward::read_credit(f.payload);
    (void)forward::name_of(f.type);
  });
  for (std::size_t at = 0; at < input.size(); at += chunk)
    if (!chunked.feed(input.substr(at, chunk))) break;
  std::size_t whole_frames = 0;
  forward::decoder whole([&whole_frames](const forward::frame&) { ++whole_frames; });
  auto ok = whole.feed(input);
  if (ok && whole_frames != frames) __builtin_trap();
}

void hub_layer(std::string_view input, std::size_t chunk) {
  auto session = std::make_shared<draining_session>();
  auto stream = std::make_shared<fuzz_stream>();
  auto hub = std::make_shared<actors::forward_hub>(session, "fuzz");
  hub->dial(1, "127.0.0.1", 80);
  hub->dial(2, "localhost", 443);
  auto listen = hub->listen_tcp("localhost", "127.0.0.1", 0);
  auto agent = hub->listen_agent("/tmp/a/agent.sock");
  hub->client_data(1, std::string(1000, 'c'));
  hub->attach(stream, "exec");
  for (std::size_t at = 0; at < input.size() && stream->pending; at += chunk) {
    auto done = std::move(stream->pending);
    stream->pending = nullptr;
    done(std::string(input.substr(at, chunk)));
    session->credit_all();
  }
  hub->client_eof(2);
  hub->channel_closed(1);
  hub->close();
  if (stream->pending) {
    auto done = std::move(stream->pending);
    stream->pending = nullptr;
    done(fail("FUZZ_END", "end"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cssh::log::set_level(cssh::log::level::emergency);  // every broken input logs a warning
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t chunk = std::size_t{data[0]} * 64 + 1;  // 1..16321 bytes per read
  const bool through_hub = data[1] & 1;
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  if (through_hub)
    hub_layer(input, chunk);
  else
    decode_layer(input, chunk);
  return 0;
}
