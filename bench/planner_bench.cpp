// The planner's full re-plan: PlanningContext built from scratch (prefix sums, per-duration
// window tables, sparse tables) plus plan_all over every queued job, as the daemon does each
// tick. Arguments: jobs, regions, forecast horizon in hours, candidate regions per job.
// Run: planner_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <random>

#include "core/planner.h"

namespace {

using namespace gridshift;

const TimePoint kNow = TimePoint{Seconds{1767225600 + 1800}};  // half past the hour

std::vector<RegionSeries> make_series(int regions, int horizon_hours, std::mt19937_64& rng) {
  std::vector<RegionSeries> out;
  std::uniform_real_distribution<double> base(20, 600);
  std::normal_distribution<double> wiggle(0, 40);
  const TimePoint start = kNow - Seconds{1800};
  for (int r = 0; r < regions; ++r) {
    RegionSeries s;
    s.region = "region-" + std::to_string(r);
    s.pue = 1.1;
    s.has_forecast = true;  // the hours after the first stand for a forecast
    const double mean = base(rng);
    for (int h = 0; h <= horizon_hours; ++h) {
      const double daily = 0.3 * mean * std::sin(static_cast<double>(h) * 0.2618);
      s.points.push_back(Point{start + Seconds{h * 3600}, start + Seconds{(h + 1) * 3600},
                               std::max(1.0, mean + daily + wiggle(rng))});
    }
    out.push_back(std::move(s));
  }
  return out;
}

// `interruptible_percent` of the jobs (every n-th) may run in up to 4 segments of at least an
// hour (no resume overhead): their plans come from the segment search, not the window tables.
// `alternatives_percent` of them (every n-th) have a hardware alternative that runs half as
// long at twice the power in the same regions: each such job is planned twice.
std::vector<PlannerJob> make_jobs(int jobs, int regions, int horizon_hours, int per_job,
                                  std::mt19937_64& rng, int interruptible_percent = 0,
                                  int alternatives_percent = 0) {
  std::vector<PlannerJob> out;
  out.reserve(static_cast<std::size_t>(jobs));
  std::uniform_int_distribution<int> region(0, regions - 1);
  std::uniform_int_distribution<int> hours(1, 12);
  std::uniform_int_distribution<int> slack_hours(1, std::max(2, horizon_hours - 12));
  for (int i = 0; i < jobs; ++i) {
    PlannerJob j;
    j.id = "job-" + std::to_string(i);
    for (int k = 0; k < per_job; ++k)
      j.regions.push_back("region-" + std::to_string(region(rng)));
    j.duration = Seconds{hours(rng) * 3600};
    j.deadline = kNow + j.duration + Seconds{slack_hours(rng) * 3600};
    j.power_watts = 1000;
    j.policy = Policy::best_window;
    if (interruptible_percent > 0 && i % (100 / interruptible_percent) == 0) {
      j.segments = SegmentRules{4, Seconds{3600}, Seconds{0}};
    }
    if (alternatives_percent > 0 && i % (100 / alternatives_percent) == 0) {
      j.alternatives.push_back(PlannerAlternative{1, std::max(Seconds{1800}, j.duration / 2),
                                                  2 * j.power_watts, j.regions});
    }
    out.push_back(std::move(j));
  }
  return out;
}

void BM_FullReplan(benchmark::State& state) {
  const int jobs = static_cast<int>(state.range(0));
  const int regions = static_cast<int>(state.range(1));
  const int horizon = static_cast<int>(state.range(2));
  const int per_job = static_cast<int>(state.range(3));
  const int interruptible = static_cast<int>(state.range(4));
  const int alternatives = static_cast<int>(state.range(5));
  std::mt19937_64 rng(42);
  const auto series = make_series(regions, horizon, rng);
  const auto queued = make_jobs(jobs, regions, horizon, per_job, rng, interruptible, alternatives);
  PlannerSettings settings;
  settings.max_concurrent_dispatches = 1 << 30;
  std::size_t dispatched = 0;
  for (auto _ : state) {
    const PlanningContext context(series);
    auto decisions = plan_all(kNow, queued, context, {}, settings);
    dispatched = 0;
    for (const auto& d : decisions)
      dispatched += d.action == PlanAction::dispatch;
    benchmark::DoNotOptimize(decisions.data());
  }
  state.counters["dispatch_now"] = static_cast<double>(dispatched);
  state.counters["jobs/s"] =
      benchmark::Counter(static_cast<double>(jobs), benchmark::Counter::kIsIterationInvariantRate);
}

// The headline: 100,000 jobs, 50 regions, 7 days hourly, 1..3 candidates per job.
BENCHMARK(BM_FullReplan)
    ->ArgNames({"jobs", "regions", "horizon_h", "candidates", "interruptible_pct",
                "alternatives_pct"})
    ->Args({100000, 50, 168, 3, 0, 0})
    // the same with 10 % interruptible jobs (up to 4 segments of at least 1 h)
    ->Args({100000, 50, 168, 3, 10, 0})
    ->Args({100000, 50, 48, 3, 10, 0})
    // the same with hardware alternatives: 10 % and every job with one alternative
    ->Args({100000, 50, 168, 3, 0, 10})
    ->Args({100000, 50, 168, 3, 0, 100})
    // scaling with jobs
    ->Args({10000, 50, 168, 3, 0, 0})
    ->Args({1000, 50, 168, 3, 0, 0})
    // scaling with regions
    ->Args({100000, 10, 168, 3, 0, 0})
    ->Args({100000, 200, 168, 3, 0, 0})
    // scaling with horizon
    ->Args({100000, 50, 48, 3, 0, 0})
    ->Args({100000, 50, 336, 3, 0, 0})
    ->Args({100000, 50, 720, 3, 0, 0})
    // scaling with candidates per job
    ->Args({100000, 50, 168, 1, 0, 0})
    ->Args({100000, 50, 168, 10, 0, 0})
    ->Args({100000, 50, 168, 50, 0, 0})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
