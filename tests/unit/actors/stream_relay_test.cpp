// stream_relay: the byte path between an Engine stream and an SSH channel, driven through a
// scripted stream and a recording session (the e2e suites drive it with real dockerd and
// clients; these pin the accounting that is easy to get subtly wrong).

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "actors/stdin_pipe.hpp"
#include "actors/stream_relay.hpp"
#include "actors/docker_frame.hpp"
#include "unit/actors/scripted_stream.hpp"

using namespace cssh;
using namespace cssh::actors;
using cssh::test::scripted_stream;

namespace {

/// What the relay told the SSH session.
class recording_session final : public ssh::session_commands {
 public:
  void write(ssh::channel_id, ssh::output_stream stream, std::string bytes) override {
    if (drain_at_once) {
      // As a fast client and session thread would: the bytes are drained and credited from
      // another thread while the relay may still be in the middle of handing them over.
      std::size_t n = bytes.size();
      auto credit = sink;
      drainers.emplace_back([credit, n] { credit(n); });
    }
    writes.emplace_back(stream, std::move(bytes));
  }
  void join_drainers() {
    for (auto& t : drainers) t.join();
    drainers.clear();
  }
  bool drain_at_once = false;
  std::vector<std::thread> drainers;
  void send_exit_status(ssh::channel_id, int) override {}
  void send_exit_signal(ssh::channel_id, const std::string&, bool, const std::string&) override {}
  void input_consumed(ssh::channel_id, std::size_t bytes) override { consumed += bytes; }
  void set_output_credit_sink(ssh::channel_id, std::function<void(std::size_t)> s) override { sink = std::move(s); }
  void send_eof(ssh::channel_id) override {}
  void close_channel(ssh::channel_id) override {}
  void open_channel(ssh::channel_open_request, std::function<void(std::optional<ssh::channel_id>)> opened) override {
    opened(std::nullopt);
  }
  void disconnect(const std::string&) override {}

  std::vector<std::pair<ssh::output_stream, std::string>> writes;
  std::size_t consumed = 0;
  std::function<void(std::size_t)> sink;
};

std::string frame(docker_frame::stream_kind kind, const std::string& payload) {
  return docker_frame::encode(kind, payload);
}

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  caf::scoped_actor owner{system};
  std::shared_ptr<recording_session> session = std::make_shared<recording_session>();
  std::shared_ptr<scripted_stream> stream = std::make_shared<scripted_stream>();

  std::shared_ptr<stdin_pipe> input = std::make_shared<stdin_pipe>(session, 7);

  ~fixture() { stream->end_pending_read(); }

  std::unique_ptr<stream_relay> make(bool tty) {
    auto relay =
        std::make_unique<stream_relay>(caf::actor_cast<caf::actor>(owner), relay_target{session, 7, input}, tty);
    relay->attach(stream, "container test");
    return relay;
  }
  bool got_ready() {
    bool got = false;
    owner->receive([&](relay_ready) { got = true; }, caf::after(std::chrono::seconds(5)) >> [] {});
    return got;
  }
};

}  // namespace

TEST_CASE("stream_relay: frames become stdout/stderr runs in order, same-stream frames joined") {
  fixture f;
  auto relay = f.make(false);
  REQUIRE(f.session->sink);  // credits come straight from the session
  REQUIRE(f.stream->read_waiting());
  using docker_frame::stream_kind;
  f.stream->answer(frame(stream_kind::stdout_stream, "a1") + frame(stream_kind::stdout_stream, "a2") +
                   frame(stream_kind::stderr_stream, "e1") + frame(stream_kind::stdout_stream, "b1"));
  REQUIRE(f.session->writes.size() == 3);
  CHECK(f.session->writes[0] == std::make_pair(ssh::output_stream::stdout_stream, std::string("a1a2")));
  CHECK(f.session->writes[1] == std::make_pair(ssh::output_stream::stderr_stream, std::string("e1")));
  CHECK(f.session->writes[2] == std::make_pair(ssh::output_stream::stdout_stream, std::string("b1")));
  // A frame split across reads comes out whole once its rest arrives.
  std::string split = frame(stream_kind::stdout_stream, "hello");
  REQUIRE(f.stream->read_waiting());
  f.stream->answer(split.substr(0, 10));
  CHECK(f.session->writes.size() == 4);
  CHECK(f.session->writes[3].second == "he");
  f.stream->answer(split.substr(10));
  CHECK(f.session->writes.back().second == "llo");
  // The end reaches the owner after the output, once.
  f.stream->answer("");
  REQUIRE(f.got_ready());
  auto event = relay->on_ready();
  CHECK(event.ended_now);
  CHECK(event.read_error.empty());
  CHECK(relay->output_ended());
  CHECK_FALSE(relay->on_ready().ended_now);
}

TEST_CASE("stream_relay: reading stops at the output credit limit and resumes on the session's credit") {
  fixture f;
  auto relay = f.make(false);
  using docker_frame::stream_kind;
  const std::string payload(256 * 1024, 'x');
  std::size_t handed = 0;
  while (f.stream->read_waiting()) {
    f.stream->answer(frame(stream_kind::stdout_stream, payload));
    handed += payload.size();
    REQUIRE(handed <= 2 * flow::output_credit_limit);
  }
  // Payload only counts (frame headers never reach the client's window): exactly the limit.
  CHECK(handed == flow::output_credit_limit);
  CHECK_FALSE(f.stream->read_waiting());  // nothing is read until the client drains some
  f.session->sink(1);
  CHECK(f.stream->read_waiting());  // under the limit: one more read
  f.stream->answer(frame(stream_kind::stdout_stream, payload));
  CHECK_FALSE(f.stream->read_waiting());  // over it again
  // Too little credit keeps it paused.
  f.session->sink(payload.size() - 2);
  CHECK_FALSE(f.stream->read_waiting());
  f.session->sink(2);
  CHECK(f.stream->read_waiting());
}

