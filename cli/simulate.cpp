#include "cli/simulate.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/local_time.h"
#include "common/file_io.h"
#include "core/accelerators.h"
#include "core/job_spec.h"
#include "core/levers.h"
#include "core/simulator.h"
#include "core/trace.h"
#include "daemon/config/config.h"
#include "daemon/feeds/registry.h"

namespace gridshift {

namespace {

constexpr Seconds kDefaultSimulationTick{300};

// Errors shown one by one before the rest are summarised.
constexpr std::size_t kErrorsShown = 5;

// "jobs[12].regions[0]" -> "jobs[*].regions[0]": the same mistake in many jobs is one kind.
std::string kind_of(const std::string& field) {
  if (!field.starts_with("jobs[")) return field;
  const auto close = field.find(']');
  return close == std::string::npos ? field : "jobs[*]" + field.substr(close + 1);
}

// Every error of a small file; in a large one the first few, then each kind of error once with
// how many jobs have it and where it first appears, instead of hundreds of identical lines.
void print_error(std::ostream& err, const std::string& file, const Error& error) {
  if (error.details.empty()) {
    err << file << ": " << error.message << '\n';
    return;
  }
  const auto print = [&](const FieldError& d) {
    err << file;
    if (d.line > 0) err << ':' << d.line;
    err << ": " << (d.field.empty() ? "" : d.field + ": ") << d.message << '\n';
  };
  const auto& all = error.details;
  const std::size_t shown = all.size() <= 2 * kErrorsShown ? all.size() : kErrorsShown;
  for (std::size_t i = 0; i < shown; ++i)
    print(all[i]);
  if (shown == all.size()) return;
  struct Kind {
    std::size_t count = 0;
    int first_line = 0;
    std::string first_field;
  };
  std::vector<std::pair<std::string, Kind>> kinds;  // in order of first appearance
  for (std::size_t i = shown; i < all.size(); ++i) {
    const std::string key = kind_of(all[i].field) + ": " + all[i].message;
    auto it =
        std::find_if(kinds.begin(), kinds.end(), [&](const auto& k) { return k.first == key; });
    if (it == kinds.end()) {
      kinds.push_back({key, Kind{0, all[i].line, all[i].field}});
      it = std::prev(kinds.end());
    }
    ++it->second.count;
  }
  err << fmt::format("{}: ... and {} more errors:\n", file, all.size() - shown);
  for (const auto& [key, kind] : kinds) {
    err << fmt::format("  {} x {} (first: {}{})\n", kind.count, key, kind.first_field,
                       kind.first_line > 0 ? fmt::format(", line {}", kind.first_line) : "");
  }
}

std::optional<std::string> read_or_report(const std::string& path, const std::string& what,
                                          std::ostream& err) {
  auto text = read_text_file(path);
  if (!text) {
    err << path << ": cannot read " << what << ": " << text.error().message << '\n';
    return std::nullopt;
  }
  return std::move(*text);
}

struct JobContext {
  std::vector<std::string> known_regions;
  LeverContext levers;  // the config's (availability, prices), else the built-in tables
  Seconds default_deadline{24 * 3600};
  Seconds dispatch_slack{15 * 60};
};

// J.yaml: a list of job specs, each with `submit_at`.
Result<std::vector<SimulationJob>> parse_jobs(const std::string& text, const JobContext& ctx) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return make_error("invalid_input", "not YAML",
                      {{"jobs", e.msg, e.mark.is_null() ? 0 : e.mark.line + 1}});
  }
  if (!root.IsSequence()) {
    return make_error("invalid_input", "expected a list of job specs",
                      {{"jobs", "expected a list of job specs, each with submit_at", 1}});
  }
  std::vector<SimulationJob> jobs;
  std::vector<FieldError> errors;
  for (std::size_t i = 0; i < root.size(); ++i) {
    YAML::Node item = YAML::Clone(root[i]);
    const std::string prefix = fmt::format("jobs[{}]", i);
    const int line = root[i].Mark().is_null() ? 0 : root[i].Mark().line + 1;
    if (!item.IsMap()) {
      errors.push_back({prefix, "expected a job spec (a map)", line});
      continue;
    }
    std::optional<TimePoint> submit_at;
    if (!item["submit_at"]) {
      errors.push_back({prefix + ".submit_at", "required", line});
    } else {
      auto t = parse_rfc3339(item["submit_at"].Scalar());
      if (!t) {
        errors.push_back({prefix + ".submit_at", t.error().message, line});
      } else {
        submit_at = *t;
      }
      item.remove("submit_at");
    }
    if (!submit_at) continue;
    JobSpecContext spec_context;
    spec_context.known_regions = ctx.known_regions;
    spec_context.now = *submit_at;
    spec_context.default_deadline = ctx.default_deadline;
    spec_context.dispatch_slack = ctx.dispatch_slack;
    // "tomorrow 08:00" means the day after the job's own submit_at, in the caller's zone.
    const auto resolver = local_time_resolver(*submit_at);
    spec_context.local_time = &resolver;
    YAML::Emitter emitter;
    emitter << item;
    auto spec = load_job_spec(emitter.c_str(), spec_context);
    if (!spec) {
      for (auto d : spec.error().details) {
        errors.push_back({prefix + (d.field.empty() ? "" : "." + d.field), d.message, line});
      }
      if (spec.error().details.empty()) errors.push_back({prefix, spec.error().message, line});
      continue;
    }
    SimulationJob job;
    job.name = spec->name;
    job.submit_at = *submit_at;
    job.job.id = spec->name;
    job.job.regions = spec->regions.empty() ? ctx.known_regions : spec->regions;
    job.job.duration = spec->duration;
    job.job.deadline = spec->deadline.value_or(*submit_at + ctx.default_deadline);
    job.job.not_before = spec->not_before;
    job.job.policy = spec->policy;
    job.job.threshold = spec->threshold;
    job.job.power_watts = derive_power_watts(*spec, AcceleratorTable::builtin());
    if (spec->interruptible) job.job.segments = to_segment_rules(*spec->interruptible);
    // Hardware alternatives and the regions each may use, as the daemon plans them.
    Job as_submitted;
    as_submitted.spec = *spec;
    as_submitted.regions = job.job.regions;
    as_submitted.power_watts = job.job.power_watts;
    const auto options = job_options(as_submitted, ctx.levers);
    if (std::any_of(options.begin(), options.end(),
                    [](const JobOption& o) { return !o.regions.empty(); })) {
      job.job.regions = options.front().regions;
    }
    for (std::size_t k = 1; k < options.size(); ++k) {
      job.job.alternatives.push_back(PlannerAlternative{
          options[k].alternative, options[k].duration, options[k].power_watts, options[k].regions});
    }
    jobs.push_back(std::move(job));
  }
  if (!errors.empty()) return make_error("invalid_input", "invalid jobs", std::move(errors));
  return jobs;
}

