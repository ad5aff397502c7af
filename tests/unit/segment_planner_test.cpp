// The interruptible planner (plan_segments, best_segments, decide for interruptible jobs):
// hand-computed plans, then a brute-force search over every plan of the same class on small
// random cases.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "core/planner.h"
#include "tests/support/hourly_series.h"

namespace gridshift {
namespace {

using testing::hourly_series;

const TimePoint kT0 = TimePoint{Seconds{1767225600}};  // 2026-01-01T00:00:00Z
constexpr Seconds kHour{3600};
constexpr Seconds kMinute{60};

TimePoint h(double hours) {
  return kT0 + Seconds{static_cast<std::int64_t>(std::llround(hours * 3600))};
}

SegmentRules rules(int max_segments, Seconds min_segment, Seconds overhead = Seconds{0}) {
  return SegmentRules{max_segments, min_segment, overhead};
}

// Grams-equivalent of a plan in value x hours (PUE 1), summed over its segments.
double value_hours(const SegmentPlan& plan) {
  double total = 0;
  for (const auto& w : plan.segments)
    total += w.mean_gco2_per_kwh * std::chrono::duration<double>(w.end - w.start).count() / 3600;
  return total;
}

std::vector<std::pair<TimePoint, TimePoint>> spans(const SegmentPlan& plan) {
  std::vector<std::pair<TimePoint, TimePoint>> out;
  for (const auto& w : plan.segments)
    out.emplace_back(w.start, w.end);
  return out;
}

using Spans = std::vector<std::pair<TimePoint, TimePoint>>;

TEST(SegmentPlanner, TwoCleanHoursApartBeatOneBlock) {
  const auto s = hourly_series("r", kT0, {5, 1, 5, 1, 5, 5});
  const auto plan = plan_segments(s, kT0, h(6), 2 * kHour, rules(2, kHour));
  ASSERT_TRUE(plan);
  EXPECT_EQ(spans(*plan), (Spans{{h(1), h(2)}, {h(3), h(4)}}));
  EXPECT_DOUBLE_EQ(value_hours(*plan), 2.0);  // 1 + 1; the best single block costs 6
  EXPECT_EQ(plan->total, 2 * kHour);
  EXPECT_DOUBLE_EQ(plan->mean_gco2_per_kwh, 1.0);
}

TEST(SegmentPlanner, OneSegmentAllowedIsTheBestBlock) {
  const auto s = hourly_series("r", kT0, {5, 1, 5, 1, 5, 5});
  const auto plan = plan_segments(s, kT0, h(6), 2 * kHour, rules(1, kHour));
  ASSERT_TRUE(plan);
  // Every 2 h block in hours 0-4 costs 6: the earliest end wins the tie.
  EXPECT_EQ(spans(*plan), (Spans{{h(0), h(2)}}));
  EXPECT_DOUBLE_EQ(value_hours(*plan), 6.0);
}

TEST(SegmentPlanner, ResumeOverheadLengthensTheLaterSegments) {
  const auto s = hourly_series("r", kT0, {5, 1, 5, 1, 5, 5});
  // 30 min to resume: two segments run 2.5 h. [1,2) + [3,4.5) = 1 + 1 + 0.5 x 5 = 4.5 < 6.
  const auto plan = plan_segments(s, kT0, h(6), 2 * kHour, rules(2, kHour, 30 * kMinute));
  ASSERT_TRUE(plan);
  EXPECT_EQ(spans(*plan), (Spans{{h(1), h(2)}, {h(3), h(4.5)}}));
  EXPECT_NEAR(value_hours(*plan), 4.5, 1e-9);
  EXPECT_EQ(plan->total, 150 * kMinute);
}

TEST(SegmentPlanner, AnOverheadThatCostsMoreThanItSavesKeepsOneBlock) {
  const auto s = hourly_series("r", kT0, {5, 1, 5, 1, 5, 5});
  // 59 min to resume: [1,2) + [3,4h59) = 1 + 1 + 59/60 x 5 = 6.92 > 6 for one block.
  const auto plan = plan_segments(s, kT0, h(6), 2 * kHour, rules(2, kHour, 59 * kMinute));
  ASSERT_TRUE(plan);
  EXPECT_EQ(spans(*plan), (Spans{{h(0), h(2)}}));
  EXPECT_DOUBLE_EQ(value_hours(*plan), 6.0);
}

TEST(SegmentPlanner, TiesGoToFewerSegmentsThenTheEarlierEnd) {
  const auto s = hourly_series("r", kT0, {3, 3, 3, 3, 3});
  const auto plan = plan_segments(s, kT0, h(5), 2 * kHour, rules(3, kHour));
  ASSERT_TRUE(plan);
  EXPECT_EQ(spans(*plan), (Spans{{h(0), h(2)}}));
}

TEST(SegmentPlanner, ThreeSegmentsWhenThreeAreAllowed) {
  const auto s = hourly_series("r", kT0, {1, 9, 1, 9, 1, 9});
  auto plan = plan_segments(s, kT0, h(6), 3 * kHour, rules(3, kHour));
  ASSERT_TRUE(plan);
  EXPECT_EQ(spans(*plan), (Spans{{h(0), h(1)}, {h(2), h(3)}, {h(4), h(5)}}));
  EXPECT_DOUBLE_EQ(value_hours(*plan), 3.0);
  // Two allowed: [0,1) + [2,3)... needs a third hour: [0,1) + [2,4) = 1 + 1 + 9 = 11, or
  // [0,1) + [4,6) = 11, or a block [0,3) = 11: the tie goes to the earlier end, [0,3)'s
  // one segment being fewer.
  plan = plan_segments(s, kT0, h(6), 3 * kHour, rules(2, kHour));
  ASSERT_TRUE(plan);
  EXPECT_DOUBLE_EQ(value_hours(*plan), 11.0);
  EXPECT_EQ(spans(*plan), (Spans{{h(0), h(3)}}));
}

TEST(SegmentPlanner, MinSegmentForbidsShortPieces) {
  const auto s = hourly_series("r", kT0, {1, 9, 1, 9, 1, 9});
  // Segments of at least 2 h: two of them need 4 h > 3 h, so one block: [0,3) = 11.
  auto plan = plan_segments(s, kT0, h(6), 3 * kHour, rules(3, 2 * kHour));
  ASSERT_TRUE(plan);
  EXPECT_EQ(spans(*plan), (Spans{{h(0), h(3)}}));
  // At least 90 min: a first segment ends on an hour, so it runs 2 h, and 2 h + 90 min > 3 h.
  plan = plan_segments(s, kT0, h(6), 3 * kHour, rules(3, 90 * kMinute));
  ASSERT_TRUE(plan);
  EXPECT_EQ(spans(*plan), (Spans{{h(0), h(3)}}));
  // Exactly min_segment: 4 h as two 2 h segments, [0,2) = 10 ... every 2 h costs 10, and
  // one 4 h block costs 20: a tie, so one segment.
  plan = plan_segments(s, kT0, h(6), 4 * kHour, rules(2, 2 * kHour));
  ASSERT_TRUE(plan);
  EXPECT_EQ(spans(*plan), (Spans{{h(0), h(4)}}));
  EXPECT_DOUBLE_EQ(value_hours(*plan), 20.0);
}

TEST(SegmentPlanner, ADeadlineTooTightForAnySplitRunsOneBlockOrNothing) {
  const auto s = hourly_series("r", kT0, {1, 9, 1, 9});
  auto plan = plan_segments(s, kT0, h(2), 2 * kHour, rules(4, kHour));
  ASSERT_TRUE(plan);
  EXPECT_EQ(spans(*plan), (Spans{{h(0), h(2)}}));
  EXPECT_FALSE(plan_segments(s, kT0, h(2), 3 * kHour, rules(4, kHour)));
  // The overhead of a resume makes a split too long for the window: [0,1) + [2,3h10) ends
  // after 3 h, so one block [0,2) or [1,3): [0,2) is earlier and as cheap.
  plan = plan_segments(s, kT0, h(3), 2 * kHour, rules(2, kHour, 10 * kMinute));
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->segments.size(), 1U);
}

TEST(SegmentPlanner, StartsInsideAnHourWhenThatIsBest) {
  // From 00:30: the first segment may start then, before the first boundary.
  const auto s = hourly_series("r", kT0, {2, 9, 1, 9});
  auto plan = plan_segments(s, h(0.5), h(4), 90 * kMinute, rules(2, 30 * kMinute));
  ASSERT_TRUE(plan);
  // [0.5,1) = 1 (2 x 0.5) + [2,3) = 1: total 2.
  EXPECT_EQ(spans(*plan), (Spans{{h(0.5), h(1)}, {h(2), h(3)}}));
  EXPECT_NEAR(value_hours(*plan), 2.0, 1e-9);
}

TEST(SegmentPlanner, SegmentsSkipMissingData) {
  auto s = hourly_series("r", kT0, {1, 1, 0, 1, 1});
  s.points.erase(s.points.begin() + 2);  // no data for hour 2
  auto plan = plan_segments(s, kT0, h(5), 4 * kHour, rules(2, kHour));
  ASSERT_TRUE(plan);
  EXPECT_EQ(spans(*plan), (Spans{{h(0), h(2)}, {h(3), h(5)}}));
  EXPECT_FALSE(plan_segments(s, kT0, h(5), 4 * kHour, rules(1, kHour)));
}

TEST(SegmentPlanner, HalfHourlyDataIsPlannedOnItsOwnResolution) {
  RegionSeries s;
  s.region = "r";
  s.has_forecast = true;
  const std::vector<double> values = {5, 1, 5, 5, 1, 5};
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto start = kT0 + Seconds{static_cast<std::int64_t>(i) * 1800};
    s.points.push_back(Point{start, start + Seconds{1800}, values[i]});
  }
  const auto plan = plan_segments(s, kT0, h(3), kHour, rules(2, 30 * kMinute));
  ASSERT_TRUE(plan);
  EXPECT_EQ(spans(*plan), (Spans{{h(0.5), h(1)}, {h(2), h(2.5)}}));
}

