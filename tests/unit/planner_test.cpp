// Hand-computed cases for every rule of the scheduling policy (docs/scheduling.md).
#include "core/planner.h"

#include <gtest/gtest.h>

#include "support/hourly_series.h"

namespace gridshift {
namespace {

const TimePoint kT0 = TimePoint{Seconds{1767225600}};  // 2026-01-01T00:00:00Z

TimePoint hours(double h) {
  return kT0 + Seconds{static_cast<std::int64_t>(h * 3600)};
}

RegionSeries hourly(std::string region, std::vector<double> values, double pue = 1.0,
                    SignalType signal = SignalType::average) {
  return testing::hourly_series(std::move(region), kT0, values, pue, signal);
}

PlannerJob job(std::vector<std::string> regions, double duration_h, double deadline_h) {
  PlannerJob j;
  j.id = "j1";
  j.regions = std::move(regions);
  j.duration = Seconds{static_cast<std::int64_t>(duration_h * 3600)};
  j.deadline = hours(deadline_h);
  j.power_watts = 1000;
  return j;
}

PlannerSettings settings() {
  PlannerSettings s;
  s.dispatch_slack = Seconds{0};
  s.min_gain = 0.02;
  s.max_concurrent_dispatches = 8;
  return s;
}

PlanDecision one(TimePoint now, const PlannerJob& j, std::vector<RegionSeries> series,
                 const PlannerSettings& st = settings(), const RunningCounts& running = {}) {
  const PlanningContext context(std::move(series));
  return plan_one(now, j, context, running, st);
}

TEST(Planner, HoldsForTheCleanestFutureWindow) {
  // 2 h windows: [0,2) 300, [1,3) 200, [2,4) 100, [3,5) 200.
  auto d = one(kT0, job({"a"}, 2, 5), {hourly("a", {300, 300, 100, 100, 300})});
  EXPECT_EQ(d.action, PlanAction::hold);
  EXPECT_EQ(d.region, "a");
  EXPECT_EQ(d.start, hours(2));
  EXPECT_EQ(d.end, hours(4));
  EXPECT_DOUBLE_EQ(*d.score, 100);
  ASSERT_TRUE(d.baseline.has_value());
  EXPECT_DOUBLE_EQ(d.baseline->score, 300);
  EXPECT_NE(describe(d).find("66.7 % cleaner"), std::string::npos) << describe(d);
}

TEST(Planner, PartialOverlapCountsFractionallyAndTiesGoToTheEarlierStart) {
  // now = 00:30: [00:30, 01:30) = 0.5 x 100 + 0.5 x 300 = 200; 01:00 -> 300; 02:00 -> 200.
  const TimePoint now = hours(0.5);
  auto d = one(now, job({"a"}, 1, 4), {hourly("a", {100, 300, 200, 400})});
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(d.start, now);
  EXPECT_DOUBLE_EQ(*d.score, 200);
  EXPECT_EQ(describe(d), "best window starts now");
}

TEST(Planner, CandidateStartsAreNowAndReadingBoundaries) {
  // 90 min jobs at 00:30. now [00:30,02:00) = (0.5 x 400 + 100) / 1.5 = 200;
  // 01:00 [01:00,02:30) = (100 + 0.5 x 10) / 1.5 = 70; 02:00 [02:00,03:30) = (10 + 250) / 1.5.
  // 01:30 would score (50 + 10) / 1.5 = 40, but it is no reading boundary: not a candidate.
  auto d = one(hours(0.5), job({"a"}, 1.5, 6), {hourly("a", {400, 100, 10, 500, 500, 500})});
  EXPECT_EQ(d.action, PlanAction::hold);
  EXPECT_EQ(d.start, hours(1));
  EXPECT_DOUBLE_EQ(*d.score, 70);
}

TEST(Planner, WindowPastTheHorizonIsNotScored) {
  // [2,4) would be 100 but the data ends at 3; [1,3) = 200 is the best scored window.
  auto d = one(kT0, job({"a"}, 2, 10), {hourly("a", {300, 300, 100})});
  EXPECT_EQ(d.action, PlanAction::hold);
  EXPECT_EQ(d.start, hours(1));
  EXPECT_DOUBLE_EQ(*d.score, 200);
}

TEST(Planner, GapInTheDataIsNotScored) {
  auto s = hourly("a", {300, 300, 50, 50, 300});
  s.points.erase(s.points.begin() + 3);  // no data for [3,4)
  auto d = one(kT0, job({"a"}, 2, 5), {s});
  // [2,4) touches the gap; [1,3) = 175 is the best.
  EXPECT_EQ(d.start, hours(1));
  EXPECT_DOUBLE_EQ(*d.score, 175);
}

TEST(Planner, NothingScoredBeforeDeadlineHolds) {
  auto d = one(kT0, job({"a"}, 5, 10), {hourly("a", {300, 300})});
  EXPECT_EQ(d.action, PlanAction::hold);
  EXPECT_EQ(describe(d), "no window within the data horizon");
  EXPECT_FALSE(d.best.has_value());
}

TEST(Planner, PueMultipliesTheScore) {
  // a: 100 x 1.5 = 150; b: 120 x 1.0 = 120.
  auto d = one(kT0, job({"a", "b"}, 1, 3),
               {hourly("a", {100, 100, 100}, 1.5), hourly("b", {120, 120, 120}, 1.0)});
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(d.region, "b");
  EXPECT_DOUBLE_EQ(*d.score, 120);
  EXPECT_DOUBLE_EQ(*d.mean_intensity, 120);
  // The baseline is the first candidate region.
  EXPECT_EQ(d.baseline->region, "a");
  EXPECT_DOUBLE_EQ(d.baseline->score, 150);
}

TEST(Planner, RegionTieGoesToTheRegionListedFirst) {
  const std::vector<RegionSeries> series = {hourly("a", {200, 100, 200}),
                                            hourly("b", {200, 100, 200})};
  auto d = one(kT0, job({"b", "a"}, 1, 3), series);
  EXPECT_EQ(d.region, "b");
  EXPECT_EQ(d.start, hours(1));
  d = one(kT0, job({"a", "b"}, 1, 3), series);
  EXPECT_EQ(d.region, "a");
}

TEST(Planner, ThresholdReleasesAtOnce) {
  auto j = job({"a", "b"}, 1, 4);
  j.policy = Policy::threshold;
  j.threshold = 250;
  // now: a 300, b 240 (<= 250); later a 100. Best such region now: b.
  const std::vector<RegionSeries> series = {hourly("a", {300, 100, 100, 100}),
                                            hourly("b", {240, 240, 240, 240})};
  auto d = one(kT0, j, series);
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(d.region, "b");
  EXPECT_EQ(describe(d), "threshold: 240.0 <= 250.0 g/kWh");
  j.threshold = 200;
  d = one(kT0, j, series);
  EXPECT_EQ(d.action, PlanAction::hold);
  EXPECT_EQ(d.region, "a");
  EXPECT_EQ(d.start, hours(1));
}

TEST(Planner, MinGainDispatchesWhenWaitingGainsTooLittle) {
  // 1 % cleaner later: below min_gain 2 % -> dispatch now.
  auto d = one(kT0, job({"a"}, 1, 3), {hourly("a", {100, 99, 100})});
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(d.start, kT0);
  EXPECT_DOUBLE_EQ(*d.score, 100);
  EXPECT_NE(describe(d).find("min_gain"), std::string::npos);
  // 3 % cleaner later: hold.
  d = one(kT0, job({"a"}, 1, 3), {hourly("a", {100, 97, 100})});
  EXPECT_EQ(d.action, PlanAction::hold);
  EXPECT_EQ(d.start, hours(1));
  // min_gain 0: any gain is worth waiting for.
  auto st = settings();
  st.min_gain = 0;
  d = one(kT0, job({"a"}, 1, 3), {hourly("a", {100, 99, 100})}, st);
  EXPECT_EQ(d.action, PlanAction::hold);
}

TEST(Planner, LatestStartBoundsTheFeasibleStarts) {
  // latest_start = deadline - duration - slack = 5h15m - 1h - 15m = 4h: 04:00 (10) is feasible.
  auto st = settings();
  st.dispatch_slack = Seconds{15 * 60};
  const auto series = std::vector<RegionSeries>{hourly("a", {300, 200, 300, 300, 10, 300})};
  auto d = one(kT0, job({"a"}, 1, 5.25), series, st);
  EXPECT_EQ(d.start, hours(4));
  // One second less and 04:00 is out: the best is 01:00 (200).
  auto j = job({"a"}, 1, 5.25);
  j.deadline -= Seconds{1};
  d = one(kT0, j, series, st);
  EXPECT_EQ(d.start, hours(1));
  EXPECT_DOUBLE_EQ(*d.score, 200);
}

TEST(Planner, DeadlineFallbackRunsInTheBestRegionNow) {
  // latest_start = 1h - 1h - 0 = 0 < now (00:30): no feasible start, run now where cleanest.
  const std::vector<RegionSeries> series = {hourly("a", {300, 10}), hourly("b", {200, 10})};
  auto d = one(hours(0.5), job({"a", "b"}, 1, 1), series);
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(d.region, "b");
  EXPECT_EQ(d.start, hours(0.5));
  EXPECT_DOUBLE_EQ(*d.score, 105);  // 0.5 x 200 + 0.5 x 10
  EXPECT_EQ(describe(d), "deadline fallback: latest start reached");
}

TEST(Planner, DeadlineFallbackWithoutFreshDataUsesTheFirstCandidate) {
  auto stale = hourly("a", {100, 100, 100});
  stale.observed_at = kT0 - Seconds{4 * 3600};  // max_staleness is 3 h
  auto d = one(kT0, job({"b", "a"}, 1, 1), {stale});
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(d.region, "b");
  EXPECT_EQ(describe(d), "deadline fallback: no fresh data, first candidate");
  EXPECT_FALSE(d.score.has_value());
  // With time left, no fresh data means hold.
  d = one(kT0, job({"b", "a"}, 1, 3), {stale});
  EXPECT_EQ(d.action, PlanAction::hold);
  EXPECT_EQ(describe(d), "no fresh data");
  // Fresh enough (3 h old) data is used.
  stale.observed_at = kT0 - Seconds{3 * 3600};
  d = one(kT0, job({"a"}, 1, 3), {stale});
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(describe(d), "best window starts now");
}

TEST(Planner, PolicyNowDispatchesInTheBestRegionNow) {
  auto j = job({"a", "b"}, 1, 10);
  j.policy = Policy::now;
  auto d = one(kT0, j, {hourly("a", {300, 10}), hourly("b", {200, 10})});
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(d.region, "b");
  EXPECT_EQ(describe(d), "policy now");
}

TEST(Planner, NotBeforeHoldsAndBoundsTheStarts) {
  auto j = job({"a"}, 1, 5);
  j.not_before = hours(2);
  const std::vector<RegionSeries> series = {hourly("a", {300, 50, 100, 300, 300})};
  auto d = one(kT0, j, series);
  EXPECT_EQ(d.action, PlanAction::hold);
  EXPECT_EQ(describe(d), "waiting for not_before");
  EXPECT_EQ(d.start, hours(2));  // 01:00 (50) is before not_before
  EXPECT_DOUBLE_EQ(*d.score, 100);
  d = one(hours(2), j, series);
  EXPECT_EQ(d.action, PlanAction::dispatch);
}

TEST(Planner, CappedRegionLosesItsWindowStartingNow) {
  // a is cleanest now and later; at its cap, the job's next-best window is a at 01:00.
  const std::vector<RegionSeries> series = {hourly("a", {100, 100, 100}),
                                            hourly("b", {200, 200, 200})};
  auto st = settings();
  st.max_concurrent_dispatches = 1;
  auto d = one(kT0, job({"a", "b"}, 1, 3), series, st, {{"a", 1}});
  EXPECT_EQ(d.action, PlanAction::hold);
  EXPECT_EQ(d.region, "a");
  EXPECT_EQ(d.start, hours(1));
  // At the deadline it falls back to b now.
  d = one(kT0, job({"a", "b"}, 1, 1), series, st, {{"a", 1}});
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(d.region, "b");
  // Every candidate at its cap: hold.
  d = one(kT0, job({"a", "b"}, 1, 1), series, st, {{"a", 1}, {"b", 1}});
  EXPECT_EQ(d.action, PlanAction::hold);
  EXPECT_EQ(describe(d), "every candidate region is at max_concurrent_dispatches");
}

TEST(Planner, PlanAllCountsDispatchesAgainstTheCapMostUrgentFirst) {
  const std::vector<RegionSeries> series = {hourly("a", {100, 100, 100, 100}),
                                            hourly("b", {200, 200, 200, 200})};
  auto st = settings();
  st.max_concurrent_dispatches = 1;
  auto relaxed = job({"a", "b"}, 1, 4);
  relaxed.id = "relaxed";
  auto urgent = job({"a", "b"}, 1, 1);
  urgent.id = "urgent";
  const std::vector<PlannerJob> jobs = {relaxed, urgent};
  const PlanningContext context(series);
  auto ds = plan_all(kT0, jobs, context, {}, st);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].job_id, "relaxed");
  EXPECT_EQ(ds[1].job_id, "urgent");
  EXPECT_EQ(ds[1].action, PlanAction::dispatch);  // served first: takes a
  EXPECT_EQ(ds[1].region, "a");
  EXPECT_EQ(ds[0].action, PlanAction::hold);  // a is full now: waits for a at 01:00
  EXPECT_EQ(ds[0].region, "a");
  EXPECT_EQ(ds[0].start, hours(1));
}

