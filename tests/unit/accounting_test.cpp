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

AccountingInput two_hour_job_run(double from_h, double to_h) {
  AccountingInput in;
  in.job.id = "j";
  in.job.regions = {"a"};
  in.job.duration = Seconds{7200};  // declared: 2 h
  in.job.deadline = hours(6);
  in.job.power_watts = 1000;
  in.submitted_at = kT0;
  in.region = "a";
  in.planned_score = 100;
  in.started_at = hours(from_h);
  in.finished_at = hours(to_h);
  return in;
}

PlannerSettings no_slack() {
  PlannerSettings st;
  st.dispatch_slack = Seconds{0};
  return st;
}

TEST(Accounting, EveryFigureCoversTheRealRunLength) {
  // Declared 2 h, ran 1 h (03:00-04:00). a: 400 300 200 100 500 600.
  const PlanningContext observed({hourly("a", {400, 300, 200, 100, 500, 600}, 1.0)});
  const auto a = account_job(two_hour_job_run(3, 4), observed, no_slack());
  EXPECT_EQ(a.run, Seconds{3600});
  EXPECT_DOUBLE_EQ(*a.actual_g, 100);    // 1 kW x 1 h x 100
  EXPECT_DOUBLE_EQ(*a.baseline_g, 400);  // 1 h from submission, not 2 h (700)
  EXPECT_DOUBLE_EQ(*a.oracle_g, 100);    // best 1-h window before the deadline
  EXPECT_DOUBLE_EQ(*a.planned_g, 100);   // planned score over 1 h
  EXPECT_DOUBLE_EQ(*a.savings, 0.75);
  EXPECT_DOUBLE_EQ(*a.regret, 0.0);
  const auto j = nlohmann::json::parse(accounting_to_json(a));
  EXPECT_EQ(j["run_seconds"], 3600);
  EXPECT_EQ(j["outcome"], "succeeded");
}

TEST(Accounting, AFailedJobCountsItsEmissionsButNeverSavings) {
  // Failed after 1 s at 400 g/kWh: 1 kW x 1/3600 h x 400 = 0.111 g, no baseline, no savings.
  const PlanningContext observed({hourly("a", {400, 300, 200, 100, 500, 600}, 1.0)});
  auto in = two_hour_job_run(0, 1.0 / 3600.0);
  in.outcome = JobOutcome::failed;
  const auto a = account_job(in, observed, no_slack());
  EXPECT_NEAR(*a.actual_g, 400.0 / 3600.0, 1e-9);
  EXPECT_FALSE(a.baseline_g.has_value());
  EXPECT_FALSE(a.oracle_g.has_value());
  EXPECT_FALSE(a.savings.has_value());
  EXPECT_FALSE(a.regret.has_value());
  EXPECT_FALSE(a.incomplete());
  in.outcome = JobOutcome::cancelled;
  const auto c = account_job(in, observed, no_slack());
  EXPECT_FALSE(c.savings.has_value());
  EXPECT_EQ(nlohmann::json::parse(accounting_to_json(c))["outcome"], "cancelled");
}

TEST(Accounting, LateReadingsCompleteTheFigures) {
  // The run 02:00-04:00 when only 3 hours were observed: actual unknown, incomplete.
  auto in = two_hour_job_run(2, 4);
  const auto early =
      account_job(in, PlanningContext({hourly("a", {400, 300, 200}, 1.0)}), no_slack());
  EXPECT_FALSE(early.actual_g.has_value());
  EXPECT_TRUE(early.incomplete());
  // The readings arrive: 200 + 100 over the run = 300 g; baseline 400 + 300 = 700 g.
  const auto later = account_job(
      in, PlanningContext({hourly("a", {400, 300, 200, 100, 500, 600}, 1.0)}), no_slack());
  EXPECT_FALSE(later.incomplete());
  EXPECT_DOUBLE_EQ(*later.actual_g, 300);
  EXPECT_DOUBLE_EQ(*later.baseline_g, 700);
  EXPECT_NEAR(*later.savings, 1.0 - 300.0 / 700.0, 1e-12);
}

