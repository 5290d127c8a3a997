// The retrying webhook client against a scripted in-process HTTP server (plain POSIX sockets,
// so the server shares no code with the client under test).

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocol/webhook/client.hpp"

#include "fake_http_server.hpp"

using namespace std::chrono_literals;
using cssh::result;
using http_test::listener;
using test_text::contains;
namespace http = cssh::http;
namespace webhook = cssh::webhook;

namespace {

/// What the server does with one request.
struct step {
  unsigned status = 200;
  std::string body = "{}";
  std::string extra_headers;          // "Location: /x\r\n"
  std::chrono::milliseconds delay{0};  // before answering
  bool hang_up = false;               // close without answering
};

step answer(unsigned status, std::string body = "{}") {
  step s;
  s.status = status;
  s.body = std::move(body);
  return s;
}
step redirect(unsigned status, const std::string& location) {
  step s = answer(status, "");
  s.extra_headers = "Location: " + location + "\r\n";
  return s;
}
step slow(std::chrono::milliseconds delay) {
  step s;
  s.delay = delay;
  return s;
}
step hang_up() {
  step s;
  s.hang_up = true;
  return s;
}

struct seen_request {
  std::string method;
  std::string target;
  std::string body;
};

/// Serves one connection at a time, answering request N with script[N] (the last step repeats).
class scripted_server {
 public:
  explicit scripted_server(std::vector<step> script) : script_(std::move(script)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~scripted_server() {
    stop_ = true;
    thread_.join();
    for (auto& t : workers_) t.join();
  }
  std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(listener_.endpoint().port) + path; }
  std::vector<seen_request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  void serve() {
    while (!stop_) {
      int c = listener_.accept_one(50ms);
      if (c < 0) continue;
      // One thread per connection: a slow answer must not hold up the next attempt.
      workers_.emplace_back([this, c] {
        handle(c);
        ::close(c);
      });
    }
  }

  void handle(int c) {
    std::string data;
    auto header_end = std::string::npos;
    auto until = std::chrono::steady_clock::now() + 3s;
    std::size_t need = 0;
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      char buf[8192];
      auto n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      data.append(buf, static_cast<std::size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        auto cl = data.find("Content-Length: ");
        need = cl == std::string::npos || cl > header_end ? 0 : std::stoul(data.substr(cl + 16));
      }
      if (data.size() >= header_end + 4 + need) break;
    }
    if (header_end == std::string::npos) return;
    seen_request r;
    r.method = data.substr(0, data.find(' '));
    auto t = data.find(' ') + 1;
    r.target = data.substr(t, data.find(' ', t) - t);
    r.body = data.substr(header_end + 4);
    step s;
    {
      std::lock_guard<std::mutex> lock(mu_);
      s = script_[std::min(seen_.size(), script_.size() - 1)];
      seen_.push_back(r);
    }
    if (s.delay.count() > 0) std::this_thread::sleep_for(s.delay);
    if (s.hang_up) return;
    std::string answer = "HTTP/1.1 " + std::to_string(s.status) + " X\r\nContent-Type: application/json\r\n" +
                         s.extra_headers + "Content-Length: " + std::to_string(s.body.size()) +
                         "\r\nConnection: close\r\n\r\n" + s.body;
    ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
  }

  listener listener_ = listener::tcp();
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> workers_;  // touched by thread_ only, joined after it
  std::mutex mu_;
  std::vector<step> script_;
  std::vector<seen_request> seen_;
};

struct outcome {
  result<std::string> r = cssh::fail("", "");
  std::vector<webhook::attempt_failure> failures;
  std::chrono::milliseconds took{0};
};

outcome post(http::reactor& reactor, const webhook::client_settings& settings, const std::string& path,
             std::chrono::milliseconds budget) {
  auto client = webhook::make_client(settings, "test.webhook");
  REQUIRE(client.ok());
  auto failures = std::make_shared<std::vector<webhook::attempt_failure>>();
  auto mu = std::make_shared<std::mutex>();
  std::promise<result<std::string>> done;
  auto fut = done.get_future();
  webhook::call c;
  c.path = path;
  c.body = R"({"username":"alice"})";
  auto start = std::chrono::steady_clock::now();
  c.deadline = start + budget;
  c.on_failed_attempt = [failures, mu](const webhook::attempt_failure& f) {
    std::lock_guard<std::mutex> lock(*mu);
    failures->push_back(f);
  };
  webhook::post(reactor, client.value(), std::move(c), [&done](result<std::string> r) { done.set_value(std::move(r)); });
  REQUIRE(fut.wait_for(budget + 5s) == std::future_status::ready);
  outcome o;
  o.r = fut.get();
  o.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::lock_guard<std::mutex> lock(*mu);
  o.failures = *failures;
  return o;
}


webhook::client_settings settings_for(const std::string& url, std::chrono::milliseconds timeout = 1s) {
  webhook::client_settings s;
  s.url = url;
  s.timeout = timeout;
  return s;
}

}  // namespace

TEST_CASE("webhook: a 200 answer is handed over; the path is appended to the URL's") {
  http::reactor reactor(1);
  scripted_server server({answer(200, R"({"success":true})")});
  auto o = post(reactor, settings_for(server.url("/base/")), "/password", 5s);
  REQUIRE(o.r.ok());
  CHECK(o.r.value() == R"({"success":true})");
  auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].target == "/base/password");
  CHECK(seen[0].body == R"({"username":"alice"})");
  CHECK(o.failures.empty());
}

