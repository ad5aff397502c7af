// Carbon accounting per job (docs/scheduling.md): baseline, planned, actual and oracle grams, savings
// and regret, with the signal type. Pure: the observed (hindsight) series are passed in.
#pragma once

#include <optional>
#include <string>

#include "core/planner.h"

namespace gridshift {

// How a run ended. Only a run that succeeded has saved anything: a failed or cancelled run
// counts the grams it emitted and nothing else.
enum class JobOutcome { succeeded, failed, cancelled };
std::string_view to_string(JobOutcome outcome);

struct AccountingInput {
  PlannerJob job;  // duration, deadline, not_before, candidates and power as submitted
  TimePoint submitted_at{};
  std::string region;                   // where the job ran
  std::optional<double> planned_score;  // mean x PUE of the chosen window on forecast values
  TimePoint started_at{};
  TimePoint finished_at{};
  JobOutcome outcome = JobOutcome::succeeded;
};

// Like for like (docs/scheduling.md, "Accounting"): every figure covers the same run length, the real one
// (finished_at - started_at), whatever the declared duration was.
struct Accounting {
  std::string region;
  std::optional<SignalType> signal;
  JobOutcome outcome = JobOutcome::succeeded;
  Seconds run{0};                    // the run length every figure covers
  std::optional<double> baseline_g;  // at submission, first candidate region, observed values
  std::optional<double> planned_g;   // chosen window's forecast score over the run length
  std::optional<double> actual_g;    // real run interval, observed values
  std::optional<double> oracle_g;    // best feasible window of the run length, in hindsight
  std::optional<double> savings;     // 1 - actual / baseline; succeeded runs only
  std::optional<double> regret;      // actual / oracle - 1; succeeded runs only
  bool operator==(const Accounting&) const = default;

  // Whether any figure still waits for readings (filled in when they arrive).
  bool incomplete() const;
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
// "oracle_g", "savings", "regret"}; unknown figures are null. The form stored in
// Job::accounting_json.
std::string accounting_to_json(const Accounting& accounting);

// The stored form read back (keys it does not know, such as the scheduler's planned_score, are
// ignored); nullopt when `text` is not a JSON object. A form stored before `outcome` and
// `run_seconds` existed reads as a succeeded run of length 0.
std::optional<Accounting> accounting_from_json(std::string_view text);

}  // namespace gridshift
