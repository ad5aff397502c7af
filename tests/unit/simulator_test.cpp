#include "core/simulator.h"

#include <gtest/gtest.h>

#include "support/hourly_series.h"

namespace gridshift {
namespace {

const TimePoint kT0 = TimePoint{Seconds{1767225600}};
TimePoint hours(double h) {
  return kT0 + Seconds{static_cast<std::int64_t>(h * 3600)};
}

TraceSet trace(const std::map<std::string, std::vector<double>>& values) {
  TraceSet t;
  for (const auto& [region, v] : values) {
    t.regions.push_back(region);
    t.series[region] = testing::hourly_points(kT0, v);
  }
  return t;
}

SimulationJob sim_job(std::string name, TimePoint submit, std::vector<std::string> regions,
                      double duration_h, double deadline_h) {
  SimulationJob j;
  j.name = name;
  j.submit_at = submit;
  j.job.id = std::move(name);
  j.job.regions = std::move(regions);
  j.job.duration = Seconds{static_cast<std::int64_t>(duration_h * 3600)};
  j.job.deadline = hours(deadline_h);
  j.job.power_watts = 1000;
  return j;
}

SimulationOptions hourly_options() {
  SimulationOptions o;
  o.tick = Seconds{3600};
  o.planner.dispatch_slack = Seconds{0};
  return o;
}

// Actuals: the real clean hours are 06:00-08:00. The forecast wrongly promises 03:00-05:00.
const std::vector<double> kActual = {400, 400, 400, 300, 300, 400, 100, 100, 400, 400, 400, 400};
const std::vector<double> kForecast = {400, 400, 400, 50, 50, 400, 150, 150, 400, 400, 400, 400};

TEST(Simulator, AnAlternativeThatEmitsLessRunsWithItsOwnLengthAndPower) {
  // Main: 4 h x 1 kW, best [6,10) = (100 + 100 + 400 + 400) / 4 = 250 g/kWh: 1,000 g.
  // Alternative: 2 h x 1.5 kW, best [6,8) at 100: 300 g. The alternative runs.
  const auto actuals = trace({{"A", kActual}});
  std::vector<SimulationJob> jobs = {sim_job("j", kT0, {"A"}, 4, 12)};
  jobs[0].job.alternatives.push_back(PlannerAlternative{1, Seconds{2 * 3600}, 1500, {"A"}});
  auto r = simulate(actuals, nullptr, jobs, hourly_options());
  ASSERT_TRUE(r) << to_string(r.error());
  const auto& j = r->jobs[0];
  EXPECT_EQ(j.alternative, 1);
  EXPECT_EQ(j.start, hours(6));
  EXPECT_EQ(j.end, hours(8));
  EXPECT_DOUBLE_EQ(*j.accounting.actual_g, 300);     // 1.5 kW x 2 h x 100
  EXPECT_DOUBLE_EQ(*j.accounting.baseline_g, 1200);  // the same hardware at submission: x 400
}

TEST(Simulator, PerfectForecastRunsInTheHindsightOptimum) {
  const auto actuals = trace({{"A", kActual}});
  const std::vector<SimulationJob> jobs = {sim_job("j", kT0, {"A"}, 2, 10)};
  auto r = simulate(actuals, nullptr, jobs, hourly_options());
  ASSERT_TRUE(r) << to_string(r.error());
  ASSERT_EQ(r->jobs.size(), 1u);
  const auto& j = r->jobs[0];
  EXPECT_EQ(j.region, "A");
  EXPECT_EQ(j.start, hours(6));
  EXPECT_EQ(j.end, hours(8));
  EXPECT_DOUBLE_EQ(*j.accounting.actual_g, 200);    // 1 kW x 2 h x 100
  EXPECT_DOUBLE_EQ(*j.accounting.baseline_g, 800);  // at submission: 2 h x 400
  EXPECT_DOUBLE_EQ(*j.accounting.oracle_g, 200);
  EXPECT_DOUBLE_EQ(r->totals.savings, 0.75);
  EXPECT_DOUBLE_EQ(r->totals.regret, 0);
}

TEST(Simulator, ReplanningWithTheLatestActualsCorrectsAWrongForecast) {
  // At 03:00 the actual (300) replaces the forecast (50): [03,05) now scores 175 and [06,08)
  // on forecast 150 wins, so the job holds and runs at 06:00 instead of 03:00 (600 g).
  const auto actuals = trace({{"A", kActual}});
  const auto forecast = trace({{"A", kForecast}});
  const std::vector<SimulationJob> jobs = {sim_job("j", kT0, {"A"}, 2, 10)};
  auto r = simulate(actuals, &forecast, jobs, hourly_options());
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->jobs[0].start, hours(6));
  EXPECT_DOUBLE_EQ(*r->jobs[0].accounting.planned_g, 250);  // 2 h x (100 + 150) / 2
  EXPECT_DOUBLE_EQ(r->totals.emissions_g, 200);
  EXPECT_GT(r->plans, 6u);
}

TEST(Simulator, ChoosesTheCleanerPlaceAndHonoursTheRegionCap) {
  const auto actuals = trace({{"A", kActual}, {"B", std::vector<double>(12, 250)}});
  auto options = hourly_options();
  options.planner.max_concurrent_dispatches = 1;
  const std::vector<SimulationJob> jobs = {sim_job("first", kT0, {"A"}, 2, 12),
                                           sim_job("second", kT0, {"A"}, 2, 12),
                                           sim_job("placed", kT0, {"B", "A"}, 2, 12)};
  auto r = simulate(actuals, nullptr, jobs, options);
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->jobs[0].start, hours(6));
  // A is full from 06:00 to 08:00: "second" waits; at 08:00 every window is 400, it runs.
  EXPECT_GE(r->jobs[1].start, r->jobs[0].end);
  EXPECT_EQ(r->jobs[1].start, hours(8));
  // "placed" may use A or B; B (250) beats A's windows once A is capped, but its baseline is B.
  EXPECT_DOUBLE_EQ(*r->jobs[2].accounting.baseline_g, 500);
  EXPECT_LE(*r->jobs[2].accounting.actual_g, 500);
}

