#include "common/prometheus_text.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace cssh::prometheus_text {
namespace {

/// `{a="1",b="2"}`, with `extra` (the histogram's le) last; "" when there are no labels.
std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
  return out;
}

void line(std::string& out, std::string_view name, std::string_view suffix, const std::string& labels,
          const std::string& value) {
  out += name;
  out += suffix;
  out += labels;
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Whole numbers up to 2^53 are exact in a double: print them as integers.
  if (std::fabs(value) < 9007199254740992.0 && value == std::trunc(value)) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc{}) return "NaN";
  return std::string(buf, end);
}

std::string render(const std::vector<metrics::family_snapshot>& families) {
  std::string out;
  for (const auto& f : families) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    out += escape_help(f.help);
    out += '\n';
    out += "# TYPE ";
    out += f.name;
    out += ' ';
    out += metrics::type_name(f.type);
    out += '\n';
    for (const auto& s : f.samples) line(out, f.name, "", label_set(f.label_names, s.label_values), format_value(s.value));
    for (const auto& h : f.histograms) {
      const auto& cumulative = h.reading.cumulative;
      for (std::size_t i = 0; i < f.bounds.size() && i < cumulative.size(); ++i) {
        line(out, f.name, "_bucket", label_set(f.label_names, h.label_values, "le", format_value(f.bounds[i])),
             format_value(static_cast<double>(cumulative[i])));
      }
      const std::uint64_t count = cumulative.empty() ? 0 : cumulative.back();
      line(out, f.name, "_bucket", label_set(f.label_names, h.label_values, "le", "+Inf"),
           format_value(static_cast<double>(count)));
      const std::string labels = label_set(f.label_names, h.label_values);
      line(out, f.name, "_sum", labels, format_value(h.reading.sum));
      line(out, f.name, "_count", labels, format_value(static_cast<double>(count)));
    }
  }
  return out;
}

}  // namespace cssh::prometheus_text