TEST(Planner, NeverRanksDifferentSignalTypesTogether) {
  // The first candidate with data is marginal: only marginal regions are ranked, even though
  // the average region's numbers are lower.
  const std::vector<RegionSeries> series = {hourly("m", {400, 400, 400}, 1.0, SignalType::marginal),
                                            hourly("avg", {50, 50, 50}, 1.0, SignalType::average)};
  auto d = one(kT0, job({"m", "avg"}, 1, 3), series);
  EXPECT_EQ(d.region, "m");
  EXPECT_EQ(d.signal, SignalType::marginal);
  // A first candidate without data does not pick the group.
  d = one(kT0, job({"none", "avg", "m"}, 1, 3), series);
  EXPECT_EQ(d.region, "avg");
  EXPECT_EQ(d.signal, SignalType::average);
}

TEST(Planner, AverageAndAnnualAverageRankTogetherWhateverTheOrder) {
  // An hourly average region at 300 and a region with only a yearly average of 100: both are
  // location-based g/kWh, so the yearly one wins in either order.
  const std::vector<RegionSeries> series = {
      hourly("hourly", {300, 300, 300}),
      hourly("yearly", {100, 100, 100}, 1.0, SignalType::annual_average)};
  for (const auto& regions : {std::vector<std::string>{"hourly", "yearly"},
                              std::vector<std::string>{"yearly", "hourly"}}) {
    auto d = one(kT0, job(regions, 1, 3), series);
    EXPECT_EQ(d.region, "yearly");
    EXPECT_TRUE(d.excluded.empty());
  }
}

