// The planner's fast path (prefix sums + range minima) against brute force: every candidate
// start scored directly with window_mean, on seeded random series and jobs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/planner.h"

namespace gridshift {
namespace {

const TimePoint kT0 = TimePoint{Seconds{1767225600}};

bool same_score(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b));
}

// Direct transcription of docs/scheduling.md's feasible starts and scores.
std::optional<Window> brute_best(TimePoint now, const PlannerJob& job,
                                 const std::vector<RegionSeries>& series,
                                 const PlannerSettings& st) {
  const TimePoint lo = std::max(now, job.not_before.value_or(now));
  const TimePoint latest = job.deadline - job.duration - st.dispatch_slack;
  std::optional<SignalType> signal;
  std::optional<Window> best;
  for (const auto& name : job.regions) {
    const RegionSeries* s = nullptr;
    for (const auto& c : series) {
      if (c.region == name) s = &c;
    }
    if (!s || s->points.empty()) continue;
    if (!signal) signal = s->signal;
    if (s->signal != *signal) continue;
    std::vector<TimePoint> starts;
    if (now >= lo) starts.push_back(now);
    for (const auto& p : s->points) {
      if (p.start > now && p.start >= lo) starts.push_back(p.start);
    }
    for (TimePoint start : starts) {
      if (start > latest) continue;
      auto mean = window_mean(*s, start, start + job.duration);
      if (!mean) continue;
      const double score = *mean * s->pue;
      // Strictly better only: earlier starts and earlier regions come first in this loop
      // order for each region; across regions an equal score keeps the earlier start.
      if (!best || score < best->score - 1e-9 * std::max(1.0, score) ||
          (same_score(score, best->score) && start < best->start)) {
        best = Window{name, start, start + job.duration, *mean, score};
      }
    }
  }
  return best;
}

RegionSeries random_series(std::mt19937_64& rng, std::string name, bool integer_values) {
  RegionSeries s;
  s.region = std::move(name);
  s.signal = std::uniform_int_distribution<int>(0, 5)(rng) == 0 ? SignalType::marginal
                                                                : SignalType::average;
  s.pue = std::uniform_real_distribution<double>(1.0, 1.6)(rng);
  const std::int64_t steps[] = {900, 1800, 3600};
  const std::int64_t step = steps[std::uniform_int_distribution<int>(0, 2)(rng)];
  TimePoint t = kT0 - Seconds{std::uniform_int_distribution<std::int64_t>(0, 3600)(rng)};
  const int n = std::uniform_int_distribution<int>(1, 120)(rng);
  for (int i = 0; i < n; ++i) {
    if (std::uniform_int_distribution<int>(0, 30)(rng) == 0) t += Seconds{step};  // a gap
    const double v = integer_values
                         ? static_cast<double>(std::uniform_int_distribution<int>(0, 8)(rng) * 50)
                         : std::uniform_real_distribution<double>(0, 600)(rng);
    s.points.push_back(Point{t, t + Seconds{step}, v});
    t += Seconds{step};
  }
  return s;
}

class PlannerProperty : public ::testing::TestWithParam<int> {};

TEST_P(PlannerProperty, FastPathMatchesBruteForce) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(GetParam()) * 7919u + 17u);
  const bool integer_values = GetParam() % 2 == 0;  // many ties
  std::vector<RegionSeries> series;
  const int regions = std::uniform_int_distribution<int>(1, 4)(rng);
  std::vector<std::string> names;
  for (int r = 0; r < regions; ++r) {
    names.push_back("r" + std::to_string(r));
    series.push_back(random_series(rng, names.back(), integer_values));
  }
  const PlanningContext context(series);
  PlannerSettings st;
  st.dispatch_slack = Seconds{std::uniform_int_distribution<std::int64_t>(0, 2)(rng) * 900};
  int compared = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const TimePoint now =
        kT0 + Seconds{std::uniform_int_distribution<std::int64_t>(0, 40 * 3600)(rng)};
    PlannerJob job;
    job.id = "j";
    std::vector<std::string> pool = names;
    pool.push_back("missing");
    std::shuffle(pool.begin(), pool.end(), rng);
    pool.resize(static_cast<std::size_t>(
        std::uniform_int_distribution<int>(1, static_cast<int>(pool.size()))(rng)));
    job.regions = pool;
    job.duration = Seconds{std::uniform_int_distribution<std::int64_t>(1, 72)(rng) * 600};
    job.deadline = now + Seconds{std::uniform_int_distribution<std::int64_t>(0, 60 * 3600)(rng)};
    if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) {
      job.not_before =
          now + Seconds{std::uniform_int_distribution<std::int64_t>(-3600, 20000)(rng)};
    }
    auto fast = best_window(now, job, context, st);
    auto slow = brute_best(now, job, series, st);
    ASSERT_EQ(fast.has_value(), slow.has_value()) << "trial " << trial;
    if (!fast) continue;
    ++compared;
    ASSERT_TRUE(same_score(fast->score, slow->score))
        << "trial " << trial << ": " << fast->score << " vs " << slow->score;
    ASSERT_EQ(fast->start, slow->start) << "trial " << trial;
    ASSERT_EQ(fast->region, slow->region) << "trial " << trial;
    // The decision's window is one the brute force also scores.
    auto d = plan_one(now, job, context, {}, st);
    if (d.action == PlanAction::hold && d.score) {
      ASSERT_TRUE(same_score(*d.score, slow->score)) << "trial " << trial;
    }
  }
  EXPECT_GT(compared, 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, PlannerProperty, ::testing::Range(0, 40));

}  // namespace
}  // namespace gridshift
