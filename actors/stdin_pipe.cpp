#include "actors/stdin_pipe.hpp"

#include "actors/stdin_batch.hpp"

namespace cssh::actors {

stdin_pipe::stdin_pipe(std::shared_ptr<ssh::session_commands> session, ssh::channel_id ch)
    : session_(std::move(session)), ch_(ch) {}

void stdin_pipe::push(std::string bytes) {
  const std::size_t size = bytes.size();
  next_step step;
  bool accepted = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!eof_ && !input_closed_ && !closed_) {
      accepted = true;
      queued_ += size;
      queue_.push_back(std::move(bytes));
      step = next_locked();
    }
  }
  if (!accepted) return credit(size);  // nowhere to go: the client's window must not shrink for it
  run(std::move(step));
}

void stdin_pipe::end() {
  change([this] { eof_ = true; });
}

void stdin_pipe::attach(std::shared_ptr<http::upgraded_stream> stream, bool tty) {
  change([&] {
    if (closed_) return;
    stream_ = std::move(stream);
    tty_ = tty;
  });
}

void stdin_pipe::allow_half_close() {
  change([this] { half_close_allowed_ = true; });
}

template <class Change>
void stdin_pipe::change(Change&& apply) {
  next_step step;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    apply();
    step = next_locked();
  }
  run(std::move(step));
}

void stdin_pipe::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  queue_.clear();
  queued_ = 0;
  stream_.reset();  // the owner closes the stream itself
}

std::size_t stdin_pipe::in_flight() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_ + writing_bytes_;
}

stdin_pipe::next_step stdin_pipe::next_locked() {
  next_step step;
  if (writing_ || !stream_ || closed_ || input_closed_) return step;
  step.stream = stream_;
  if (queue_.empty()) {
    if (eof_ && half_close_allowed_) {
      // Half-close: the program sees EOF on stdin; its output keeps flowing. Not with a TTY: a
      // terminal has no half-close, and the Engine ends the whole stream on it, output
      // included. OpenSSH likewise leaves a pty open on client EOF.
      step.half_close = !tty_;
      input_closed_ = true;
    }
    return step;
  }
  writing_ = true;
  step.chunk = take_stdin_batch(queue_, queued_);
  writing_bytes_ = step.chunk.size();
  step.write = true;
  return step;
}

void stdin_pipe::run(next_step step) {
  // Outside the lock: the stream posts to the reactor, whose completion takes the lock again.
  if (!step.stream) return;
  if (step.half_close) step.stream->shutdown_send();
  if (!step.write) return;
  // The completion runs on the reactor; the pipe stays alive for it.
  step.stream->async_write(std::move(step.chunk),
                           [self = shared_from_this()](result<void> outcome) { self->written(std::move(outcome)); });
}

void stdin_pipe::written(result<void> outcome) {
  next_step step;
  std::size_t credited = 0;
  bool closed = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    writing_ = false;
    // Written or not, these bytes no longer count against the client's window.
    credited = writing_bytes_;
    writing_bytes_ = 0;
    if (!outcome) {
      // The program closed its stdin (or exited): further input has nowhere to go.
      credited += queued_;
      queue_.clear();
      queued_ = 0;
      input_closed_ = true;
    } else {
      step = next_locked();
    }
    closed = closed_;
  }
  if (credited > 0 && !closed) credit(credited);
  run(std::move(step));
}

void stdin_pipe::credit(std::size_t bytes) { session_->input_consumed(ch_, bytes); }

}  // namespace cssh::actors