TEST(Planner, CandidatesNotRankedAreExcludedWithTheirReason) {
  const std::vector<RegionSeries> series = {hourly("avg", {100, 100, 100}),
                                            hourly("m", {10, 10, 10}, 1.0, SignalType::marginal)};
  auto d = one(kT0, job({"avg", "missing", "m"}, 1, 3), series);
  EXPECT_EQ(d.region, "avg");
  ASSERT_EQ(d.excluded.size(), 2u);
  EXPECT_EQ(d.excluded[0].region, "missing");
  EXPECT_EQ(d.excluded[0].reason, "no fresh data");
  EXPECT_EQ(d.excluded[1].region, "m");
  EXPECT_EQ(d.excluded[1].reason,
            "marginal signal cannot be ranked with the average signal of avg");
}

TEST(Planner, WithoutAForecastOnlyThePlaceIsChosen) {
  RegionSeries flat = hourly("a", {200});
  flat.points.back().end = hours(24);  // one actual holding all day, no forecast
  flat.has_forecast = false;
  auto d = one(kT0, job({"a"}, 2, 10), {flat});
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(d.reason_code, PlanReason::no_forecast);
  EXPECT_EQ(describe(d), "no forecast: only the place can be chosen");
}

TEST(Planner, NeverStartsEarlyAsNowDriftsTowardThePlannedWindow) {
  // 5-minute data: 100 until 01:00, a 1-hour dip at 95, then 300. A 1-hour job.
  std::vector<Point> points;
  for (int m = 0; m < 180; m += 5) {
    const double v = m < 60 ? 100 : m < 120 ? 95 : 300;
    points.push_back(Point{kT0 + Seconds{m * 60}, kT0 + Seconds{(m + 5) * 60}, v});
  }
  RegionSeries a;
  a.region = "a";
  a.points = points;
  a.has_forecast = true;
  const auto j = job({"a"}, 1, 3);
  // At the defaults (min_gain 0) every tick before 01:00 holds for the dip, however close.
  PlannerSettings defaults;
  defaults.dispatch_slack = Seconds{0};
  for (int s = 0; s < 3600; s += 300) {
    auto d = one(kT0 + Seconds{s}, j, {a}, defaults);
    EXPECT_EQ(d.action, PlanAction::hold) << s;
    EXPECT_EQ(d.start, hours(1)) << s;
  }
  // 51 s before the dip: still held.
  EXPECT_EQ(one(hours(1) - Seconds{51}, j, {a}, defaults).action, PlanAction::hold);
  auto at = one(hours(1), j, {a}, defaults);
  EXPECT_EQ(at.action, PlanAction::dispatch);
  EXPECT_EQ(at.reason_code, PlanReason::best_starts_now);
  // min_gain 2 % compares per hour moved: at 00:55 the window starting now,
  // (5 x 100 + 55 x 95) / 60 = 95.42, is within 2 % of 95, but waiting 5 minutes gains
  // 0.42 against a margin of 0.02 x 95.42 x 5/60 = 0.16: the job waits.
  auto d = one(hours(1) - Seconds{300}, j, {a}, settings());
  EXPECT_EQ(d.action, PlanAction::hold);
  // Waiting a whole hour for a window 1 % cleaner is not worth min_gain 2 %: start now.
  d = one(kT0, job({"a"}, 1, 3), {hourly("a", {100, 99, 100})}, settings());
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(d.reason_code, PlanReason::min_gain);
}

