#pragma once
// A metrics registry: counters, gauges and histograms, each in a family that may have labels.
// common/prometheus_text.hpp renders what collect() returns.
//
// The hot path (inc, add, observe) is one to three relaxed atomic operations on a cell. Finding
// a labelled cell (family::with) takes the family's mutex, so callers look a cell up once and
// keep the reference: cells live as long as their registry and never move.
//
// Misuse (an invalid name, the same name registered with another type or other labels, the
// wrong number of label values) is a programming error and throws std::logic_error.

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace cssh::metrics {

enum class metric_type { counter, gauge, histogram };

std::string_view type_name(metric_type t);

/// Only goes up: there is no operation that lowers or resets it, so a scrape never sees it
/// go backwards while the process lives.
class counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down (connections open, actors alive, mailbox depth).
class gauge {
 public:
  void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
  void inc() noexcept { add(1); }
  void dec() noexcept { add(-1); }
  /// Raises the value to `v` if it is lower: a high-water mark.
  void raise_to(std::int64_t v) noexcept;
  std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

/// Observations counted into buckets with fixed upper bounds (Prometheus' `le`, inclusive);
/// everything above the last bound goes to the implicit +Inf bucket.
class histogram {
 public:
  /// `upper_bounds` must be finite and strictly increasing.
  explicit histogram(std::vector<double> upper_bounds);
  /// NaN is ignored (it would poison the sum).
  void observe(double value) noexcept;

  struct reading {
    /// Cumulative counts, one per bound and a last one for +Inf (which is the total count).
    std::vector<std::uint64_t> cumulative;
    double sum = 0;
  };
  reading read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  /// Per-bucket (not cumulative) counts, bounds_.size() + 1 of them.
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// --- what a scrape sees -----------------------------------------------------------------

struct sample {
  std::vector<std::string> label_values;
  double value = 0;
};

struct histogram_sample {
  std::vector<std::string> label_values;
  histogram::reading reading;
};

struct family_snapshot {
  std::string name;
  std::string help;
  metric_type type = metric_type::counter;
  std::vector<std::string> label_names;
  std::vector<double> bounds;                // histograms only
  std::vector<sample> samples;               // counters and gauges, ordered by label values
  std::vector<histogram_sample> histograms;  // histograms, ordered by label values
};

// --- families -----------------------------------------------------------------------------

class family_base {
 public:
  family_base(std::string name, std::string help, metric_type type, std::vector<std::string> label_names);
  virtual ~family_base() = default;
  family_base(const family_base&) = delete;
  family_base& operator=(const family_base&) = delete;

  const std::string& name() const { return name_; }
  metric_type type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  virtual family_snapshot collect() const = 0;

 protected:
  family_snapshot header() const;
  /// Throws std::logic_error unless there is one value per label name.
  void check_arity(std::size_t values) const;

 private:
  std::string name_;
  std::string help_;
  metric_type type_;
  std::vector<std::string> label_names_;
};

/// The cells of one metric, one per combination of label values. A family without labels has
/// one cell, `with({})`.
template <class Cell>
class family final : public family_base {
 public:
  family(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds = {});

  /// The cell for these label values (in label_names() order), created at 0 on first use.
  Cell& with(std::initializer_list<std::string_view> values);
  Cell& with(const std::vector<std::string>& values);
  const std::vector<double>& bounds() const { return bounds_; }
  family_snapshot collect() const override;

 private:
  Cell& find_or_create(std::vector<std::string> key);

  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Cell>> cells_;
};

using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;

// --- the registry -------------------------------------------------------------------------

/// Owns families in registration order. Registering a name again returns the existing family
/// when type, labels (and bounds) agree, so independent modules may declare the same metric.
class registry {
 public:
  counter_family& counters(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  gauge_family& gauges(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  histogram_family& histograms(const std::string& name, const std::string& help, std::vector<std::string> labels,
                               std::vector<double> bounds);

  /// A consistent-enough view for one scrape: every cell is read once, without stopping writers.
  std::vector<family_snapshot> collect() const;

 private:
  template <class Cell>
  family<Cell>& add(const std::string& name, const std::string& help, metric_type type,
                    std::vector<std::string> labels, std::vector<double> bounds);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<family_base>> families_;
};

/// The process-wide registry the server exports on /metrics.
registry& default_registry();

/// Prometheus' rules: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
/// and not starting with "__".
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace cssh::metrics