TEST_CASE("stream_relay: a TTY stream is passed through unframed; a read error ends it with the error") {
  fixture f;
  auto relay = f.make(true);
  f.stream->answer(std::string("\x01\x00raw", 5));
  REQUIRE(f.session->writes.size() == 1);
  CHECK(f.session->writes[0].second == std::string("\x01\x00raw", 5));
  f.stream->fail_read("connection reset");
  REQUIRE(f.got_ready());
  auto event = relay->on_ready();
  CHECK(event.ended_now);
  CHECK(event.read_error == "connection reset");
  relay->close();
  CHECK(f.stream->closed);
}

TEST_CASE("stream_relay: a bad frame ends the output") {
  fixture f;
  auto relay = f.make(false);
  std::string bad(8, '\0');
  bad[0] = 9;  // no such stream
  bad[7] = 1;
  f.stream->answer(bad + "z");
  REQUIRE(f.got_ready());
  CHECK(relay->on_ready().ended_now);
  CHECK(f.session->writes.empty());
  CHECK_FALSE(f.stream->read_waiting());
}

// The client's input: pushed by the session thread into the stdin_pipe, written on the reactor
// (here: the test's thread finishing the scripted writes), credited straight to the session.
TEST_CASE("stdin_pipe: stdin goes out in batches, each finished write is credited to the session") {
  fixture f;
  auto relay = f.make(false);
  f.input->push("one");
  REQUIRE(f.stream->written.size() == 1);  // the first piece leaves at once
  f.input->push("two");
  f.input->push("three");
  CHECK(f.stream->written.size() == 1);  // one write at a time: the rest waits and is joined
  f.stream->finish_write(true);
  REQUIRE(f.stream->pending_writes.size() == 1);  // the joined rest went out at once
  CHECK(f.session->consumed == 3);
  REQUIRE(f.stream->written.size() == 2);
  CHECK(f.stream->written[1] == "twothree");
  // EOF waits for the queue and for allow_half_close.
  f.input->end();
  f.stream->finish_write(true);
  REQUIRE(f.stream->pending_writes.empty());
  CHECK(f.session->consumed == 11);
  CHECK_FALSE(f.stream->half_closed);
  relay->allow_half_close();
  CHECK(f.stream->half_closed);
  // Input after EOF has nowhere to go and is credited at once.
  f.input->push("late");
  CHECK(f.session->consumed == 15);
}

TEST_CASE("stdin_pipe: a failed stdin write credits everything queued and closes stdin") {
  fixture f;
  auto relay = f.make(false);
  f.input->push("first");
  f.input->push("queued");
  REQUIRE(f.input->in_flight() == 11);
  f.stream->finish_write(false);
  CHECK(f.input->in_flight() == 0);
  CHECK(f.session->consumed == 11);
  f.input->push("after");
  CHECK(f.session->consumed == 16);
  CHECK(f.stream->written.size() == 1);
}

TEST_CASE("stdin_pipe: input that comes before the stream is queued and written on attach, in order") {
  fixture f;
  f.input->push("early ");
  f.input->push("bytes");
  f.input->end();
  CHECK(f.stream->written.empty());  // no stream yet
  CHECK(f.input->in_flight() == 11);
  auto relay = f.make(false);
  REQUIRE(f.stream->written.size() == 1);
  CHECK(f.stream->written[0] == "early bytes");
  relay->allow_half_close();
  CHECK_FALSE(f.stream->half_closed);  // the write is still in flight: EOF waits for it
  f.stream->finish_write(true);
  CHECK(f.stream->half_closed);
  CHECK(f.session->consumed == 11);
}

TEST_CASE("stdin_pipe: a TTY stream is never half-closed; closing the relay drops what is queued") {
  fixture f;
  auto relay = f.make(true);
  f.input->end();
  relay->allow_half_close();
  CHECK_FALSE(f.stream->half_closed);
  f.input->push("after eof");
  CHECK(f.stream->written.empty());
  relay->close();
  f.input->push("after close");
  CHECK(f.stream->written.empty());
  CHECK(f.stream->closed);
}

TEST_CASE("stream_relay: output credited while it is being handed over is not lost") {
  fixture f;
  auto relay = f.make(false);
  f.session->drain_at_once = true;
  using docker_frame::stream_kind;
  const std::string payload(64 * 1024, 'y');
  // Three times the credit limit, each read drained at once: the pump must never stall.
  for (std::size_t sent = 0; sent < 3 * flow::output_credit_limit; sent += payload.size()) {
    REQUIRE(f.stream->read_waiting());
    f.stream->answer(frame(stream_kind::stdout_stream, payload));
    f.session->join_drainers();
  }
  CHECK(f.stream->read_waiting());
}

TEST_CASE("stream_relay: nothing reaches the session once the relay is closed") {
  fixture f;
  auto relay = f.make(false);
  REQUIRE(f.stream->read_waiting());
  relay->close();  // the owner reports the exit next: no output may follow it
  f.stream->answer(frame(docker_frame::stream_kind::stdout_stream, "late"));
  CHECK(f.session->writes.empty());
  CHECK(f.stream->closed);
}
