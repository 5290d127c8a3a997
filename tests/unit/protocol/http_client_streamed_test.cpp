// http::async_call_streamed: a 2xx body handed over piece by piece as it arrives, anything else
// collected whole.

#include <doctest/doctest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fake_http_server.hpp"

using namespace http_test;

TEST_CASE("call_streamed: a chunked 2xx body arrives in pieces; the response has no body") {
  auto l = listener::tcp();
  std::string expected;
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; ++i) {
      std::string line = "{\"status\":\"step " + std::to_string(i) + "\"}\n";
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", line.size());
      write_all(fd, std::string(size) + line + "\r\n");
      std::this_thread::sleep_for(20ms);  // separate pieces on the wire
    }
    write_all(fd, "0\r\n\r\n");
  });
  for (int i = 0; i < 5; ++i) expected += "{\"status\":\"step " + std::to_string(i) + "\"}\n";
  http::reactor reactor(1);
  auto pieces = std::make_shared<std::vector<std::string>>();
  waiter<http::response> w;
  http::async_call_streamed(reactor, l.endpoint(), http::request{}, [pieces](std::string_view p) { pieces->emplace_back(p); },
                            w.handler());
  auto r = w.get();
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  CHECK(r->status == 200);
  CHECK(r->body.empty());
  std::string joined;
  for (const auto& p : *pieces) joined += p;
  CHECK(joined == expected);
  CHECK(pieces->size() >= 2);  // it streamed, it did not collect
}

TEST_CASE("call_streamed: a Content-Length 2xx body and an error status collected whole") {
  auto l = listener::tcp();
  one_shot_server server(l, [&](int fd) {
    read_request(fd);
    write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world");
  });
  http::reactor reactor(1);
  std::string got;
  waiter<http::response> w;
  http::async_call_streamed(reactor, l.endpoint(), http::request{}, [&got](std::string_view p) { got += p; }, w.handler());
  auto r = w.get();
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  CHECK(got == "hello world");
  server.join();

  auto l2 = listener::tcp();
  one_shot_server refusing(l2, [&](int fd) {
    read_request(fd);
    write_all(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 27\r\n\r\n{\"message\":\"no such image\"}");
  });
  bool streamed = false;
  waiter<http::response> w2;
  http::async_call_streamed(reactor, l2.endpoint(), http::request{}, [&streamed](std::string_view) { streamed = true; },
                            w2.handler());
  auto r2 = w2.get();
  REQUIRE(r2.ok());
  CHECK(r2->status == 404);
  CHECK(r2->body == "{\"message\":\"no such image\"}");
  CHECK_FALSE(streamed);
}