TEST(SegmentPlanner, BestSegmentsPicksTheCleanerRegion) {
  PlanningContext context(
      {hourly_series("a", kT0, {5, 2, 5, 2}), hourly_series("b", kT0, {5, 1, 5, 1}, /*pue=*/1.5)});
  PlannerJob job;
  job.id = "j";
  job.regions = {"a", "b"};
  job.duration = 2 * kHour;
  job.deadline = h(4);
  job.power_watts = 1000;
  job.segments = rules(2, kHour);
  PlannerSettings settings;
  settings.dispatch_slack = Seconds{0};
  const auto plan = best_segments(kT0, job, context, settings);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->region, "b");  // 1 x 1.5 = 1.5 beats 2 x 1.0
  EXPECT_DOUBLE_EQ(plan->score, 1.5);
}

TEST(SegmentPlanner, DecideHoldsForTheFirstSegmentThenDispatchesIt) {
  PlanningContext context({hourly_series("a", kT0, {5, 1, 5, 1, 5, 5})});
  PlannerJob job;
  job.id = "j";
  job.regions = {"a"};
  job.duration = 2 * kHour;
  job.deadline = h(6);
  job.power_watts = 1000;
  job.segments = rules(2, kHour);
  PlannerSettings settings;
  settings.dispatch_slack = Seconds{0};
  auto d = plan_one(kT0, job, context, {}, settings);
  EXPECT_EQ(d.action, PlanAction::hold);
  EXPECT_EQ(d.reason_code, PlanReason::better_later);
  EXPECT_EQ(d.start, h(1));
  EXPECT_EQ(d.end, h(2));
  ASSERT_EQ(d.segments.size(), 2U);
  EXPECT_EQ(d.segments[1].start, h(3));
  d = plan_one(h(1), job, context, {}, settings);
  EXPECT_EQ(d.action, PlanAction::dispatch);
  EXPECT_EQ(d.reason_code, PlanReason::best_starts_now);
  EXPECT_EQ(d.start, h(1));
  EXPECT_EQ(d.end, h(2));  // the segment's end: the trainer is told to stop then
  // A region at its cap cannot start the segment now: the job holds.
  d = plan_one(h(1), job, context, {{"a", settings.max_concurrent_dispatches}}, settings);
  EXPECT_EQ(d.action, PlanAction::hold);
}

