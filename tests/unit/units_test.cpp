// Tests for unit conversions and the text forms of small enums (core/units.h, reading.h, job.h,
// dispatch_journal.h).
#include "core/units.h"

#include <gtest/gtest.h>

#include "core/job.h"
#include "core/ports/dispatch_journal.h"
#include "core/reading.h"

namespace gridshift {
namespace {

TEST(Units, LbsPerMwhToGramsPerKwh) {
  // 1000 lb/MWh = 453 592 g / 1000 kWh = 453.592 g/kWh.
  EXPECT_DOUBLE_EQ(lbs_per_mwh_to_g_per_kwh(1000.0), 453.592);
  EXPECT_DOUBLE_EQ(lbs_per_mwh_to_g_per_kwh(1.0), 0.453592);
  EXPECT_DOUBLE_EQ(lbs_per_mwh_to_g_per_kwh(0.0), 0.0);
  // 900 lb/MWh = 408.2328 g/kWh.
  EXPECT_NEAR(lbs_per_mwh_to_g_per_kwh(900.0), 408.2328, 1e-9);
}

TEST(Units, GramsPerKwhToLbsPerMwh) {
  EXPECT_NEAR(g_per_kwh_to_lbs_per_mwh(453.592), 1000.0, 1e-9);
  EXPECT_NEAR(g_per_kwh_to_lbs_per_mwh(lbs_per_mwh_to_g_per_kwh(1234.5)), 1234.5, 1e-9);
}

TEST(Units, EnergyKwh) {
  // 900 W for 4 h at PUE 1.1 = 0.9 kW x 4 h x 1.1 = 3.96 kWh.
  EXPECT_NEAR(energy_kwh(900.0, 4.0, 1.1), 3.96, 1e-12);
  EXPECT_DOUBLE_EQ(energy_kwh(1000.0, 1.0, 1.0), 1.0);
}

TEST(Units, SignalTypeText) {
  EXPECT_EQ(to_string(SignalType::average), "average");
  EXPECT_EQ(to_string(SignalType::marginal), "marginal");
  EXPECT_EQ(to_string(SignalType::annual_average), "annual_average");
  EXPECT_EQ(parse_signal_type("marginal"), SignalType::marginal);
  EXPECT_EQ(parse_signal_type("annual_average"), SignalType::annual_average);
  EXPECT_EQ(parse_signal_type("Average"), std::nullopt);
  EXPECT_EQ(parse_signal_type(""), std::nullopt);
}

TEST(Units, ReadingKindText) {
  EXPECT_EQ(to_string(ReadingKind::actual), "actual");
  EXPECT_EQ(to_string(ReadingKind::forecast), "forecast");
  EXPECT_EQ(parse_reading_kind("forecast"), ReadingKind::forecast);
  EXPECT_EQ(parse_reading_kind("forecasts"), std::nullopt);
}

TEST(JobEnums, PolicyAndStrategyText) {
  EXPECT_EQ(to_string(Policy::best_window), "best_window");
  EXPECT_EQ(parse_policy("threshold"), Policy::threshold);
  EXPECT_EQ(parse_policy("now"), Policy::now);
  EXPECT_EQ(parse_policy("later"), std::nullopt);
  EXPECT_EQ(to_string(SchedulingStrategy::flex_start), "FLEX_START");
  EXPECT_EQ(parse_scheduling_strategy("SPOT"), SchedulingStrategy::spot);
  EXPECT_EQ(parse_scheduling_strategy("spot"), std::nullopt);
}

TEST(JobEnums, StatesAndTerminality) {
  const JobState all[] = {JobState::queued,    JobState::dispatching, JobState::running,
                          JobState::succeeded, JobState::failed,      JobState::cancelled};
  const char* names[] = {"queued", "dispatching", "running", "succeeded", "failed", "cancelled"};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(to_string(all[i]), names[i]);
    EXPECT_EQ(parse_job_state(names[i]), all[i]);
  }
  EXPECT_EQ(parse_job_state("done"), std::nullopt);
  EXPECT_FALSE(is_terminal(JobState::queued));
  EXPECT_FALSE(is_terminal(JobState::dispatching));
  EXPECT_FALSE(is_terminal(JobState::running));
  EXPECT_TRUE(is_terminal(JobState::succeeded));
  EXPECT_TRUE(is_terminal(JobState::failed));
  EXPECT_TRUE(is_terminal(JobState::cancelled));
}

TEST(JobEnums, JobIds) {
  EXPECT_TRUE(is_valid_job_id("a"));
  EXPECT_TRUE(is_valid_job_id("job-20261127-0f3a"));
  EXPECT_TRUE(is_valid_job_id(std::string(40, 'x')));
  EXPECT_FALSE(is_valid_job_id(std::string(41, 'x')));
  EXPECT_FALSE(is_valid_job_id(""));
  EXPECT_FALSE(is_valid_job_id("Job"));
  EXPECT_FALSE(is_valid_job_id("job_1"));
  EXPECT_FALSE(is_valid_job_id("job 1"));
  EXPECT_FALSE(is_valid_job_id("job/1"));
}

TEST(DispatchStatusText, RoundTrip) {
  const DispatchStatus all[] = {DispatchStatus::intent, DispatchStatus::created,
                                DispatchStatus::adopted, DispatchStatus::failed,
                                DispatchStatus::abandoned};
  const char* names[] = {"intent", "created", "adopted", "failed", "abandoned"};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(to_string(all[i]), names[i]);
    EXPECT_EQ(parse_dispatch_status(names[i]), all[i]);
  }
  EXPECT_EQ(parse_dispatch_status("INTENT"), std::nullopt);
}

}  // namespace
}  // namespace gridshift
