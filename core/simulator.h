// The simulator behind `gridshift simulate` (docs/cli.md): replays a trace through the same
// planner the daemon runs (plan_all), on a virtual clock, and accounts every job in hindsight.
// Pure and single-threaded: traces and jobs come in as values, results go out as values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/accounting.h"
#include "core/planner.h"
#include "core/result.h"
#include "core/trace.h"

namespace gridshift {

struct SimulationJob {
  std::string name;
  TimePoint submit_at{};
  PlannerJob job;  // resolved: candidates, deadline, power; `segments` when interruptible
};

struct SimulationOptions {
  PlannerSettings planner;
  Seconds tick{300};  // re-plan period; the planner also runs at every submission
  // Without a forecast trace the planner sees the actuals, perturbed by Gaussian noise of
  // sigma = forecast_noise x the region's mean intensity (0 = a perfect forecast). The noise
  // of each interval is drawn once, from `seed`, like a day-ahead forecast that does not move.
  double forecast_noise = 0;
  std::uint64_t seed = 1;
  std::map<std::string, double, std::less<>> pue;  // per region; 1.0 when absent
  // Learn each region's forecast error from the trace's past only (intervals that ended before
  // the simulated now, within the last kForecastErrorWindow), as the daemon does from its
  // snapshots, and let the planner use it
  // (bias correction, error margin). A trace forecast has no issue times: like the trace_file
  // feed, which reissues it every hour, every lead sees the same errors, so one figure serves.
  bool learn_forecast_error = true;
  // The naive reference: each job is planned once, at its submission, and runs in the window
  // that was best then (argmin on the forecast); no re-planning, no cap.
  bool commit_at_submission = false;
};

struct SimulatedJob {
  std::string name;
  TimePoint submit_at{};
  std::string region;
  TimePoint start{};
  TimePoint end{};
  PlanReason reason = PlanReason::no_data;  // of the dispatch decision
  Accounting accounting;
  std::optional<double> planned_score;  // of the first dispatch decision
  // Every run of the job, in time order: one for a job that is not interruptible.
  std::vector<std::pair<TimePoint, TimePoint>> segments;
  int alternative = 0;  // the hardware option it ran on (0 = the main spec)
};

struct SimulationTotals {
  double emissions_g = 0;
  double baseline_g = 0;
  double oracle_g = 0;
  double savings = 0;  // 1 - emissions / baseline
  double regret = 0;   // emissions / oracle - 1
};

struct SimulationResult {
  std::vector<SimulatedJob> jobs;  // in input order
  SimulationTotals totals;
  std::size_t plans = 0;  // plan_all calls made
};

// `forecast` (optional) holds, per region, the forecast known for each interval; intervals it
// lacks are missing data. Error "invalid_simulation" naming "jobs[i].<field>" when a job names a
// region the actuals lack or its window [submit_at, deadline] runs outside the actuals.
Result<SimulationResult> simulate(const TraceSet& actuals, const TraceSet* forecast,
                                  std::span<const SimulationJob> jobs,
                                  const SimulationOptions& options);

// Sums and ratios over jobs (shared by the CLI and the scenario program).
SimulationTotals total(std::span<const SimulatedJob> jobs);

}  // namespace gridshift
