#include "actors/stream_relay.hpp"

#include <mutex>
#include <vector>

#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "actors/docker_frame.hpp"

namespace cssh::actors {

namespace {
using flow::output_credit_limit;
constexpr std::size_t read_chunk = flow::output_read_chunk;
}  // namespace

/// The output side of the relay, on the reactor: reads while the output in flight allows,
/// splits frames into stdout/stderr runs and hands them to the session, and tells the owner
/// once, when the stream has ended.
class output_pump : public std::enable_shared_from_this<output_pump> {
 public:
  output_pump(std::shared_ptr<http::upgraded_stream> stream, caf::actor owner, relay_target target, bool tty,
              std::string label)
      : stream_(std::move(stream)),
        owner_(caf::actor_cast<caf::weak_actor_ptr>(owner)),
        target_(std::move(target)),
        label_(std::move(label)) {
    if (!tty) {
      demux_ = std::make_unique<docker_frame::demuxer>([this](docker_frame::stream_kind kind, std::string_view p) {
        collect(kind == docker_frame::stream_kind::stderr_stream ? ssh::output_stream::stderr_stream
                                                                 : ssh::output_stream::stdout_stream,
                p);
      });
    }
  }

  void start() {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      if (!may_read()) return;
      reading_ = true;
    }
    read();
  }

  /// Nothing more goes to the session (the owner finished).
  void stop() {
    std::lock_guard<std::mutex> guard(mutex_);
    stopped_ = true;
  }

  struct end_state {
    bool ended = false;
    std::string error;
  };
  end_state ending() {
    std::lock_guard<std::mutex> guard(mutex_);
    return {ended_, error_};
  }

  /// `bytes` of our output left the client's window (any thread).
  void credit(std::size_t bytes) {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      outstanding_ = bytes >= outstanding_ ? 0 : outstanding_ - bytes;
      if (!may_read()) return;
      reading_ = true;
    }
    read();
  }

 private:
  bool may_read() const { return !reading_ && !ended_ && !stopped_ && outstanding_ < output_credit_limit; }

  void read() {
    stream_->async_read(read_chunk, [self = shared_from_this()](result<std::string> r) { self->on_read(std::move(r)); });
  }

  void collect(ssh::output_stream stream, std::string_view bytes) {
    if (bytes.empty()) return;
    if (!runs_.empty() && runs_.back().stream == stream) {
      runs_.back().bytes.append(bytes);
    } else {
      runs_.push_back(run{stream, std::string(bytes)});
    }
  }

  void end(std::string error) {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      reading_ = false;
      ended_ = true;
      error_ = std::move(error);
    }
    if (auto owner = owner_.lock()) caf::anon_send(caf::actor_cast<caf::actor>(owner), relay_ready{});
  }

  void on_read(result<std::string> r) {
    if (!r) return end(r.error().message);
    if (r.value().empty()) return end("");
    std::string& bytes = r.value();
    result<void> fed;
    if (demux_) {
      fed = demux_->feed(bytes);  // into runs_ (a bad frame: the runs before it still go out)
    } else {
      runs_.push_back(run{ssh::output_stream::stdout_stream, std::move(bytes)});
    }
    std::size_t handed = 0;
    for (const auto& piece : runs_) handed += piece.bytes.size();
    bool again = false;
    {
      // Under the lock, two orders hold: the bytes count as outstanding before the session can
      // drain and credit them (a credit that came first was clamped away and lost for good), and
      // stop() cannot return while bytes are being handed over, so nothing reaches the session
      // after the owner closed the relay and reported the exit.
      std::lock_guard<std::mutex> guard(mutex_);
      if (stopped_) {
        runs_.clear();
        return;
      }
      // Only payload counts: the session credits what the client's window took, and frame
      // headers never get there.
      outstanding_ += handed;
      for (auto& piece : runs_) target_.session->write(target_.ch, piece.stream, std::move(piece.bytes));
      runs_.clear();
      reading_ = false;
      if (fed) {
        again = may_read();
        reading_ = again;
      }
    }
    metrics::server().session_bytes_out.inc(handed);
    if (!fed) {
      log::error(fed.error().code, fed.error().message + " (" + label_ + ")");
      return end("");
    }
    if (again) read();
  }

  std::shared_ptr<http::upgraded_stream> stream_;
  caf::weak_actor_ptr owner_;  // the pump must not keep a finished actor alive
  relay_target target_;
  std::string label_;
  std::unique_ptr<docker_frame::demuxer> demux_;  // reactor only (one read at a time)
  struct run { ssh::output_stream stream; std::string bytes; };
  std::vector<run> runs_;  // one read's output, split into runs of the same stream (order kept)

  std::mutex mutex_;
  std::size_t outstanding_ = 0;  // handed to the session and not yet credited
  bool reading_ = false;
  bool ended_ = false;
  bool stopped_ = false;
  std::string error_;
};

stream_relay::stream_relay(caf::actor owner, relay_target target, bool tty)
    : owner_(std::move(owner)), target_(std::move(target)), tty_(tty) {}

stream_relay::~stream_relay() { close(); }

void stream_relay::attach(std::shared_ptr<http::upgraded_stream> stream, std::string label) {
  stream_ = std::move(stream);
  label_ = label;
  pump_ = std::make_shared<output_pump>(stream_, owner_, target_, tty_, std::move(label));
  std::weak_ptr<output_pump> weak = pump_;
  target_.session->set_output_credit_sink(target_.ch, [weak](std::size_t bytes) {
    if (auto pump = weak.lock()) pump->credit(bytes);
  });
  pump_->start();
  target_.input->attach(stream_, tty_);
}

void stream_relay::close() {
  if (closed_) return;
  closed_ = true;
  if (pump_) pump_->stop();
  target_.input->close();
  if (stream_) stream_->close();  // a read in flight completes with an error and frees the pump
}

// --- output --------------------------------------------------------------------------------

stream_relay::output_event stream_relay::on_ready() {
  output_event event;
  if (closed_ || output_ended_ || !pump_) return event;
  auto state = pump_->ending();
  if (!state.ended) return event;
  output_ended_ = true;
  event.ended_now = true;
  event.read_error = state.error;
  return event;
}

bool stream_relay::output_ended_now(bool quiet) {
  auto event = on_ready();
  if (!event.ended_now) return false;
  if (!event.read_error.empty() && !quiet) {
    log::debug("DOCKER_STREAM_ENDED", label_ + ": its stream ended with an error: " + event.read_error,
               {{"stream", label_}});
  }
  return true;
}


}  // namespace cssh::actors