TEST(Planner, ShortJobPlannedForASubHourlyDipStartsInIt) {
  // 1-minute data: 300 everywhere but a 10-minute dip at 01:00 (50). A 10-minute job.
  RegionSeries a;
  a.region = "a";
  a.has_forecast = true;
  for (int m = 0; m < 180; ++m) {
    const double v = m >= 60 && m < 70 ? 50 : 300;
    a.points.push_back(Point{kT0 + Seconds{m * 60}, kT0 + Seconds{(m + 1) * 60}, v});
  }
  PlannerSettings defaults;
  defaults.dispatch_slack = Seconds{0};
  const auto j = job({"a"}, 10.0 / 60.0, 3);
  auto before = one(hours(1) - Seconds{51}, j, {a}, defaults);
  EXPECT_EQ(before.action, PlanAction::hold);
  EXPECT_EQ(before.start, hours(1));
  auto in = one(hours(1), j, {a}, defaults);
  EXPECT_EQ(in.action, PlanAction::dispatch);
  EXPECT_DOUBLE_EQ(*in.score, 50);
}

TEST(Planner, ErrorMarginStartsNowWhenTheAdvantageIsWithinTheForecastsError) {
  // Now 100 (observed), next hour forecast 95 with an expected error of 10 g/kWh.
  RegionSeries a = hourly("a", {100, 95, 300});
  a.points[1].expected_error = 10;
  a.points[2].expected_error = 10;
  PlannerSettings st;
  st.dispatch_slack = Seconds{0};
  const auto j = job({"a"}, 1, 3);
  EXPECT_EQ(one(kT0, j, {a}, st).action, PlanAction::hold);  // error_margin 0: wait
  st.error_margin = 1;
  // Advantage 5 < 1 x (0 over [0,1) + 10 over [1,2)) / 1 h = 10: start now.
  auto d = one(kT0, j, {a}, st);
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(d.reason_code, PlanReason::forecast_error);
  EXPECT_DOUBLE_EQ(*d.advantage, 5);
  EXPECT_DOUBLE_EQ(*d.margin, 10);
  st.error_margin = 0.4;  // margin 4 < 5: wait
  EXPECT_EQ(one(kT0, j, {a}, st).action, PlanAction::hold);
}