TEST_CASE("webhook: an empty path posts to the URL exactly as given (the config server)") {
  http::reactor reactor(1);
  scripted_server server({step{}});
  REQUIRE(post(reactor, settings_for(server.url("/config/")), "", 5s).r.ok());
  REQUIRE(post(reactor, settings_for(server.url()), "", 5s).r.ok());
  auto seen = server.requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].target == "/config/");
  CHECK(seen[1].target == "/");
}

TEST_CASE("webhook: 5xx and a dropped connection are retried with back-off") {
  http::reactor reactor(1);
  scripted_server server({answer(500, "oops"), hang_up(), answer(200, R"({"ok":1})")});
  auto o = post(reactor, settings_for(server.url()), "/password", 10s);
  REQUIRE(o.r.ok());
  CHECK(server.requests().size() == 3);
  REQUIRE(o.failures.size() == 2);
  CHECK(o.failures[0].attempt == 1);
  CHECK(contains(o.failures[0].reason, "answered HTTP 500"));
  CHECK(o.failures[0].will_retry);
  CHECK(o.failures[0].retry_in == 250ms);
  CHECK(o.failures[1].retry_in == 500ms);
  CHECK(o.took >= 700ms);  // both back-off waits happened
}

TEST_CASE("webhook: 4xx is not retried") {
  http::reactor reactor(1);
  scripted_server server({answer(403, "no"), answer(200)});
  auto o = post(reactor, settings_for(server.url()), "/password", 10s);
  REQUIRE_FALSE(o.r.ok());
  CHECK(o.r.error().code == "WEBHOOK_FAILED");
  CHECK(contains(o.r.error().message, "gave up after 1 attempt"));
  CHECK(contains(o.r.error().message, "answered HTTP 403 (not retried"));
  CHECK(server.requests().size() == 1);
  REQUIRE(o.failures.size() == 1);
  CHECK_FALSE(o.failures[0].will_retry);
}

TEST_CASE("webhook: a server that is down is retried until the deadline, then named") {
  http::reactor reactor(1);
  std::string url;
  {
    scripted_server gone({step{}});
    url = gone.url();
  }  // nothing listens there any more
  auto o = post(reactor, settings_for(url), "/password", 1200ms);
  REQUIRE_FALSE(o.r.ok());
  CHECK(contains(o.r.error().message, url));
  CHECK(contains(o.r.error().message, "connect"));
  CHECK(o.failures.size() >= 2);
  CHECK(o.took < 1500ms);
}

TEST_CASE("webhook: a hanging server is cut by the per-call timeout, all within the deadline") {
  http::reactor reactor(1);
  scripted_server server({slow(1s)});
  auto o = post(reactor, settings_for(server.url(), 300ms), "/password", 1000ms);
  REQUIRE_FALSE(o.r.ok());
  CHECK(contains(o.r.error().message, "no complete answer within 300 ms"));
  CHECK(o.took < 1300ms);
  CHECK(server.requests().size() >= 2);  // 300 ms call, 250 ms pause, another call
}

TEST_CASE("webhook: redirects are refused unless allowed, and then followed as Go does") {
  http::reactor reactor(1);
  SUBCASE("not followed by default") {
    scripted_server server({redirect(307, "/elsewhere")});
    auto o = post(reactor, settings_for(server.url()), "/password", 5s);
    REQUIRE_FALSE(o.r.ok());
    CHECK(contains(o.r.error().message, "answered HTTP 307 (redirect to /elsewhere), and redirects are not followed"));
    CHECK(server.requests().size() == 1);
  }
  SUBCASE("307 repeats the POST with its body") {
    scripted_server server({redirect(307, "/elsewhere"), answer(200)});
    auto s = settings_for(server.url());
    s.allow_redirects = true;
    REQUIRE(post(reactor, s, "/password", 5s).r.ok());
    auto seen = server.requests();
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].method == "POST");
    CHECK(seen[1].target == "/elsewhere");
    CHECK(seen[1].body == R"({"username":"alice"})");
  }
  SUBCASE("302 to an absolute URL turns into a GET") {
    scripted_server target({answer(200)});
    scripted_server server({redirect(302, target.url("/moved?x=1"))});
    auto s = settings_for(server.url());
    s.allow_redirects = true;
    REQUIRE(post(reactor, s, "/password", 5s).r.ok());
    auto seen = target.requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "GET");
    CHECK(seen[0].target == "/moved?x=1");
    CHECK(seen[0].body.empty());
  }
}

TEST_CASE("webhook: the back-off doubles up to ContainerSSH's 10 s") {
  CHECK(webhook::retry_delay(1) == 250ms);
  CHECK(webhook::retry_delay(2) == 500ms);
  CHECK(webhook::retry_delay(3) == 1000ms);
  CHECK(webhook::retry_delay(7) == 10000ms);
  CHECK(webhook::retry_delay(50) == 10000ms);
}

TEST_CASE("webhook: make_client checks the URL and TLS files") {
  CHECK(contains(webhook::make_client(settings_for("ftp://x"), "auth.password.webhook").error().message,
                 "auth.password.webhook.url:"));
  auto s = settings_for("https://127.0.0.1:1");
  s.cacert = "/nonexistent/ca.pem";
  auto bad_ca = webhook::make_client(s, "configserver");
  REQUIRE_FALSE(bad_ca.ok());
  CHECK(contains(bad_ca.error().message, "configserver.cacert: "));
  std::vector<std::string> warnings;
  auto plain = settings_for("http://127.0.0.1:1");
  plain.cacert = "/nonexistent/ca.pem";
  REQUIRE(webhook::make_client(plain, "auth.authz.webhook", &warnings).ok());
  REQUIRE(warnings.size() == 1);
  CHECK(contains(warnings[0], "only apply to https:// URLs"));
}
