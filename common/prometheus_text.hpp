#pragma once
// The Prometheus text exposition format, version 0.0.4 (what `promtool check metrics` reads):
//
//   # HELP name help text
//   # TYPE name counter|gauge|histogram
//   name{label="value",...} 42
//   name_bucket{le="0.5"} 3 ... name_bucket{le="+Inf"} 4, name_sum 1.25, name_count 4
//
// Pure functions from a registry snapshot to bytes; no sockets here.

#include <string>
#include <string_view>
#include <vector>

#include "common/metrics.hpp"

namespace cssh::prometheus_text {

/// The Content-Type of render()'s output.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Every family in order: HELP, TYPE, then its samples. A labelled family that has no cells yet
/// is written with HELP and TYPE only.
std::string render(const std::vector<metrics::family_snapshot>& families);

/// A label value between double quotes: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);
/// HELP text: backslash and newline escaped (double quotes stay as they are).
std::string escape_help(std::string_view text);
/// A sample value: integers without a decimal point, others in the shortest form that reads
/// back the same, and "+Inf", "-Inf", "NaN".
std::string format_value(double value);

}  // namespace cssh::prometheus_text
