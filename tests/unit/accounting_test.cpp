#include "core/accounting.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/hourly_series.h"

namespace gridshift {
namespace {

const TimePoint kT0 = TimePoint{Seconds{1767225600}};
TimePoint hours(double h) {
  return kT0 + Seconds{static_cast<std::int64_t>(h * 3600)};
}

RegionSeries hourly(std::string region, std::vector<double> values, double pue) {
  return testing::hourly_series(std::move(region), kT0, values, pue);
}

TEST(Accounting, EmissionsArePowerTimesHoursTimesScore) {
  // 500 W for 2 h at 200 g/kWh x PUE 1.1 (score 220): 0.5 kW x 2 h x 220 = 220 g.
  EXPECT_DOUBLE_EQ(emissions_g(500, Seconds{7200}, 220), 220);
}

TEST(Accounting, BaselinePlannedActualOracleSavingsRegret) {
  // a (PUE 1.0): 400 400 200 100 300; b (PUE 2.0): 100 100 100 100 100 (score 200).
  const PlanningContext observed(
      {hourly("a", {400, 400, 200, 100, 300}, 1.0), hourly("b", {100, 100, 100, 100, 100}, 2.0)});
  AccountingInput in;
  in.job.id = "j";
  in.job.regions = {"a", "b"};
  in.job.duration = Seconds{3600};
  in.job.deadline = hours(5);
  in.job.power_watts = 1000;
  in.submitted_at = kT0;
  in.region = "a";
  in.planned_score = 150;
  in.started_at = hours(2);
  in.finished_at = hours(3);
  PlannerSettings st;
  st.dispatch_slack = Seconds{0};
  const auto a = account_job(in, observed, st);
  EXPECT_EQ(a.region, "a");
  EXPECT_EQ(a.signal, SignalType::average);
  EXPECT_DOUBLE_EQ(*a.baseline_g, 400);  // 1 kW x 1 h x 400 (a at submission)
  EXPECT_DOUBLE_EQ(*a.planned_g, 150);
  EXPECT_DOUBLE_EQ(*a.actual_g, 200);
  EXPECT_DOUBLE_EQ(*a.oracle_g, 100);  // a at 03:00
  EXPECT_DOUBLE_EQ(*a.savings, 0.5);
  EXPECT_DOUBLE_EQ(*a.regret, 1.0);

  // A real run that overran by half an hour: 0.5 h at 200 + 0.5 h at 100 more.
  in.finished_at = hours(3.5);
  const auto late = account_job(in, observed, st);
  EXPECT_DOUBLE_EQ(*late.actual_g, 250);

  const auto j = nlohmann::json::parse(accounting_to_json(a));
  EXPECT_EQ(j["signal"], "average");
  EXPECT_DOUBLE_EQ(j["actual_g"].get<double>(), 200);
  EXPECT_DOUBLE_EQ(j["regret"].get<double>(), 1.0);
}

TEST(Accounting, MissingReadingsLeaveFiguresUnknown) {
  const PlanningContext observed({hourly("a", {400, 400}, 1.0)});
  AccountingInput in;
  in.job.regions = {"z", "a"};
  in.job.duration = Seconds{3600};
  in.job.deadline = hours(2);
  in.job.power_watts = 1000;
  in.submitted_at = kT0;
  in.region = "a";
  in.started_at = hours(1.5);
  in.finished_at = hours(2.5);  // past the observed data
  const auto a = account_job(in, observed, PlannerSettings{Seconds{0}, 0.02, 8, Seconds{10800}});
  EXPECT_FALSE(a.baseline_g.has_value());  // z has no readings
  EXPECT_FALSE(a.actual_g.has_value());
  EXPECT_FALSE(a.planned_g.has_value());
  EXPECT_TRUE(a.oracle_g.has_value());
  EXPECT_FALSE(a.savings.has_value());
  EXPECT_FALSE(a.regret.has_value());
  const auto j = nlohmann::json::parse(accounting_to_json(a));
  EXPECT_TRUE(j["actual_g"].is_null());
  EXPECT_TRUE(j["savings"].is_null());
}

}  // namespace
}  // namespace gridshift
