// Prometheus text exposition (format 0.0.4) for /metrics: a writer that emits each family's
// HELP and TYPE once, samples with escaped label values, and a fixed-bucket histogram. Pure
// (no I/O, no clock); a Histogram is owned by the subsystem that observes into it and is used
// on the daemon's io_context thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gridshift {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A label value escaped for the text format: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);
// A sample value as Prometheus reads it ("+Inf", "-Inf", "NaN" for the special values).
std::string format_metric_value(double value);

// Cumulative histogram with fixed upper bounds (seconds or any unit); +Inf is implicit.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);

  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Observations <= upper_bounds()[i] (cumulative), one per bound.
  const std::vector<std::uint64_t>& cumulative_counts() const { return counts_; }
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

class MetricsWriter {
 public:
  // Starts a family: "# HELP name help" and "# TYPE name type" (gauge, counter, histogram).
  void family(std::string_view name, std::string_view help, std::string_view type);
  void sample(std::string_view name, const MetricLabels& labels, double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }
  // A whole histogram family: HELP, TYPE, the _bucket lines (with le), _sum and _count.
  void histogram(std::string_view name, std::string_view help, const Histogram& histogram,
                 const MetricLabels& labels = {});

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace gridshift
