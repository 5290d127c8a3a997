#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/metrics.hpp"
#include "common/server_metrics.hpp"

using namespace cssh::metrics;

namespace {

const family_snapshot* find(const std::vector<family_snapshot>& all, const std::string& name) {
  for (const auto& f : all)
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace

TEST_CASE("counter: only goes up, from threads at once") {
  registry r;
  auto& c = r.counters("test_events_total", "events").with({});
  CHECK(c.value() == 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&c] {
      for (int i = 0; i < 100000; ++i) c.inc();
    });
  for (auto& t : threads) t.join();
  CHECK(c.value() == 400000);
  c.inc(5);
  CHECK(c.value() == 400005);
}

TEST_CASE("gauge: up, down, set and a high-water mark") {
  registry r;
  auto& g = r.gauges("test_open", "open things").with({});
  g.inc();
  g.inc();
  g.dec();
  CHECK(g.value() == 1);
  g.add(-3);
  CHECK(g.value() == -2);
  g.set(7);
  CHECK(g.value() == 7);
  auto& high = r.gauges("test_high", "high-water").with({});
  high.raise_to(5);
  high.raise_to(3);
  CHECK(high.value() == 5);
  high.raise_to(9);
  CHECK(high.value() == 9);
}

TEST_CASE("histogram: inclusive upper bounds, cumulative counts, +Inf and sum") {
  histogram h({0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 1.0, 5.0, 50.0}) h.observe(v);
  h.observe(std::nan(""));  // ignored
  auto r = h.read();
  REQUIRE(r.cumulative.size() == 4);
  CHECK(r.cumulative[0] == 2);  // 0.05 and 0.1 (le is inclusive)
  CHECK(r.cumulative[1] == 4);  // + 0.5, 1.0
  CHECK(r.cumulative[2] == 5);  // + 5.0
  CHECK(r.cumulative[3] == 6);  // + 50: the +Inf bucket is the count
  CHECK(r.sum == doctest::Approx(56.65));
  CHECK_THROWS_AS(histogram({1, 1}), std::logic_error);
  CHECK_THROWS_AS(histogram({2, 1}), std::logic_error);
}

TEST_CASE("families: labelled cells are created once and keep their address") {
  registry r;
  auto& f = r.counters("test_requests_total", "requests", {"method", "code"});
  auto& a = f.with({"GET", "200"});
  auto& b = f.with({"GET", "200"});
  CHECK(&a == &b);
  a.inc();
  f.with({"POST", "500"}).inc(2);
  auto all = r.collect();
  auto* s = find(all, "test_requests_total");
  REQUIRE(s);
  CHECK(s->type == metric_type::counter);
  CHECK(s->label_names == std::vector<std::string>{"method", "code"});
  REQUIRE(s->samples.size() == 2);
  CHECK(s->samples[0].label_values == std::vector<std::string>{"GET", "200"});
  CHECK(s->samples[0].value == 1);
  CHECK(s->samples[1].value == 2);
  CHECK_THROWS_AS(f.with({"GET"}), std::logic_error);  // one value per label
}

TEST_CASE("families: an unlabelled family shows its cell at 0 before any event") {
  registry r;
  r.counters("test_nothing_yet_total", "nothing");
  auto all = r.collect();
  auto* s = find(all, "test_nothing_yet_total");
  REQUIRE(s);
  REQUIRE(s->samples.size() == 1);
  CHECK(s->samples[0].value == 0);
}

TEST_CASE("registry: the same name again is the same family; a conflicting one is refused") {
  registry r;
  auto& one = r.counters("test_shared_total", "shared", {"a"});
  auto& two = r.counters("test_shared_total", "shared", {"a"});
  CHECK(&one == &two);
  CHECK_THROWS_AS(r.gauges("test_shared_total", "shared", {"a"}), std::logic_error);
  CHECK_THROWS_AS(r.counters("test_shared_total", "shared", {"b"}), std::logic_error);
  CHECK_THROWS_AS(r.counters("bad-name", "x"), std::logic_error);
  CHECK_THROWS_AS(r.counters("test_ok_total", "x", {"__reserved"}), std::logic_error);
  CHECK_THROWS_AS(r.histograms("test_h", "x", {"le"}, {1}), std::logic_error);
  CHECK_THROWS_AS(r.histograms("test_h2", "x", {}, {3, 2}), std::logic_error);
}

TEST_CASE("names: Prometheus' character rules") {
  CHECK(valid_metric_name("containerssh_ssh_connections_total"));
  CHECK(valid_metric_name("a:b_c"));
  CHECK_FALSE(valid_metric_name("1abc"));
  CHECK_FALSE(valid_metric_name(""));
  CHECK_FALSE(valid_metric_name("a-b"));
  CHECK(valid_label_name("authtype"));
  CHECK_FALSE(valid_label_name("a:b"));
  CHECK_FALSE(valid_label_name("__name__"));
}

TEST_CASE("server metrics: ContainerSSH's names, types and labels") {
  auto& m = server();
  auto all = default_registry().collect();
  struct expected {
    const char* name;
    metric_type type;
    std::vector<std::string> labels;
  };
  for (const auto& e : std::vector<expected>{
           {"containerssh_ssh_connections_total", metric_type::counter, {}},
           {"containerssh_ssh_current_connections", metric_type::gauge, {}},
           {"containerssh_ssh_successful_handshakes_total", metric_type::counter, {}},
           {"containerssh_ssh_failed_handshakes_total", metric_type::counter, {}},
           {"containerssh_auth_server_requests_total", metric_type::counter, {}},
           {"containerssh_auth_server_failures_total", metric_type::counter, {"type"}},
           {"containerssh_auth_success_total", metric_type::counter, {"authtype", "country"}},
           {"containerssh_auth_failures_total", metric_type::counter, {"authtype", "country"}},
           {"containerssh_config_server_requests_total", metric_type::counter, {}},
           {"containerssh_config_server_failures_total", metric_type::counter, {}},
           {"containerssh_backend_requests_total", metric_type::counter, {"backend"}},
           {"containerssh_backend_errors_total", metric_type::counter, {"backend"}},
       }) {
    CAPTURE(e.name);
    auto* f = find(all, e.name);
    REQUIRE(f);
    CHECK(f->type == e.type);
    CHECK(f->label_names == e.labels);
  }
  count_authentication("password", false);
  count_authentication("password", true);
  CHECK(m.auth_failures.with({"password", "XX"}).value() >= 1);
  CHECK(m.auth_success.with({"password", "XX"}).value() >= 1);
}

TEST_CASE("server metrics: exit classes") {
  CHECK(exit_class(0, false) == "ok");
  CHECK(exit_class(3, false) == "error");
  CHECK(exit_class(126, false) == "not_executable");
  CHECK(exit_class(127, false) == "not_found");
  CHECK(exit_class(137, false) == "signal");
  CHECK(exit_class(0, true) == "signal");
}

TEST_CASE("server metrics: a counted Docker call counts requests and failures") {
  auto& cells = server().docker_endpoint("unit_test_endpoint");
  auto before_requests = cells.requests.value();
  auto before_errors = cells.errors.value();
  auto before_backend = server().backend_requests.with({"docker"}).value();
  int delivered = 0;
  auto ok = count_docker_call<int>("unit_test_endpoint", [&](cssh::result<int> r) { delivered += r.ok() ? 1 : 0; });
  ok(cssh::result<int>(4));
  auto bad = count_docker_call<int>("unit_test_endpoint", [&](cssh::result<int> r) { delivered += r.ok() ? 1 : 0; });
  bad(cssh::result<int>(cssh::fail("X", "no")));
  CHECK(delivered == 1);
  CHECK(cells.requests.value() == before_requests + 2);
  CHECK(cells.errors.value() == before_errors + 1);
  CHECK(server().backend_requests.with({"docker"}).value() == before_backend + 2);
}
