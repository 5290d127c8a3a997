#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/metrics.hpp"
#include "common/prometheus_text.hpp"

using namespace cssh;

TEST_CASE("prometheus text: escaping") {
  CHECK(prometheus_text::escape_label_value(R"(a"b\c)") == R"(a\"b\\c)");
  CHECK(prometheus_text::escape_label_value("line1\nline2") == "line1\\nline2");
  CHECK(prometheus_text::escape_help("back\\slash \"quoted\"\nnext") == "back\\\\slash \"quoted\"\\nnext");
}

TEST_CASE("prometheus text: values") {
  CHECK(prometheus_text::format_value(0) == "0");
  CHECK(prometheus_text::format_value(42) == "42");
  CHECK(prometheus_text::format_value(-3) == "-3");
  CHECK(prometheus_text::format_value(0.25) == "0.25");
  CHECK(prometheus_text::format_value(1e-6) == "1e-06");
  CHECK(prometheus_text::format_value(1.0 / 0.0) == "+Inf");
  CHECK(prometheus_text::format_value(-1.0 / 0.0) == "-Inf");
  CHECK(prometheus_text::format_value(std::nan("")) == "NaN");
}

TEST_CASE("prometheus text: counters, gauges and labels") {
  metrics::registry r;
  r.counters("demo_requests_total", "Requests, by \"kind\"", {"kind"}).with({"a\"b"}).inc(3);
  r.gauges("demo_open", "Open things").with({}).set(-2);
  std::string text = prometheus_text::render(r.collect());
  CHECK(text ==
        "# HELP demo_requests_total Requests, by \"kind\"\n"
        "# TYPE demo_requests_total counter\n"
        "demo_requests_total{kind=\"a\\\"b\"} 3\n"
        "# HELP demo_open Open things\n"
        "# TYPE demo_open gauge\n"
        "demo_open -2\n");
}

TEST_CASE("prometheus text: a histogram has cumulative buckets, +Inf, _sum and _count") {
  metrics::registry r;
  auto& h = r.histograms("demo_seconds", "Durations", {"op"}, {0.5, 1}).with({"x"});
  h.observe(0.25);
  h.observe(0.75);
  h.observe(3);
  std::string text = prometheus_text::render(r.collect());
  CHECK(text ==
        "# HELP demo_seconds Durations\n"
        "# TYPE demo_seconds histogram\n"
        "demo_seconds_bucket{op=\"x\",le=\"0.5\"} 1\n"
        "demo_seconds_bucket{op=\"x\",le=\"1\"} 2\n"
        "demo_seconds_bucket{op=\"x\",le=\"+Inf\"} 3\n"
        "demo_seconds_sum{op=\"x\"} 4\n"
        "demo_seconds_count{op=\"x\"} 3\n");
}

TEST_CASE("prometheus text: a labelled family without cells has HELP and TYPE only") {
  metrics::registry r;
  r.counters("demo_later_total", "Nothing yet", {"kind"});
  CHECK(prometheus_text::render(r.collect()) == "# HELP demo_later_total Nothing yet\n# TYPE demo_later_total counter\n");
}

TEST_CASE("prometheus text: promtool check metrics accepts the output (awkward label values included)") {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    MESSAGE("promtool is not installed (Debian package prometheus; scripts/install-deps.sh): skipped");
    return;
  }
  metrics::registry r;
  auto& f = r.counters("demo_events_total", "Events with \"quotes\", back\\slashes\nand newlines", {"what"});
  f.with({"plain"}).inc();
  f.with({"quote\" backslash\\ newline\n end"}).inc(2);
  f.with({""}).inc();
  r.gauges("demo_level", "A level").with({}).set(5);
  r.histograms("demo_duration_seconds", "A duration", {"kind"}, {0.001, 0.1, 10}).with({"k"}).observe(0.05);
  r.counters("demo_empty_total", "No cells yet", {"kind"});
  const std::string path = "/tmp/cssh-prometheus-text-test-" + std::to_string(::getpid()) + ".txt";
  {
    std::ofstream out(path);
    out << prometheus_text::render(r.collect());
  }
  int rc = std::system(("promtool check metrics < " + path + " > " + path + ".out 2>&1").c_str());
  std::ifstream in(path + ".out");
  std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CAPTURE(report);
  CHECK(rc == 0);
  std::remove(path.c_str());
  std::remove((path + ".out").c_str());
}