// With a config, jobs name configured regions and the trace is keyed by each region's
// location (an Electricity Maps zone, say): give every region its location's series.
TraceSet by_region(const TraceSet& trace, const Config& config) {
  TraceSet out;
  for (const auto& region : config.regions) {
    const std::string& key = region.location.empty() ? region.name : region.location;
    if (const auto* points = trace.find(key)) {
      out.regions.push_back(region.name);
      out.series[region.name] = *points;
    }
  }
  return out;
}

std::string kg(double grams) {
  return fmt::format("{:.3f} kg", grams / 1000.0);
}

void print_table(std::ostream& out, const SimulationResult& r) {
  out << fmt::format("{:<24} {:<20} {:<14} {:<20} {:>12} {:>12} {:>12}\n", "NAME", "SUBMIT_AT",
                     "REGION", "START", "EMISSIONS_G", "BASELINE_G", "ORACLE_G");
  for (const auto& j : r.jobs) {
    out << fmt::format("{:<24} {:<20} {:<14} {:<20} {:>12.1f} {:>12.1f} {:>12.1f}\n", j.name,
                       format_rfc3339(j.submit_at), j.region, format_rfc3339(j.start),
                       j.accounting.actual_g.value_or(0), j.accounting.baseline_g.value_or(0),
                       j.accounting.oracle_g.value_or(0));
  }
  const auto& t = r.totals;
  out << fmt::format(
      "total: {} CO2e instead of {} if started at submission (saved {:.1f} %); hindsight optimum "
      "{} (regret {:.2f} %)\n",
      kg(t.emissions_g), kg(t.baseline_g), t.savings * 100.0, kg(t.oracle_g), t.regret * 100.0);
}

void print_json(std::ostream& out, const SimulationResult& r) {
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto& j : r.jobs) {
    jobs.push_back({{"name", j.name},
                    {"submit_at", format_rfc3339(j.submit_at)},
                    {"region", j.region},
                    {"alternative", j.alternative},
                    {"start", format_rfc3339(j.start)},
                    {"end", format_rfc3339(j.end)},
                    {"emissions_g", j.accounting.actual_g.value_or(0)},
                    {"baseline_g", j.accounting.baseline_g.value_or(0)},
                    {"oracle_g", j.accounting.oracle_g.value_or(0)}});
    auto& segments = jobs.back()["segments"] = nlohmann::json::array();
    for (const auto& [start, end] : j.segments)
      segments.push_back({{"start", format_rfc3339(start)}, {"end", format_rfc3339(end)}});
  }
  const auto& t = r.totals;
  nlohmann::json doc = {{"jobs", std::move(jobs)},
                        {"totals",
                         {{"emissions_g", t.emissions_g},
                          {"baseline_g", t.baseline_g},
                          {"oracle_g", t.oracle_g},
                          {"savings", t.savings},
                          {"regret", t.regret}}}};
  out << doc.dump(2) << '\n';
}

}  // namespace