TEST(Simulator, NoiseIsSeededAndZeroNoiseIsThePerfectForecast) {
  std::vector<double> values;
  for (int i = 0; i < 72; ++i)
    values.push_back(200 + 100 * ((i * 7) % 11));
  const auto actuals = trace({{"A", values}});
  std::vector<SimulationJob> jobs;
  for (int i = 0; i < 10; ++i) {
    jobs.push_back(sim_job("j" + std::to_string(i), hours(i * 3), {"A"}, 3, i * 3 + 30));
  }
  auto options = hourly_options();
  auto perfect = simulate(actuals, nullptr, jobs, options);
  options.forecast_noise = 0.3;
  options.seed = 7;
  auto a = simulate(actuals, nullptr, jobs, options);
  auto b = simulate(actuals, nullptr, jobs, options);
  ASSERT_TRUE(perfect && a && b);
  EXPECT_DOUBLE_EQ(a->totals.emissions_g, b->totals.emissions_g);
  EXPECT_NEAR(perfect->totals.regret, 0, 1e-12);
  EXPECT_GE(a->totals.emissions_g, perfect->totals.emissions_g);
}

TEST(Simulator, JobsOutsideTheTraceAreErrorsNamingTheField) {
  const auto actuals = trace({{"A", kActual}});
  const std::vector<SimulationJob> jobs = {sim_job("ok", kT0, {"A"}, 1, 5),
                                           sim_job("x", kT0, {"Z"}, 1, 5),
                                           sim_job("late", kT0, {"A"}, 1, 13)};
  auto r = simulate(actuals, nullptr, jobs, hourly_options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_simulation");
  ASSERT_EQ(r.error().details.size(), 2u);
  EXPECT_EQ(r.error().details[0].field, "jobs[1].regions[0]");
  EXPECT_EQ(r.error().details[1].field, "jobs[2].deadline");
}

}  // namespace
}  // namespace gridshift
