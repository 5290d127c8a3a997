#pragma once
// stdin_pipe: the client's input on its way to one program, the straight half of the byte path.
//
//   session thread (session_bridge) ─ push()/end() ─► queue ─► Engine stream (written on the
//   reactor) ─ each finished write credited straight to the session (input_consumed) ─┘
//
// Like the output (stream_relay), the input bypasses the actors: they only say when the
// stream exists (attach), when EOF may become a half-close (allow_half_close) and when it is
// over (close). Through the actors each batch and its credit crossed four threads (session
// thread, connection, channel and io actors, then back); now a batch is queued by the thread
// that read it from the client and written by the reactor that owns the stream.
//
// The queue is bounded by the session's input credit: the session thread takes no more from
// the client once flow::input_in_flight_limit bytes are pushed and not yet credited.
//
// Thread-safe: push/end come from the session thread, attach/allow_half_close/close from the
// owning io actor, write completions from the HTTP reactor.

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.hpp"
#include "protocol/http/client.hpp"
#include "protocol/ssh/session_events.hpp"

namespace cssh::actors {

class stdin_pipe : public std::enable_shared_from_this<stdin_pipe> {
 public:
  /// Credits go to `session` for channel `ch`.
  stdin_pipe(std::shared_ptr<ssh::session_commands> session, ssh::channel_id ch);

  // --- the session thread ------------------------------------------------------------------
  /// Bytes from the client. Queued until the stream is attached; after EOF, a failed write or
  /// close() they have nowhere to go and are credited at once.
  void push(std::string bytes);
  /// The client's EOF: becomes a half-close once the queue is written and it is allowed.
  void end();

  // --- the owning io actor -------------------------------------------------------------------
  /// Starts writing to `stream`; `tty`: a terminal has no half-close (the Engine would end the
  /// whole stream, output included), so EOF is then only remembered.
  void attach(std::shared_ptr<http::upgraded_stream> stream, bool tty);
  /// The client's EOF may now reach the program. Session mode waits for the Engine's start: an
  /// EOF that reached the Engine before it sometimes ended the whole attach stream.
  void allow_half_close();
  /// Nothing more is written (the program ended or the channel closed).
  void close();

  /// Bytes pushed and not yet credited (for tests and the byte accounting).
  std::size_t in_flight() const;

 private:
  /// Starts the next write if one may go; returns it (to run unlocked), or nothing.
  struct next_step {
    std::shared_ptr<http::upgraded_stream> stream;
    std::string chunk;
    bool write = false;
    bool half_close = false;
  };
  next_step next_locked();
  /// Applies `apply` to the state under the lock, then starts what may go next.
  template <class Change>
  void change(Change&& apply);
  void run(next_step step);
  void written(result<void> outcome);
  void credit(std::size_t bytes);

  std::shared_ptr<ssh::session_commands> session_;
  ssh::channel_id ch_;

  mutable std::mutex mutex_;
  std::shared_ptr<http::upgraded_stream> stream_;
  bool tty_ = false;
  std::deque<std::string> queue_;
  std::size_t queued_ = 0;
  std::size_t writing_bytes_ = 0;  // size of the write in flight, credited when it finishes
  bool writing_ = false;
  bool eof_ = false;               // the client sent EOF
  bool input_closed_ = false;      // half-closed, or a write failed: nothing more goes out
  bool half_close_allowed_ = false;
  bool closed_ = false;
};

}  // namespace cssh::actors