// ---- brute force ----

struct Brute {
  std::vector<TimePoint> grid;  // boundaries of the data
  const RegionSeries* series = nullptr;
  TimePoint from{};
  TimePoint until{};
  Seconds duration{0};
  SegmentRules rules;
  double best = std::numeric_limits<double>::infinity();

  Seconds need(int k) const { return duration + (k - 1) * rules.resume_overhead; }

  void search(TimePoint earliest, bool first, int count, Seconds used, double cost) {
    std::vector<TimePoint> starts;
    if (first) starts.push_back(from);
    for (auto g : grid) {
      if (g >= earliest && !(first && g == from)) starts.push_back(g);
    }
    for (auto s : starts) {
      // As the last segment.
      const Seconds rest = need(count + 1) - used;
      if (rest >= rules.min_segment && s + rest <= until) {
        if (auto m = window_mean(*series, s, s + rest)) {
          best = std::min(best, cost + *m * std::chrono::duration<double>(rest).count());
        }
      }
      if (count + 1 >= rules.max_segments) continue;
      for (auto e : grid) {
        if (e <= s || e - s < rules.min_segment || e > until) continue;
        const Seconds run = std::chrono::duration_cast<Seconds>(e - s);
        auto m = window_mean(*series, s, e);
        if (!m) continue;
        search(e, false, count + 1, used + run,
               cost + *m * std::chrono::duration<double>(run).count());
      }
    }
  }
};

