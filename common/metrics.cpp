#include "common/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace gridshift {
namespace {

// HELP text escapes backslash and newline; label values also escape the double quote.
std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

void append_labels(std::string& out, const MetricLabels& labels) {
  if (labels.empty()) return;
  out += '{';
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first;
    out += "=\"";
    out += escape_label_value(labels[i].second);
    out += '"';
  }
  out += '}';
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  return escape(value, true);
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size(), 0) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double value) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) ++counts_[i];
  }
  sum_ += value;
  ++count_;
}

void MetricsWriter::family(std::string_view name, std::string_view help, std::string_view type) {
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape(help, false), name, type);
}

void MetricsWriter::sample(std::string_view name, const MetricLabels& labels, double value) {
  out_ += name;
  append_labels(out_, labels);
  out_ += ' ';
  out_ += format_metric_value(value);
  out_ += '\n';
}

void MetricsWriter::histogram(std::string_view name, std::string_view help,
                              const Histogram& histogram, const MetricLabels& labels) {
  family(name, help, "histogram");
  const std::string bucket = fmt::format("{}_bucket", name);
  MetricLabels with_le = labels;
  with_le.emplace_back("le", "");
  for (std::size_t i = 0; i < histogram.upper_bounds().size(); ++i) {
    with_le.back().second = format_metric_value(histogram.upper_bounds()[i]);
    sample(bucket, with_le, static_cast<double>(histogram.cumulative_counts()[i]));
  }
  with_le.back().second = "+Inf";
  sample(bucket, with_le, static_cast<double>(histogram.count()));
  sample(fmt::format("{}_sum", name), labels, histogram.sum());
  sample(fmt::format("{}_count", name), labels, static_cast<double>(histogram.count()));
}

}  // namespace gridshift
