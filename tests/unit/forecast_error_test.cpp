// The forecast-error model (docs/scheduling.md): hand-computed bias, MAE, lead buckets, persistence
// and the correction the planner applies.
#include "core/forecast_error.h"

#include <gtest/gtest.h>

#include "core/planner.h"
#include "support/hourly_series.h"

namespace gridshift {
namespace {

const TimePoint kT0 = TimePoint{Seconds{1767225600}};  // 2026-01-01T00:00:00Z

TimePoint at_hour(int h) {
  return kT0 + Seconds{h * 3600};
}

Reading reading(ReadingKind kind, int hour, double value, int issued_hour) {
  return testing::hourly_reading(kind, at_hour(hour), value, at_hour(issued_hour));
}

TEST(ForecastError, AnAccumulatorSlides) {
  ErrorAccumulator acc;
  acc.add(110, 100);
  acc.add(80, 100);
  acc.remove(110, 100);
  EXPECT_EQ(acc.stats(), (ErrorStats{-20, 20, 1}));
}

TEST(ForecastError, LeadBucketsAndLabels) {
  EXPECT_EQ(lead_bucket(Seconds{0}), 0u);
  EXPECT_EQ(lead_bucket(Seconds{3599}), 0u);
  EXPECT_EQ(lead_bucket(Seconds{3600}), 1u);
  EXPECT_EQ(lead_bucket(Seconds{100 * 3600}), kLeadBuckets - 1);
  EXPECT_EQ(lead_bucket_label(0), "0-1h");
  EXPECT_EQ(lead_bucket_label(1), "1-2h");
  EXPECT_EQ(lead_bucket_label(kLeadBuckets - 1), "48h+");
}

TEST(ForecastError, BiasAndMaeFromForecastsWhoseHourHasPassed) {
  // Actuals 100, 200, 300 at hours 0-2. One snapshot issued at 0: 110 (lead 0), 190 (lead 1 h),
  // 330 (lead 2 h), and 999 for hour 5, which has not passed at `now` = 03:00.
  std::vector<Reading> actuals = {reading(ReadingKind::actual, 0, 100, 0),
                                  reading(ReadingKind::actual, 1, 200, 0),
                                  reading(ReadingKind::actual, 2, 300, 0)};
  std::vector<Reading> forecasts = {
      reading(ReadingKind::forecast, 0, 110, 0), reading(ReadingKind::forecast, 1, 190, 0),
      reading(ReadingKind::forecast, 2, 330, 0), reading(ReadingKind::forecast, 5, 999, 0)};
  const auto m = learn_forecast_error(forecasts, actuals, at_hour(3));
  // Errors +10, -10, +30: bias 30 / 3 = 10, MAE 50 / 3.
  EXPECT_EQ(m.overall.samples, 3u);
  EXPECT_DOUBLE_EQ(m.overall.bias_g, 10);
  EXPECT_DOUBLE_EQ(m.overall.mae_g, 50.0 / 3.0);
  EXPECT_EQ(m.by_lead[0].samples, 1u);
  EXPECT_DOUBLE_EQ(m.by_lead[0].bias_g, 10);
  EXPECT_DOUBLE_EQ(m.by_lead[1].bias_g, -10);
  EXPECT_DOUBLE_EQ(m.by_lead[2].bias_g, 30);
  // Too few samples to act on.
  EXPECT_FALSE(m.at_lead(Seconds{0}).has_value());
}

TEST(ForecastError, ABiasedFeedIsCorrectedAndChangesTheDecision) {
  // Two days of hourly snapshots that ran 40 g/kWh high in region "b" while its actual was 120
  // and "a"'s forecast was exact at 100: learned bias 40 for b.
  std::vector<Reading> actuals, forecasts;
  for (int h = 0; h < 48; ++h) {
    actuals.push_back(reading(ReadingKind::actual, h, 120, h));
    forecasts.push_back(reading(ReadingKind::forecast, h, 160, h));
  }
  const auto m = learn_forecast_error(forecasts, actuals, at_hour(48));
  EXPECT_EQ(m.overall.samples, 48u);
  EXPECT_DOUBLE_EQ(m.overall.bias_g, 40);
  EXPECT_DOUBLE_EQ(m.overall.mae_g, 40);
  ASSERT_TRUE(m.at_lead(Seconds{0}).has_value());
  EXPECT_DOUBLE_EQ(
      correct_forecast(160, *m.at_lead(Seconds{0}), m.persistence, Seconds{3600}, std::nullopt),
      120);

  // At 48:00 the actual is 150 and the forecast says 180 for the next hours. Taken raw, now is
  // cleanest; but the feed runs 40 high, so 180 means 140 and the job waits for 49:00.
  std::vector<Reading> present = {reading(ReadingKind::actual, 48, 150, 48),
                                  reading(ReadingKind::forecast, 49, 180, 48),
                                  reading(ReadingKind::forecast, 50, 180, 48)};
  PlannerJob job;
  job.id = "j";
  job.regions = {"b"};
  job.duration = Seconds{3600};
  job.deadline = at_hour(51);
  job.power_watts = 1000;
  PlannerSettings st;
  st.dispatch_slack = Seconds{0};
  const auto raw = plan_one(
      at_hour(48), job, PlanningContext({build_series("b", 1.0, present, at_hour(48))}), {}, st);
  EXPECT_EQ(raw.action, PlanAction::dispatch);
  const auto corrected =
      plan_one(at_hour(48), job,
               PlanningContext({build_series("b", 1.0, present, at_hour(48), &m)}), {}, st);
  EXPECT_EQ(corrected.action, PlanAction::hold);
  EXPECT_EQ(corrected.start, at_hour(49));
  EXPECT_DOUBLE_EQ(*corrected.score, 140);
}

TEST(ForecastError, SnapshotsFedInBatchesLearnWhatOneBatchLearns) {
  std::vector<Reading> actuals, early, late;
  for (int h = 0; h < 48; ++h)
    actuals.push_back(reading(ReadingKind::actual, h, 100 + 3 * (h % 7), h));
  for (int issued = 0; issued < 40; ++issued) {
    for (int h = issued; h < issued + 6; ++h) {
      (issued < 20 ? early : late)
          .push_back(reading(ReadingKind::forecast, h, 110 + 5 * (h % 5), issued));
    }
  }
  std::vector<Reading> all = early;
  all.insert(all.end(), late.begin(), late.end());
  ForecastErrorLearner learner(actuals, at_hour(48));
  learner.add(late);
  learner.add(early);
  const auto batched = learner.model();
  const auto whole = learn_forecast_error(all, actuals, at_hour(48));
  EXPECT_EQ(batched.overall.samples, 240u);
  EXPECT_NEAR(batched.overall.bias_g, whole.overall.bias_g, 1e-9);
  EXPECT_NEAR(batched.overall.mae_g, whole.overall.mae_g, 1e-9);
  for (std::size_t b = 0; b < kLeadBuckets; ++b) {
    EXPECT_EQ(batched.by_lead[b].samples, whole.by_lead[b].samples);
    EXPECT_NEAR(batched.persistence.slope[b], whole.persistence.slope[b], 1e-9);
  }
  EXPECT_NE(whole.persistence.slope[1], 0.0);  // the pairs did teach something
}

TEST(ForecastError, PersistenceCarriesThePresentErrorForward) {
  PersistenceAccumulator acc;
  // The error one hour later is always half the present one.
  for (int i = 0; i < 30; ++i)
    acc.add(Seconds{3600}, 10.0 + i, (10.0 + i) / 2);
  const auto p = acc.model(0);
  EXPECT_DOUBLE_EQ(p.expected(Seconds{3600}, 20), 10);
  // Pairs taken back leave the figures as they were (the simulator's sliding window).
  PersistenceAccumulator slid = acc;
  slid.add(Seconds{3600}, 5, 50);
  slid.remove(Seconds{3600}, 5, 50);
  EXPECT_NEAR(slid.model(0).slope[1], p.slope[1], 1e-12);
  // The slope is fitted on de-biased errors: with bias 10, errors 10 + i and 10 + i / 2 are
  // i and i / 2 around it.
  PersistenceAccumulator biased;
  for (int i = 1; i <= 30; ++i)
    biased.add(Seconds{3600}, 10.0 + i, 10.0 + i / 2.0);
  EXPECT_NEAR(biased.model(10).slope[1], 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(p.expected(Seconds{7200}, 20), 0);  // no samples at 2 h
  // Forecast 150, no bias, the present ran 20 high: 150 - 0.5 x 20 = 140.
  EXPECT_DOUBLE_EQ(correct_forecast(150, ErrorStats{0, 5, 100}, p, Seconds{3600}, 20), 140);
  EXPECT_DOUBLE_EQ(correct_forecast(5, ErrorStats{10, 10, 100}, p, Seconds{3600}, 0), 0);
}

}  // namespace
}  // namespace gridshift
