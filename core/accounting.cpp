#include "core/accounting.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace gridshift {

double emissions_g(double power_watts, Seconds duration, double score) {
  // energy_kwh with PUE 1: the score already carries the PUE.
  return energy_kwh(power_watts, static_cast<double>(duration.count()) / 3600.0, 1.0) * score;
}

std::string_view to_string(JobOutcome outcome) {
  switch (outcome) {
    case JobOutcome::succeeded:
      return "succeeded";
    case JobOutcome::failed:
      return "failed";
    case JobOutcome::cancelled:
      return "cancelled";
  }
  return "succeeded";
}

bool Accounting::incomplete() const {
  if (!actual_g) return true;
  if (outcome != JobOutcome::succeeded || run <= Seconds{0}) return false;
  return !baseline_g || !oracle_g;
}

Accounting account_job(const AccountingInput& input, const PlanningContext& observed,
                       const PlannerSettings& settings) {
  Accounting out;
  out.region = input.region;
  out.outcome = input.outcome;
  out.run = std::max(Seconds{0}, input.finished_at - input.started_at);
  const double watts = input.job.power_watts;
  if (out.run <= Seconds{0}) {
    // It never ran (refused at create, cancelled before it started): nothing emitted.
    out.actual_g = 0;
    if (input.outcome == JobOutcome::succeeded) {
      out.baseline_g = 0;
      out.oracle_g = 0;
      if (input.planned_score) out.planned_g = 0;
    }
    return out;
  }
  auto score_of = [&](std::string_view region, TimePoint start,
                      TimePoint end) -> std::optional<double> {
    const int r = observed.find(region);
    if (r < 0) return std::nullopt;
    const auto& series = observed.series()[static_cast<std::size_t>(r)];
    if (!out.signal) out.signal = series.signal;
    auto mean = window_mean(series, start, end);
    if (!mean) return std::nullopt;
    return *mean * series.pue;
  };
  if (auto s = score_of(input.region, input.started_at, input.finished_at)) {
    out.actual_g = emissions_g(watts, out.run, *s);
  }
  if (input.outcome != JobOutcome::succeeded) return out;
  if (!input.job.regions.empty()) {
    if (auto s =
            score_of(input.job.regions.front(), input.submitted_at, input.submitted_at + out.run)) {
      out.baseline_g = emissions_g(watts, out.run, *s);
    }
  }
  if (input.planned_score) {
    out.planned_g = emissions_g(watts, out.run, *input.planned_score);
  }
  PlannerJob as_run = input.job;
  as_run.duration = out.run;
  if (auto oracle = best_window(input.submitted_at, as_run, observed, settings)) {
    out.oracle_g = emissions_g(watts, out.run, oracle->score);
  }
  if (out.actual_g && out.baseline_g && *out.baseline_g > 0) {
    out.savings = 1.0 - *out.actual_g / *out.baseline_g;
  }
  if (out.actual_g && out.oracle_g && *out.oracle_g > 0) {
    out.regret = *out.actual_g / *out.oracle_g - 1.0;
  }
  return out;
}

std::optional<Accounting> accounting_from_json(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto number = [&](const char* key) -> std::optional<double> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
  };
  Accounting a;
  if (auto it = j.find("region"); it != j.end() && it->is_string()) {
    a.region = it->get<std::string>();
  }
  if (auto it = j.find("signal"); it != j.end() && it->is_string()) {
    a.signal = parse_signal_type(it->get<std::string>());
  }
  if (auto it = j.find("outcome"); it != j.end() && it->is_string()) {
    if (*it == "failed") a.outcome = JobOutcome::failed;
    if (*it == "cancelled") a.outcome = JobOutcome::cancelled;
  }
  a.run = Seconds{static_cast<std::int64_t>(number("run_seconds").value_or(0))};
  a.baseline_g = number("baseline_g");
  a.planned_g = number("planned_g");
  a.actual_g = number("actual_g");
  a.oracle_g = number("oracle_g");
  a.savings = number("savings");
  a.regret = number("regret");
  return a;
}

std::string accounting_to_json(const Accounting& a) {
  auto opt = [](const std::optional<double>& v) -> nlohmann::json {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  nlohmann::json j;
  j["region"] = a.region;
  j["signal"] = a.signal ? nlohmann::json(std::string(to_string(*a.signal))) : nullptr;
  j["outcome"] = std::string(to_string(a.outcome));
  j["run_seconds"] = a.run.count();
  j["baseline_g"] = opt(a.baseline_g);
  j["planned_g"] = opt(a.planned_g);
  j["actual_g"] = opt(a.actual_g);
  j["oracle_g"] = opt(a.oracle_g);
  j["savings"] = opt(a.savings);
  j["regret"] = opt(a.regret);
  return j.dump();
}

std::string job_accounting_to_json(const Job& job) {
  if (!job.accounting && !job.planned_score && job.excluded.empty()) return "";
  nlohmann::json j = job.accounting ? nlohmann::json::parse(accounting_to_json(*job.accounting))
                                    : nlohmann::json::object();
  if (job.planned_score) j["planned_score"] = *job.planned_score;
  if (!job.excluded.empty()) {
    auto& excluded = j["excluded"] = nlohmann::json::array();
    for (const auto& e : job.excluded)
      excluded.push_back({{"region", e.region}, {"reason", e.reason}});
  }
  return j.dump();
}

void job_accounting_from_json(std::string_view text, Job& job) {
  job.planned_score.reset();
  job.excluded.clear();
  job.accounting.reset();
  // Most held jobs have no record: every job read goes through here, so skip the parser.
  if (text.empty()) return;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return;
  if (auto it = j.find("planned_score"); it != j.end() && it->is_number()) {
    job.planned_score = it->get<double>();
  }
  if (auto it = j.find("excluded"); it != j.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (!e.is_object()) continue;
      job.excluded.push_back(
          Exclusion{e.value("region", std::string()), e.value("reason", std::string())});
    }
  }
  // The figures are there once the job has ended: a record holding only the plan's
  // planned_score and exclusions has no `actual_g` key.
  if (j.contains("actual_g")) job.accounting = accounting_from_json(text);
}

}  // namespace gridshift
