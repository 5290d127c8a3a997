#pragma once
// A hijacked Engine stream whose reads a test answers by hand and whose writes it inspects:
// the relay test and the forward hub test drive the byte path through it.

#include <doctest/doctest.h>

#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "protocol/http/client.hpp"

namespace cssh::test {

/// An Engine stream whose reads the test answers by hand (one read outstanding, as the real one).
class scripted_stream final : public http::upgraded_stream {
 public:
  void async_read(std::size_t, std::function<void(result<std::string>)> done) override {
    std::lock_guard<std::mutex> guard(mutex_);
    REQUIRE_FALSE(pending_read_);  // never two reads at once
    pending_read_ = std::move(done);
  }
  void async_write(std::string bytes, std::function<void(result<void>)> done) override {
    std::lock_guard<std::mutex> guard(mutex_);
    written.push_back(std::move(bytes));
    pending_writes.push_back(std::move(done));
  }
  void shutdown_send() override { half_closed = true; }
  void close() override { closed = true; }

  bool read_waiting() {
    std::lock_guard<std::mutex> guard(mutex_);
    return static_cast<bool>(pending_read_);
  }
  /// Completes the outstanding read with `bytes` ("" = EOF).
  void answer(std::string bytes) {
    std::function<void(result<std::string>)> done;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      REQUIRE(pending_read_);
      done = std::move(pending_read_);
      pending_read_ = nullptr;
    }
    done(std::move(bytes));
  }
  /// At the end of a test: a read still outstanding completes with an error, as the real stream's
  /// do once it is closed (the pump it holds is freed then; LeakSanitizer checks).
  void end_pending_read() {
    std::function<void(result<std::string>)> done;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      done = std::move(pending_read_);
      pending_read_ = nullptr;
    }
    if (done) done(fail("TEST_CLOSED", "the test ended"));
  }
  void fail_read(const std::string& why) {
    std::function<void(result<std::string>)> done;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      REQUIRE(pending_read_);
      done = std::move(pending_read_);
      pending_read_ = nullptr;
    }
    done(fail("TEST_READ", why));
  }
  void finish_write(bool ok) {
    auto done = std::move(pending_writes.front());
    pending_writes.pop_front();
    if (ok) {
      done({});
    } else {
      done(fail("TEST_WRITE", "the program closed its stdin"));
    }
  }

  std::deque<std::string> written;
  std::deque<std::function<void(result<void>)>> pending_writes;
  bool half_closed = false;
  bool closed = false;

 private:
  std::mutex mutex_;
  std::function<void(result<std::string>)> pending_read_;
};

}  // namespace cssh::test
