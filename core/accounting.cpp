#include "core/accounting.h"

#include <algorithm>
#include <chrono>
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
  if (!input.segments.empty()) {
    out.run = Seconds{0};
    for (const auto& [start, end] : input.segments)
      out.run += std::max(Seconds{0}, std::chrono::duration_cast<Seconds>(end - start));
    out.segments = static_cast<int>(input.segments.size());
  }
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
  if (input.segments.empty()) {
    if (auto s = score_of(input.region, input.started_at, input.finished_at)) {
      out.actual_g = emissions_g(watts, out.run, *s);
    }
  } else {
    double sum = 0;
    bool known = true;
    for (const auto& [start, end] : input.segments) {
      if (end <= start) continue;
      const auto s = score_of(input.region, start, end);
      known = known && s.has_value();
      if (s) sum += emissions_g(watts, std::chrono::duration_cast<Seconds>(end - start), *s);
    }
    if (known) out.actual_g = sum;
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
  if (input.segment_rules && !input.segments.empty()) {
    // The same work under the job's own rules: the run less the resumes' overheads.
    PlannerJob as_segments = input.job;
    as_segments.duration = out.run - (out.segments - 1) * input.segment_rules->resume_overhead;
    as_segments.segments = input.segment_rules;
    if (as_segments.duration > Seconds{0}) {
      if (auto oracle = best_segments(input.submitted_at, as_segments, observed, settings)) {
        out.oracle_segments_g = emissions_g(watts, oracle->total, oracle->score);
      }
    }
  }
  const auto& oracle = input.segment_rules ? out.oracle_segments_g : out.oracle_g;
  if (out.actual_g && oracle && *oracle > 0) {
    out.regret = *out.actual_g / *oracle - 1.0;
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
  a.segments = static_cast<int>(number("segments").value_or(0));
  a.oracle_segments_g = number("oracle_segments_g");
  a.cost_usd = number("cost_usd");
  a.water_l = number("water_l");
  a.embodied_g = number("embodied_g");
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
  if (a.segments > 0) {
    j["segments"] = a.segments;
    j["oracle_segments_g"] = opt(a.oracle_segments_g);
  }
  j["cost_usd"] = opt(a.cost_usd);
  j["water_l"] = opt(a.water_l);
  j["embodied_g"] = opt(a.embodied_g);
  return j.dump();
}

nlohmann::json segments_to_json(const std::vector<JobSegment>& segments) {
  auto out = nlohmann::json::array();
  for (const auto& s : segments) {
    out.push_back({{"n", s.n},
                   {"region", s.region},
                   {"start", format_rfc3339(s.start)},
                   {"end", format_rfc3339(s.end)},
                   {"finished_at", s.finished_at ? nlohmann::json(format_rfc3339(*s.finished_at))
                                                 : nlohmann::json()},
                   {"state", std::string(to_string(s.state))},
                   {"remote_name", s.remote_name}});
  }
  return out;
}

std::vector<JobSegment> segments_from_json(const nlohmann::json& j) {
  std::vector<JobSegment> out;
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (!e.is_object()) continue;
    JobSegment s;
    s.n = e.value("n", 0);
    s.region = e.value("region", std::string());
    auto time = [&](const char* key) -> std::optional<TimePoint> {
      auto it = e.find(key);
      if (it == e.end() || !it->is_string()) return std::nullopt;
      auto t = parse_rfc3339(it->get<std::string>());
      return t ? std::optional<TimePoint>(*t) : std::nullopt;
    };
    s.start = time("start").value_or(TimePoint{});
    s.end = time("end").value_or(TimePoint{});
    s.finished_at = time("finished_at");
    s.state = parse_segment_state(e.value("state", std::string())).value_or(SegmentState::ended);
    s.remote_name = e.value("remote_name", std::string());
    out.push_back(std::move(s));
  }
  return out;
}

std::string job_accounting_to_json(const Job& job) {
  if (!job.accounting && !job.planned_score && job.excluded.empty() && job.segments.empty() &&
      job.alternative == 0) {
    return "";
  }
  nlohmann::json j = job.accounting ? nlohmann::json::parse(accounting_to_json(*job.accounting))
                                    : nlohmann::json::object();
  if (job.planned_score) j["planned_score"] = *job.planned_score;
  if (!job.excluded.empty()) {
    auto& excluded = j["excluded"] = nlohmann::json::array();
    for (const auto& e : job.excluded)
      excluded.push_back({{"region", e.region}, {"reason", e.reason}});
  }
  if (!job.segments.empty()) j["job_segments"] = segments_to_json(job.segments);
  if (job.alternative != 0) j["alternative"] = job.alternative;
  return j.dump();
}

void job_accounting_from_json(std::string_view text, Job& job) {
  job.planned_score.reset();
  job.excluded.clear();
  job.accounting.reset();
  job.segments.clear();
  job.alternative = 0;
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
  if (auto it = j.find("job_segments"); it != j.end()) job.segments = segments_from_json(*it);
  if (auto it = j.find("alternative"); it != j.end() && it->is_number_integer()) {
    job.alternative = it->get<int>();
  }
  // The figures are there once the job has ended: a record holding only the plan's
  // planned_score and exclusions has no `actual_g` key.
  if (j.contains("actual_g")) job.accounting = accounting_from_json(text);
}

}  // namespace gridshift