TEST(Planner, FormatDecisionIsOneLineWithEveryField) {
  auto d = one(kT0, job({"a"}, 2, 5), {hourly("a", {300, 300, 100, 100, 300})});
  EXPECT_EQ(d.reason_code, PlanReason::better_later);
  EXPECT_EQ(to_string(d.reason_code), "better_later");
  EXPECT_EQ(d.reason, "best window starts later");
  EXPECT_EQ(phrase(PlanReason::capped), "every candidate region is at max_concurrent_dispatches");
  EXPECT_EQ(format_decision(d),
            "job=j1 action=hold region=a start=2026-01-01T02:00:00Z score=100.0 "
            "reason=best window 66.7 % cleaner than now");
}

TEST(Planner, WindowMeanIsTimeWeighted) {
  const auto s = hourly("a", {100, 400});
  EXPECT_DOUBLE_EQ(*window_mean(s, hours(0.75), hours(1.25)), 250);  // 0.25 h each
  EXPECT_DOUBLE_EQ(*window_mean(s, hours(0.5), hours(2)), 300);      // (50 + 400) / 1.5
  EXPECT_FALSE(window_mean(s, hours(1.5), hours(2.5)).has_value());
}

TEST(Planner, BestWindowIgnoresDispatchRules) {
  auto j = job({"a"}, 1, 3);
  j.policy = Policy::now;
  const PlanningContext context({hourly("a", {100, 99, 100})});
  auto w = best_window(kT0, j, context, settings());
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->start, hours(1));
  EXPECT_DOUBLE_EQ(w->score, 99);
}

