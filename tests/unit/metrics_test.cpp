// The Prometheus text writer (daemon/metrics) and the accounting family built from a report
// document: escaping, sample lines, histogram buckets, special values.
#include "common/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "daemon/metrics_sections.h"

namespace gridshift {
namespace {

TEST(MetricsWriter, EscapesBackslashQuoteAndNewlineInLabelValues) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(escape_label_value("plain-value_1"), "plain-value_1");
}

TEST(MetricsWriter, WritesHelpTypeAndLabelledSamples) {
  MetricsWriter out;
  out.family("gridshift_x", "Two lines\nand a \\ backslash.", "gauge");
  out.sample("gridshift_x", {{"region", "eu\"1"}, {"feed", "f"}}, 12.5);
  out.sample("gridshift_x", 3);
  EXPECT_EQ(out.text(),
            "# HELP gridshift_x Two lines\\nand a \\\\ backslash.\n"
            "# TYPE gridshift_x gauge\n"
            "gridshift_x{region=\"eu\\\"1\",feed=\"f\"} 12.5\n"
            "gridshift_x 3\n");
}

TEST(MetricsWriter, FormatsSpecialValuesAsPrometheusReadsThem) {
  EXPECT_EQ(format_metric_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_metric_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_metric_value(std::nan("")), "NaN");
  EXPECT_EQ(format_metric_value(0.25), "0.25");
  EXPECT_EQ(format_metric_value(1700000000), "1700000000");
}

TEST(Histogram, CountsCumulativelyAndWritesBucketsSumAndCount) {
  Histogram h({1.0, 0.125});  // unsorted on purpose: bounds are kept ascending
  h.observe(0.0625);
  h.observe(0.125);  // on a bound: counts in that bucket (le is "less or equal")
  h.observe(0.5);
  h.observe(2.0);
  ASSERT_EQ(h.upper_bounds(), (std::vector<double>{0.125, 1.0}));
  EXPECT_EQ(h.cumulative_counts(), (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(h.count(), 4u);
  EXPECT_DOUBLE_EQ(h.sum(), 2.6875);  // binary fractions: exact

  MetricsWriter out;
  out.histogram("gridshift_d_seconds", "Durations.", h, {{"kind", "a"}});
  EXPECT_EQ(out.text(),
            "# HELP gridshift_d_seconds Durations.\n"
            "# TYPE gridshift_d_seconds histogram\n"
            "gridshift_d_seconds_bucket{kind=\"a\",le=\"0.125\"} 2\n"
            "gridshift_d_seconds_bucket{kind=\"a\",le=\"1\"} 3\n"
            "gridshift_d_seconds_bucket{kind=\"a\",le=\"+Inf\"} 4\n"
            "gridshift_d_seconds_sum{kind=\"a\"} 2.6875\n"
            "gridshift_d_seconds_count{kind=\"a\"} 4\n");
}

TEST(Histogram, EmptyHistogramStillWritesEveryLine) {
  MetricsWriter out;
  out.histogram("gridshift_e_seconds", "Empty.", Histogram({0.5}));
  EXPECT_EQ(out.text(),
            "# HELP gridshift_e_seconds Empty.\n"
            "# TYPE gridshift_e_seconds histogram\n"
            "gridshift_e_seconds_bucket{le=\"0.5\"} 0\n"
            "gridshift_e_seconds_bucket{le=\"+Inf\"} 0\n"
            "gridshift_e_seconds_sum 0\n"
            "gridshift_e_seconds_count 0\n");
}

TEST(AccountingMetrics, OneSamplePerSignalFromTheReport) {
  const auto report = nlohmann::json::parse(R"({
    "emissions_g": 30, "baseline_g": 50, "saved_g": 20,
    "by_signal": {
      "average": {"emissions_g": 10, "baseline_g": 25, "saved_g": 15},
      "marginal": {"emissions_g": 20, "baseline_g": 25, "saved_g": 5}
    }})");
  const auto text = accounting_metrics(report);
  EXPECT_NE(text.find("# TYPE gridshift_emitted_grams gauge\n"), std::string::npos);
  EXPECT_NE(text.find("gridshift_emitted_grams{signal=\"average\"} 10\n"), std::string::npos);
  EXPECT_NE(text.find("gridshift_baseline_grams{signal=\"marginal\"} 25\n"), std::string::npos);
  EXPECT_NE(text.find("gridshift_saved_grams{signal=\"average\"} 15\n"), std::string::npos);
  EXPECT_NE(text.find("gridshift_saved_grams{signal=\"marginal\"} 5\n"), std::string::npos);
}

TEST(AccountingMetrics, NoAccountedJobsGivesFamiliesWithoutSamples) {
  const auto text = accounting_metrics(nlohmann::json::parse(R"({"by_signal": {}})"));
  EXPECT_NE(text.find("# TYPE gridshift_saved_grams gauge\n"), std::string::npos);
  EXPECT_EQ(text.find("gridshift_saved_grams{"), std::string::npos);
}

}  // namespace
}  // namespace gridshift