TEST(Accounting, TheStoredFormReadsBack) {
  const PlanningContext observed({hourly("a", {400, 300, 200, 100, 500, 600}, 1.0)});
  auto in = two_hour_job_run(0, 0.5);
  in.outcome = JobOutcome::failed;
  const auto failed = account_job(in, observed, no_slack());
  EXPECT_EQ(accounting_from_json(accounting_to_json(failed)), failed);
  const auto done = account_job(two_hour_job_run(3, 4), observed, no_slack());
  EXPECT_EQ(accounting_from_json(accounting_to_json(done)), done);
  // Before outcomes and run lengths were stored: a succeeded run of length 0.
  const auto legacy = accounting_from_json(R"({"actual_g": 5, "planned_score": 3})");
  ASSERT_TRUE(legacy);
  EXPECT_EQ(legacy->outcome, JobOutcome::succeeded);
  EXPECT_EQ(legacy->run, Seconds{0});
  EXPECT_FALSE(legacy->incomplete());
  EXPECT_TRUE(accounting_from_json(R"({"actual_g": null})")->incomplete());
  EXPECT_FALSE(accounting_from_json("").has_value());
  EXPECT_FALSE(accounting_from_json("[1]").has_value());
}

TEST(Accounting, AJobsRecordIsTypedAndOnlyItsStoredFormIsJson) {
  Job job;
  EXPECT_EQ(job_accounting_to_json(job), "");  // nothing to keep yet
  job.excluded = {Exclusion{"europe-west9", "no fresh data"}};
  Job held;
  job_accounting_from_json(job_accounting_to_json(job), held);
  EXPECT_EQ(held.excluded, job.excluded);
  EXPECT_FALSE(held.accounting.has_value());  // exclusions alone are no accounting

  const PlanningContext observed({hourly("a", {400, 300, 200, 100, 500, 600}, 1.0)});
  job.planned_score = 150;
  job.accounting = account_job(two_hour_job_run(3, 4), observed, no_slack());
  Job ended;
  job_accounting_from_json(job_accounting_to_json(job), ended);
  EXPECT_EQ(ended.planned_score, job.planned_score);
  EXPECT_EQ(ended.excluded, job.excluded);
  EXPECT_EQ(ended.accounting, job.accounting);

  // Text that is not an object leaves nothing behind.
  job_accounting_from_json("[1]", ended);
  EXPECT_FALSE(ended.planned_score || ended.accounting || !ended.excluded.empty());
}

TEST(Accounting, SmallFiguresKeepADecimal) {
  EXPECT_EQ(format_grams(0.4), "0.4 g");
  EXPECT_EQ(format_grams(2.6), "2.6 g");
  EXPECT_EQ(format_grams(9.94), "9.9 g");
  EXPECT_EQ(format_grams(12.4), "12 g");
  EXPECT_EQ(format_grams(1930), "1.93 kg");
}

}  // namespace
}  // namespace gridshift

namespace gridshift {
namespace {

TEST(Accounting, AnInterruptibleJobSumsItsSegments) {
  // a: 400 100 400 100 400 400; the job ran 01-02 and 03-04 (2 h of work, two segments).
  const PlanningContext observed({hourly("a", {400, 100, 400, 100, 400, 400}, 1.0)});
  AccountingInput in;
  in.job.id = "j";
  in.job.regions = {"a"};
  in.job.duration = Seconds{7200};
  in.job.deadline = hours(6);
  in.job.power_watts = 1000;
  in.submitted_at = kT0;
  in.region = "a";
  in.planned_score = 100;
  in.started_at = hours(1);
  in.finished_at = hours(4);
  in.segments = {{hours(1), hours(2)}, {hours(3), hours(4)}};
  in.segment_rules = SegmentRules{2, Seconds{3600}, Seconds{0}};
  PlannerSettings st;
  st.dispatch_slack = Seconds{0};
  const auto a = account_job(in, observed, st);
  EXPECT_EQ(a.run, Seconds{7200});  // the segments, not 01-04
  EXPECT_EQ(a.segments, 2);
  EXPECT_DOUBLE_EQ(*a.actual_g, 200);    // 1 kW x (1 h x 100 + 1 h x 100)
  EXPECT_DOUBLE_EQ(*a.baseline_g, 500);  // 2 h from submission: 400 + 100
  EXPECT_DOUBLE_EQ(*a.planned_g, 200);
  EXPECT_DOUBLE_EQ(*a.oracle_g, 500);           // the best single 2 h block
  EXPECT_DOUBLE_EQ(*a.oracle_segments_g, 200);  // the best two segments
  EXPECT_DOUBLE_EQ(*a.regret, 0.0);             // against the job's own kind of optimum
  EXPECT_DOUBLE_EQ(*a.savings, 0.6);
  const auto j = nlohmann::json::parse(accounting_to_json(a));
  EXPECT_EQ(j["segments"], 2);
  EXPECT_DOUBLE_EQ(j["oracle_segments_g"].get<double>(), 200);
  EXPECT_EQ(accounting_from_json(accounting_to_json(a)), a);
}

}  // namespace
}  // namespace gridshift