Reading reading(ReadingKind kind, double h, double value, double issued_h = 0) {
  return testing::hourly_reading(kind, hours(h), value, hours(issued_h));
}

TEST(BuildSeries, LatestActualForThePresentNewestForecastForTheFuture) {
  const std::vector<Reading> readings = {
      reading(ReadingKind::actual, -1, 250),      reading(ReadingKind::actual, 0, 200),
      reading(ReadingKind::actual, 1, 999),        // in the future of now: ignored
      reading(ReadingKind::forecast, 0, 500, -5),  // the present comes from the actual
      reading(ReadingKind::forecast, 1, 100, -5),  // older issue
      reading(ReadingKind::forecast, 1, 150, -1),  // newest issue wins
      reading(ReadingKind::forecast, 2, 120, -5)};
  auto s = build_series("r", 1.2, readings, hours(0.5));
  EXPECT_EQ(s.region, "r");
  EXPECT_EQ(s.feed, "f");
  EXPECT_DOUBLE_EQ(s.pue, 1.2);
  EXPECT_EQ(s.observed_at, kT0);
  ASSERT_EQ(s.points.size(), 3u);
  EXPECT_EQ(s.points[0], (Point{hours(0), hours(1), 200}));
  EXPECT_EQ(s.points[1], (Point{hours(1), hours(2), 150}));
  EXPECT_EQ(s.points[2], (Point{hours(2), hours(3), 120}));
  EXPECT_EQ(s.horizon(), hours(3));
}

TEST(BuildSeries, LaggingActualHoldsUntilTheNextForecastBoundary) {
  // The latest actual is for 00:00-01:00 but now is 01:30: it covers the present up to 02:00.
  const std::vector<Reading> readings = {reading(ReadingKind::actual, 0, 200),
                                         reading(ReadingKind::forecast, 1, 400, -1),
                                         reading(ReadingKind::forecast, 2, 100, -1)};
  auto s = build_series("r", 1.0, readings, hours(1.5));
  ASSERT_EQ(s.points.size(), 2u);
  EXPECT_EQ(s.points[0], (Point{hours(0), hours(2), 200}));
  EXPECT_EQ(s.points[1], (Point{hours(2), hours(3), 100}));
}

}  // namespace
}  // namespace gridshift
