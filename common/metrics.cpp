#include "common/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

namespace cssh::metrics {

std::string_view type_name(metric_type t) {
  switch (t) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
  }
  return "untyped";
}

void gauge::raise_to(std::int64_t v) noexcept {
  auto current = value_.load(std::memory_order_relaxed);
  while (current < v && !value_.compare_exchange_weak(current, v, std::memory_order_relaxed)) {
  }
}

histogram::histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1]))
      throw std::logic_error("histogram bounds must be finite and strictly increasing");
  }
  counts_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double value) noexcept {
  if (std::isnan(value)) return;
  // `le` is inclusive: the first bound not below the value.
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  counts_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

histogram::reading histogram::read() const {
  reading r;
  r.cumulative.resize(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    r.cumulative[i] = running;
  }
  r.sum = sum_.load(std::memory_order_relaxed);
  return r;
}

// --- families -----------------------------------------------------------------------------

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

family_base::family_base(std::string name, std::string help, metric_type type, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {
  if (!valid_metric_name(name_)) throw std::logic_error("invalid metric name \"" + name_ + "\"");
  for (const auto& label : label_names_) {
    if (!valid_label_name(label)) throw std::logic_error("metric " + name_ + ": invalid label name \"" + label + "\"");
    if (type_ == metric_type::histogram && label == "le")
      throw std::logic_error("metric " + name_ + ": a histogram cannot have a label named \"le\"");
  }
}

family_snapshot family_base::header() const {
  family_snapshot s;
  s.name = name_;
  s.help = help_;
  s.type = type_;
  s.label_names = label_names_;
  return s;
}

void family_base::check_arity(std::size_t values) const {
  if (values != label_names_.size())
    throw std::logic_error("metric " + name_ + ": " + std::to_string(label_names_.size()) + " label values expected, got " +
                           std::to_string(values));
}

namespace {

template <class Cell>
std::unique_ptr<Cell> make_cell(const std::vector<double>&) {
  return std::make_unique<Cell>();
}

template <>
std::unique_ptr<histogram> make_cell<histogram>(const std::vector<double>& bounds) {
  return std::make_unique<histogram>(bounds);
}

template <class Cell>
constexpr metric_type type_of();
template <>
constexpr metric_type type_of<counter>() { return metric_type::counter; }
template <>
constexpr metric_type type_of<gauge>() { return metric_type::gauge; }
template <>
constexpr metric_type type_of<histogram>() { return metric_type::histogram; }

void add_reading(family_snapshot& s, const std::vector<std::string>& labels, const counter& c) {
  s.samples.push_back({labels, static_cast<double>(c.value())});
}
void add_reading(family_snapshot& s, const std::vector<std::string>& labels, const gauge& g) {
  s.samples.push_back({labels, static_cast<double>(g.value())});
}
void add_reading(family_snapshot& s, const std::vector<std::string>& labels, const histogram& h) {
  s.histograms.push_back({labels, h.read()});
}

}  // namespace

template <class Cell>
family<Cell>::family(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds)
    : family_base(std::move(name), std::move(help), type_of<Cell>(), std::move(label_names)),
      bounds_(std::move(bounds)) {
  if constexpr (std::is_same_v<Cell, histogram>) (void)histogram{bounds_};  // validates the bounds now, not at first use
  // A family without labels exposes its one cell (at 0) from the start.
  if (this->label_names().empty()) find_or_create({});
}

template <class Cell>
Cell& family<Cell>::with(std::initializer_list<std::string_view> values) {
  check_arity(values.size());
  return find_or_create(std::vector<std::string>(values.begin(), values.end()));
}

template <class Cell>
Cell& family<Cell>::with(const std::vector<std::string>& values) {
  check_arity(values.size());
  return find_or_create(values);
}

template <class Cell>
Cell& family<Cell>::find_or_create(std::vector<std::string> key) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = cells_.find(key);
  if (it == cells_.end()) it = cells_.emplace(std::move(key), make_cell<Cell>(bounds_)).first;
  return *it->second;
}

template <class Cell>
family_snapshot family<Cell>::collect() const {
  family_snapshot s = header();
  s.bounds = bounds_;
  std::lock_guard<std::mutex> guard(mutex_);
  for (const auto& [labels, cell] : cells_) add_reading(s, labels, *cell);
  return s;
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

// --- the registry -------------------------------------------------------------------------

template <class Cell>
family<Cell>& registry::add(const std::string& name, const std::string& help, metric_type type,
                            std::vector<std::string> labels, std::vector<double> bounds) {
  std::lock_guard<std::mutex> guard(mutex_);
  for (auto& f : families_) {
    if (f->name() != name) continue;
    auto* same = dynamic_cast<family<Cell>*>(f.get());
    if (!same || f->type() != type || f->label_names() != labels || same->bounds() != bounds)
      throw std::logic_error("metric " + name + " is already registered with another type, labels or buckets");
    return *same;
  }
  auto made = std::make_unique<family<Cell>>(name, help, std::move(labels), std::move(bounds));
  auto& ref = *made;
  families_.push_back(std::move(made));
  return ref;
}

counter_family& registry::counters(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return add<counter>(name, help, metric_type::counter, std::move(labels), {});
}

gauge_family& registry::gauges(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  return add<gauge>(name, help, metric_type::gauge, std::move(labels), {});
}

histogram_family& registry::histograms(const std::string& name, const std::string& help,
                                       std::vector<std::string> labels, std::vector<double> bounds) {
  return add<histogram>(name, help, metric_type::histogram, std::move(labels), std::move(bounds));
}

std::vector<family_snapshot> registry::collect() const {
  std::vector<family_snapshot> out;
  std::lock_guard<std::mutex> guard(mutex_);
  out.reserve(families_.size());
  for (const auto& f : families_) out.push_back(f->collect());
  return out;
}

registry& default_registry() {
  // Never destroyed: threads that outlive main (detached session threads) may still count.
  static registry* instance = new registry;
  return *instance;
}

}  // namespace cssh::metrics
