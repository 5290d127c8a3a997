// http::reactor itself: async_delay, and stop() ending whatever is still pending.

#include <doctest/doctest.h>

#include <future>
#include <memory>
#include <string>
#include <thread>

#include "fake_http_server.hpp"

using namespace http_test;

TEST_CASE("async_delay fires after the delay, and reports false when the reactor stops first") {
  auto reactor = std::make_unique<http::reactor>(1);
  auto fired = std::make_shared<std::promise<bool>>();
  auto started = std::chrono::steady_clock::now();
  http::async_delay(*reactor, 150ms, [fired](bool f) { fired->set_value(f); });
  auto f = fired->get_future();
  REQUIRE(f.wait_for(5s) == std::future_status::ready);
  CHECK(f.get());
  CHECK(std::chrono::steady_clock::now() - started >= 140ms);

  auto stopped = std::make_shared<std::promise<bool>>();
  http::async_delay(*reactor, 60s, [stopped](bool f2) { stopped->set_value(f2); });
  std::this_thread::sleep_for(50ms);
  reactor->stop();
  auto s = stopped->get_future();
  REQUIRE(s.wait_for(5s) == std::future_status::ready);
  CHECK_FALSE(s.get());
}

TEST_CASE("reactor: stop() completes pending calls and streams with an error, then refuses new ones") {
  auto reactor = std::make_unique<http::reactor>(2);
  auto l = listener::tcp();
  std::thread server([&] {
    int a = l.accept_one();  // the call that never gets an answer
    int b = l.accept_one();  // the upgraded stream
    if (b >= 0) {
      read_request(b);
      write_all(b, upgrade_answer);
    }
    if (a >= 0) wait_for_eof(a);
    if (b >= 0) wait_for_eof(b);
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  });
  http::request slow;
  slow.timeout = 0ms;  // no deadline: only stop() can end it
  waiter<http::response> pending_call;
  http::async_call(*reactor, l.endpoint(), slow, pending_call.handler());
  std::this_thread::sleep_for(50ms);  // make sure the first connection is accepted first
  auto s = upgrade(*reactor, l.endpoint(), http::request{});
  REQUIRE(s.ok());
  waiter<std::string> pending_read;
  s.value()->async_read(1024, pending_read.handler());

  reactor->stop();
  auto c = pending_call.get(1s);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == "HTTP_CANCELLED");
  auto rd = pending_read.get(1s);
  REQUIRE_FALSE(rd.ok());
  CHECK(rd.error().code == "HTTP_STREAM_CLOSED");

  // After stop nothing runs any more: calls fail at once instead of hanging.
  waiter<http::response> late;
  http::async_call(*reactor, l.endpoint(), http::request{}, late.handler());
  auto lr = late.get(1s);
  REQUIRE_FALSE(lr.ok());
  CHECK(lr.error().code == "HTTP_CANCELLED");
  waiter<std::string> late_read;
  s.value()->async_read(1024, late_read.handler());
  CHECK_FALSE(late_read.get(1s).ok());

  s.value().reset();
  reactor.reset();  // the destructor after stop() is harmless
  server.join();
}
