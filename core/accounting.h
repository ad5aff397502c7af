// Carbon accounting per job (DESIGN.md §5): baseline, planned, actual and oracle grams, savings
// and regret, with the signal type. Pure: the observed (hindsight) series are passed in.
#pragma once

#include <optional>
#include <string>

#include "core/planner.h"

namespace gridshift {

struct AccountingInput {
  PlannerJob job;  // duration, deadline, not_before, candidates and power as submitted
  TimePoint submitted_at{};
  std::string region;                   // where the job ran
  std::optional<double> planned_score;  // mean x PUE of the chosen window on forecast values
  TimePoint started_at{};
  TimePoint finished_at{};
};

struct Accounting {
  std::string region;
  std::optional<SignalType> signal;
  std::optional<double> baseline_g;  // at submission, first candidate region, observed values
  std::optional<double> planned_g;   // chosen window, forecast values, expected duration
  std::optional<double> actual_g;    // real run interval, observed values
  std::optional<double> oracle_g;    // best feasible window in hindsight
  std::optional<double> savings;     // 1 - actual / baseline
  std::optional<double> regret;      // actual / oracle - 1
  bool operator==(const Accounting&) const = default;
};

// Emissions [g] of running `duration` at `power_watts` where the window scores `score`
// (mean intensity x PUE).
double emissions_g(double power_watts, Seconds duration, double score);

// `observed` holds the readings observed after the run, one series per region (hindsight).
// A figure whose readings are missing stays nullopt, and so do the ratios built on it.
Accounting account_job(const AccountingInput& input, const PlanningContext& observed,
                       const PlannerSettings& settings);

// {"region", "signal", "baseline_g", "planned_g", "actual_g", "oracle_g", "savings", "regret"};
// unknown figures are null. The form stored in Job::accounting_json.
std::string accounting_to_json(const Accounting& accounting);

}  // namespace gridshift
