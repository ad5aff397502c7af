// Carbon accounting per job (docs/scheduling.md): baseline, planned, actual and oracle grams,
// savings and regret, with the signal type. Pure: the observed (hindsight) series are passed in.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/planner.h"

namespace gridshift {

struct AccountingInput {
  PlannerJob job;  // duration, deadline, not_before, candidates and power as submitted
  TimePoint submitted_at{};
  std::string region;                   // where the job ran
  std::optional<double> planned_score;  // mean x PUE of the chosen window on forecast values
  TimePoint started_at{};
  TimePoint finished_at{};
  JobOutcome outcome = JobOutcome::succeeded;
  // Interruptible jobs: the segments that ran ([start, end) each, in time order) and the job's
  // rules. The run is then their sum, and started_at / finished_at are not used.
  std::vector<std::pair<TimePoint, TimePoint>> segments;
  std::optional<SegmentRules> segment_rules;
};

// Emissions [g] of running `duration` at `power_watts` where the window scores `score`
// (mean intensity x PUE).
double emissions_g(double power_watts, Seconds duration, double score);

// `observed` holds the readings observed after the run, one series per region (hindsight).
// A figure whose readings are missing stays nullopt, and so do the ratios built on it. A run
// that failed or was cancelled gets actual_g only: no baseline, oracle, savings or regret.
Accounting account_job(const AccountingInput& input, const PlanningContext& observed,
                       const PlannerSettings& settings);

// {"region", "signal", "outcome", "run_seconds", "baseline_g", "planned_g", "actual_g",
// "oracle_g", "savings", "regret"}; unknown figures are null. Interruptible jobs add
// "segments" (how many ran) and "oracle_segments_g"; every job has "cost_usd", "water_l" and
// "embodied_g" (null when unknown).
std::string accounting_to_json(const Accounting& accounting);

// The stored form read back (keys it does not know, such as the scheduler's planned_score, are
// ignored); nullopt when `text` is not a JSON object. A form stored before `outcome` and
// `run_seconds` existed reads as a succeeded run of length 0.
std::optional<Accounting> accounting_from_json(std::string_view text);

// A job's accounting record as the store keeps it and the API shows it: the figures (once the
// job has ended), `planned_score`, `excluded` and an interruptible job's segments
// (`job_segments`) and the chosen `alternative` when not 0, in one JSON object; "" when the job has
// none of them.
std::string job_accounting_to_json(const Job& job);
// The segments as the job JSON shows them: [{"n", "region", "start", "end", "finished_at",
// "state", "remote_name"}].
nlohmann::json segments_to_json(const std::vector<JobSegment>& segments);

// The stored record read back into `job` (planned_score, excluded, accounting); text that is
// not a JSON object leaves them empty.
void job_accounting_from_json(std::string_view text, Job& job);

}  // namespace gridshift