TEST(SegmentPlannerProperty, MatchesBruteForceOnSmallRandomCases) {
  std::mt19937 rng(20261202);
  const std::vector<Seconds> durations = {kHour,         90 * kMinute, 2 * kHour,
                                          150 * kMinute, 3 * kHour,    4 * kHour};
  const std::vector<Seconds> minimums = {30 * kMinute, kHour, 2 * kHour};
  const std::vector<Seconds> overheads = {Seconds{0}, 10 * kMinute, 20 * kMinute};
  int planned = 0;
  int split = 0;
  for (int c = 0; c < 400; ++c) {
    std::vector<double> values(8);
    for (auto& v : values)
      v = c % 2 ? static_cast<double>(rng() % 5 + 1) : 50.0 + static_cast<double>(rng() % 400);
    const auto s = hourly_series("r", kT0, values);
    Brute brute;
    for (int i = 0; i <= 8; ++i)
      brute.grid.push_back(h(i));
    brute.series = &s;
    brute.from = kT0 + Seconds{static_cast<std::int64_t>(rng() % 3) * 20 * 60};
    brute.until = h(static_cast<double>(5 + rng() % 4));
    brute.duration = durations[rng() % durations.size()];
    brute.rules.min_segment = minimums[rng() % minimums.size()];
    brute.rules.resume_overhead = overheads[rng() % overheads.size()];
    brute.rules.max_segments = static_cast<int>(1 + rng() % 3);
    if (brute.rules.min_segment > brute.duration) brute.rules.min_segment = brute.duration;
    if (brute.rules.resume_overhead >= brute.rules.min_segment) {
      brute.rules.resume_overhead = Seconds{0};
    }
    brute.search(brute.from, true, 0, Seconds{0}, 0.0);
    const auto plan = plan_segments(s, brute.from, brute.until, brute.duration, brute.rules);
    SCOPED_TRACE(::testing::Message() << "case " << c);
    if (std::isinf(brute.best)) {
      EXPECT_FALSE(plan);
      continue;
    }
    ASSERT_TRUE(plan);
    ++planned;
    const double cost = plan->mean_gco2_per_kwh * static_cast<double>(plan->total.count());
    EXPECT_NEAR(cost, brute.best, 1e-6 * std::max(1.0, brute.best));
    // The plan keeps its own rules.
    const auto k = static_cast<int>(plan->segments.size());
    if (k > 1) ++split;
    EXPECT_LE(k, brute.rules.max_segments);
    EXPECT_EQ(plan->total, brute.duration + (k - 1) * brute.rules.resume_overhead);
    TimePoint previous = brute.from;
    for (const auto& w : plan->segments) {
      EXPECT_GE(w.start, previous);
      EXPECT_GE(w.end - w.start, brute.rules.min_segment);
      EXPECT_LE(w.end, brute.until);
      previous = w.end;
    }
    // Never worse than the best single block.
    const auto block = plan_segments(s, brute.from, brute.until, brute.duration,
                                     SegmentRules{1, brute.rules.min_segment, Seconds{0}});
    ASSERT_TRUE(block);
    EXPECT_LE(cost, block->mean_gco2_per_kwh * static_cast<double>(block->total.count()) + 1e-6);
  }
  // The cases exercise both outcomes (not all infeasible, not all single blocks).
  EXPECT_GT(planned, 200);
  EXPECT_GT(split, 50);
}

}  // namespace
}  // namespace gridshift

namespace gridshift {
namespace {

TEST(SegmentPlanner, AStartAMomentLateStillTakesTheCleanHour) {
  // The daemon wakes 3 s after the planned 01:00: the clean hour still holds the first
  // segment (59 min 57 s of it, against a 1 h minimum), not the two hours from now.
  const auto s = hourly_series("r", kT0, {5, 1, 5, 1, 5, 5});
  auto plan = plan_segments(s, h(1) + Seconds{3}, h(6), 2 * kHour, rules(2, kHour));
  ASSERT_TRUE(plan);
  EXPECT_EQ(spans(*plan), (Spans{{h(1) + Seconds{3}, h(2)}, {h(3), h(4) + Seconds{3}}}));
  // Ten minutes late is not a moment: the segment must run its full hour.
  plan = plan_segments(s, h(1) + 10 * kMinute, h(6), 2 * kHour, rules(2, kHour));
  ASSERT_TRUE(plan);
  EXPECT_GE(plan->segments.front().end - plan->segments.front().start, kHour);
}

}  // namespace
}  // namespace gridshift