int run_simulate(const SimulateArgs& args, std::ostream& out, std::ostream& err) {
  SimulationOptions options;
  options.tick = kDefaultSimulationTick;
  JobContext job_context;
  std::optional<Config> config;
  if (!args.config.empty()) {
    auto loaded = load_config_file(args.config, feed_schemas());
    if (!loaded) {
      err << format_config_errors(args.config, loaded.error()) << '\n';
      return 2;
    }
    config = std::move(*loaded);
    const auto& s = config->scheduler;
    options.tick = s.tick;
    options.planner = PlannerSettings{s.dispatch_slack, s.min_gain, s.max_concurrent_dispatches,
                                      s.max_staleness, s.error_margin};
    job_context.default_deadline = s.default_deadline;
    for (const auto& region : config->regions)
      options.pue[region.name] = region.pue;
    job_context.known_regions = config->region_names();
    job_context.levers = lever_context(*config);
  }
  std::vector<FieldError> flag_errors;
  auto duration_flag = [&](const std::string& text, const char* flag, Seconds& target) {
    if (text.empty()) return;
    auto d = parse_duration(text);
    if (!d) {
      flag_errors.push_back({flag, d.error().message, 0});
    } else {
      target = *d;
    }
  };
  duration_flag(args.tick, "--tick", options.tick);
  duration_flag(args.dispatch_slack, "--dispatch-slack", options.planner.dispatch_slack);
  if (options.tick <= Seconds{0}) flag_errors.push_back({"--tick", "must be positive", 0});
  if (args.min_gain) {
    if (*args.min_gain < 0 || *args.min_gain >= 1) {
      flag_errors.push_back({"--min-gain", "must be in [0, 1)", 0});
    }
    options.planner.min_gain = *args.min_gain;
  }
  if (args.forecast_noise) {
    if (*args.forecast_noise < 0) flag_errors.push_back({"--forecast-noise", "negative", 0});
    options.forecast_noise = *args.forecast_noise;
  }
  if (args.forecast_noise && !args.forecast.empty()) {
    flag_errors.push_back({"--forecast-noise", "give either --forecast or --forecast-noise", 0});
  }
  options.seed = args.seed;
  job_context.dispatch_slack = options.planner.dispatch_slack;
  if (!flag_errors.empty()) {
    for (const auto& e : flag_errors)
      err << "gridshift simulate: " << to_string(e) << '\n';
    return 2;
  }

  auto actuals_text = read_or_report(args.actuals, "actuals", err);
  if (!actuals_text) return 2;
  auto actuals = parse_trace_csv(*actuals_text, args.actuals);
  if (!actuals) {
    print_error(err, args.actuals, actuals.error());
    return 2;
  }
  std::optional<TraceSet> forecast;
  if (!args.forecast.empty()) {
    auto text = read_or_report(args.forecast, "forecast", err);
    if (!text) return 2;
    auto parsed = parse_trace_csv(*text, args.forecast);
    if (!parsed) {
      print_error(err, args.forecast, parsed.error());
      return 2;
    }
    forecast = std::move(*parsed);
  }
  if (config) {
    *actuals = by_region(*actuals, *config);
    if (forecast) *forecast = by_region(*forecast, *config);
  } else {
    job_context.known_regions = actuals->regions;
  }
  auto jobs_text = read_or_report(args.jobs, "jobs", err);
  if (!jobs_text) return 2;
  auto jobs = parse_jobs(*jobs_text, job_context);
  if (!jobs) {
    print_error(err, args.jobs, jobs.error());
    return 2;
  }
  auto result = simulate(*actuals, forecast ? &*forecast : nullptr, *jobs, options);
  if (!result) {
    print_error(err, args.jobs, result.error());
    return 2;
  }
  if (args.json) {
    print_json(out, *result);
  } else {
    print_table(out, *result);
  }
  return 0;
}

CLI::App* add_simulate_command(CLI::App& app, std::function<int()>& run, const bool& global_json) {
  auto args = std::make_shared<SimulateArgs>();
  auto* sub = app.add_subcommand(
      "simulate", "replay a carbon-intensity trace through the planner on a virtual clock");
  sub->add_option("--actuals", args->actuals, "trace CSV: region,timestamp,gco2_per_kwh")
      ->required();
  auto* fc = sub->add_option("--forecast", args->forecast, "forecast CSV, same columns");
  auto* noise = sub->add_option("--forecast-noise", args->forecast_noise,
                                "forecast = actuals + N(0, (e x mean intensity)^2)");
  fc->excludes(noise);
  sub->add_option("--seed", args->seed, "seed of the forecast noise (default 1)");
  sub->add_option("--jobs", args->jobs, "YAML list of job specs, each with submit_at")->required();
  sub->add_option("-c,--config", args->config, "scheduler settings and region PUEs");
  sub->add_option("--tick", args->tick, "re-plan period (default: the config's, else 5m)");
  sub->add_option("--min-gain", args->min_gain, "override scheduler.min_gain");
  sub->add_option("--dispatch-slack", args->dispatch_slack, "override scheduler.dispatch_slack");
  sub->add_flag("--json", args->json, "print machine-readable JSON");
  sub->callback([args, &run, &global_json] {
    run = [args, &global_json] {
      SimulateArgs a = *args;
      a.json = a.json || global_json;
      return run_simulate(a, std::cout, std::cerr);
    };
  });
  return sub;
}

}  // namespace gridshift
