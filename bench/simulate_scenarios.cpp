// Scenario runs of the simulator on real traces (../shared/data/traces): overnight jobs with a
// perfect forecast and with the real day-ahead forecasts of 2021 H2, time-only and
// time-plus-place shifting, per zone; and the timing of a simulated year (2020, 8 zones,
// 3,000 jobs). Prints markdown tables. Skips cleanly (exit 0) when the traces are absent.
// Beside each run, the naive reference: argmin on the raw forecast at submission, committed to.
// With --interruptible: only the interruptible comparison (the same overnight jobs, each allowed
// up to four segments of at least an hour, no resume overhead), per zone, on 2020 actuals
// (perfect forecast) and on 2021 H2 (perfect and real day-ahead forecasts).
// Run: simulate_scenarios [TRACES_DIR] [--seed N] [--min-gain X] [--interruptible]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "core/simulator.h"
#include "core/trace.h"

namespace {

using namespace gridshift;
namespace fs = std::filesystem;

// Standard-time UTC offsets of the zones (no daylight saving: a simplification of "office
// hours" that moves submissions by at most an hour).
int utc_offset_hours(const std::string& zone) {
  static const std::map<std::string, int> offsets = {
      {"DE", 1},           {"SE", 1},           {"FR", 1},          {"GB", 0},
      {"US-CAL-CISO", -8}, {"US-TEX-ERCO", -6}, {"US-NE-ISNE", -5}, {"US-MIDA-PJM", -5},
      {"ES", 1},           {"NO", 1},           {"BR", -3}};
  auto it = offsets.find(zone);
  return it == offsets.end() ? 0 : it->second;
}

bool is_workday(std::chrono::sys_days day) {
  const std::chrono::weekday wd{day};
  return wd != std::chrono::Saturday && wd != std::chrono::Sunday;
}

// Overnight jobs: submitted 09:00-17:00 local on a workday, 1-12 h, due 09:00 local on the
// next workday, with the given zone first and `extra` more candidate zones.
struct JobMix {
  int per_zone = 200;
  int max_extra_zones = 0;  // 0: time-only; 2: one to three candidate zones
};

std::vector<SimulationJob> overnight_jobs(const TraceSet& trace, const JobMix& mix,
                                          std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<SimulationJob> jobs;
  TimePoint first = trace.series.begin()->second.front().start;
  TimePoint last = trace.series.begin()->second.back().end;
  for (const auto& [zone, points] : trace.series) {
    first = std::max(first, points.front().start);
    last = std::min(last, points.back().end);
  }
  const auto first_day = std::chrono::floor<std::chrono::days>(first) + std::chrono::days{1};
  const auto last_day = std::chrono::floor<std::chrono::days>(last) - std::chrono::days{5};
  const auto days = (last_day - first_day).count();
  std::uniform_int_distribution<long> day_pick(0, days);
  std::uniform_int_distribution<int> minute(0, 8 * 60);
  std::uniform_int_distribution<int> hours(1, 12);
  std::uniform_int_distribution<int> extra(0, mix.max_extra_zones);
  for (const auto& zone : trace.regions) {
    for (int n = 0; n < mix.per_zone; ++n) {
      std::chrono::sys_days day;
      do {
        day = first_day + std::chrono::days{day_pick(rng)};
      } while (!is_workday(day));
      auto next = day + std::chrono::days{1};
      while (!is_workday(next))
        next += std::chrono::days{1};
      const Seconds offset{utc_offset_hours(zone) * 3600};
      SimulationJob j;
      j.submit_at = TimePoint{day} + Seconds{9 * 3600 + minute(rng) * 60} - offset;
      j.name = zone + "-" + std::to_string(n);
      j.job.id = j.name;
      j.job.regions = {zone};
      std::vector<std::string> others;
      for (const auto& z : trace.regions) {
        if (z != zone) others.push_back(z);
      }
      std::shuffle(others.begin(), others.end(), rng);
      const int k = std::min(extra(rng), static_cast<int>(others.size()));
      for (int i = 0; i < k; ++i)
        j.job.regions.push_back(others[static_cast<std::size_t>(i)]);
      j.job.duration = Seconds{hours(rng) * 3600};
      j.job.deadline = TimePoint{next} + Seconds{9 * 3600} - offset;
      j.job.power_watts = 1000;
      jobs.push_back(std::move(j));
    }
  }
  return jobs;
}

std::optional<TraceSet> load(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  auto trace = parse_trace_csv(text.str(), file.string());
  if (!trace) {
    std::cerr << to_string(trace.error()) << '\n';
    std::exit(1);
  }
  return std::move(*trace);
}

struct ZoneFigures {
  double e = 0, b = 0, o = 0;
  double os = 0;  // the interruptible hindsight optimum (interruptible jobs)
  double savings() const { return b > 0 ? 1 - e / b : 0; }
  double regret() const { return o > 0 ? e / o - 1 : 0; }
};

std::map<std::string, ZoneFigures> per_zone(const SimulationResult& r,
                                            const std::vector<SimulationJob>& jobs) {
  std::map<std::string, ZoneFigures> out;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    auto& z = out[jobs[i].job.regions.front()];
    const auto& a = r.jobs[i].accounting;
    z.e += a.actual_g.value_or(0);
    z.b += a.baseline_g.value_or(0);
    z.o += a.oracle_g.value_or(0);
    z.os += a.oracle_segments_g.value_or(0);
  }
  return out;
}

SimulationResult run(const TraceSet& actuals, const TraceSet* forecast,
                     const std::vector<SimulationJob>& jobs, const SimulationOptions& options) {
  auto r = simulate(actuals, forecast, jobs, options);
  if (!r) {
    std::cerr << to_string(r.error()) << '\n';
    std::exit(1);
  }
  return std::move(*r);
}

std::string pct(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %%", std::abs(x) < 5e-7 ? 0.0 : x * 100.0);  // no "-0.00"
  return buf;
}

std::vector<SimulationJob> interruptible(std::vector<SimulationJob> jobs) {
  for (auto& j : jobs)
    j.job.segments = SegmentRules{4, Seconds{3600}, Seconds{0}};
  return jobs;
}

// Per zone: savings of the same jobs run in one block and interruptible, the gain in points,
// and the interruptible runs' regret against the interruptible hindsight optimum.
void print_interruptible(const std::string& title, const TraceSet& actuals,
                         const TraceSet* forecast, const std::vector<SimulationJob>& jobs,
                         const SimulationOptions& options) {
  const auto split_jobs = interruptible(jobs);
  const auto t0 = std::chrono::steady_clock::now();
  const auto block = run(actuals, forecast, jobs, options);
  const auto split = run(actuals, forecast, split_jobs, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "### " << title << "\n\n"
            << "| zone | one block: savings | interruptible: savings | gain | regret vs "
               "interruptible optimum | optimum: one block | optimum: interruptible |\n"
               "|---|---|---|---|---|---|---|\n";
  const auto zb = per_zone(block, jobs);
  const auto zs = per_zone(split, split_jobs);
  ZoneFigures all_b, all_s;
  auto row = [](const std::string& zone, const ZoneFigures& b, const ZoneFigures& s) {
    const double oracle_block = b.b > 0 ? 1 - b.o / b.b : 0;
    const double oracle_split = s.b > 0 ? 1 - s.os / s.b : 0;
    std::cout << "| " << zone << " | " << pct(b.savings()) << " | " << pct(s.savings()) << " | "
              << pct(s.savings() - b.savings()) << " | " << pct(s.os > 0 ? s.e / s.os - 1 : 0)
              << " | " << pct(oracle_block) << " | " << pct(oracle_split) << " |\n";
  };
  for (const auto& zone : actuals.regions) {
    const auto& b = zb.at(zone);
    const auto& sp = zs.at(zone);
    row(zone, b, sp);
    all_b.e += b.e, all_b.b += b.b, all_b.o += b.o;
    all_s.e += sp.e, all_s.b += sp.b, all_s.o += sp.o, all_s.os += sp.os;
  }
  row("**all**", all_b, all_s);
  std::cout << "\n(" << jobs.size() << " jobs, both runs in " << seconds << " s)\n\n";
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = fs::path(GRIDSHIFT_SOURCE_DIR) / ".." / "shared" / "data" / "traces";
  std::uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = std::stoull(argv[++i]);
    } else if (std::strcmp(argv[i], "--min-gain") == 0 && i + 1 < argc) {
      ++i;  // read below
    } else if (std::strcmp(argv[i], "--interruptible") == 0) {
      // read below
    } else {
      dir = argv[i];
    }
  }
  const auto h2_actuals = load(dir / "actuals-2021h2.csv");
  const auto h2_forecast = load(dir / "forecast-2021h2.csv");
  const auto year = load(dir / "actuals-2020.csv");
  if (!h2_actuals || !h2_forecast || !year) {
    std::cout << "simulate_scenarios: traces not found in " << dir.string()
              << " (actuals-2021h2.csv, forecast-2021h2.csv, actuals-2020.csv); skipping\n";
    return 0;
  }
  SimulationOptions options;  // the shipped defaults: tick 5m, dispatch_slack 15m, min_gain 0
  options.seed = seed;
  options.planner.max_concurrent_dispatches = 1000;  // the cap is not what is measured here
  bool interruptible_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--min-gain") == 0 && i + 1 < argc) {
      options.planner.min_gain = std::stod(argv[i + 1]);
    }
    if (std::strcmp(argv[i], "--interruptible") == 0) interruptible_only = true;
  }
  if (interruptible_only) {
    std::cout << "## Interruptible jobs (seed " << seed
              << "; up to 4 segments of at least 1 h, no resume overhead; time-only)\n\n";
    print_interruptible("2020, perfect forecast", *year, nullptr,
                        overnight_jobs(*year, JobMix{200, 0}, seed), options);
    const auto h2_jobs = overnight_jobs(*h2_actuals, JobMix{200, 0}, seed);
    print_interruptible("2021 H2, perfect forecast", *h2_actuals, nullptr, h2_jobs, options);
    print_interruptible("2021 H2, real day-ahead forecasts", *h2_actuals, &*h2_forecast, h2_jobs,
                        options);
    return 0;
  }

  // 2021 H2: overnight jobs, 200 per zone, time-only and time-plus-place.
  const auto time_only = overnight_jobs(*h2_actuals, JobMix{200, 0}, seed);
  const auto time_place = overnight_jobs(*h2_actuals, JobMix{200, 2}, seed);
  // The naive reference: argmin on the raw forecast at submission, committed to.
  auto naive_options = options;
  naive_options.commit_at_submission = true;
  naive_options.learn_forecast_error = false;
  naive_options.planner.min_gain = 0;
  naive_options.planner.error_margin = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const auto perfect_t = run(*h2_actuals, nullptr, time_only, options);
  const auto perfect_tp = run(*h2_actuals, nullptr, time_place, options);
  const auto real_t = run(*h2_actuals, &*h2_forecast, time_only, options);
  const auto real_tp = run(*h2_actuals, &*h2_forecast, time_place, options);
  const auto naive_t = run(*h2_actuals, &*h2_forecast, time_only, naive_options);
  const auto naive_tp = run(*h2_actuals, &*h2_forecast, time_place, naive_options);
  const double h2_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::cout << "## 2021 H2, overnight jobs (seed " << seed << ", " << time_only.size()
            << " jobs per run, tick 5m, slack 15m, min_gain " << options.planner.min_gain
            << ", error_margin " << options.planner.error_margin << ", forecast-error model "
            << (options.learn_forecast_error ? "on" : "off") << ")\n\n";
  for (const bool place : {false, true}) {
    const auto& jobs = place ? time_place : time_only;
    const auto& perfect = place ? perfect_tp : perfect_t;
    const auto& real = place ? real_tp : real_t;
    const auto& naive = place ? naive_tp : naive_t;
    std::cout << (place ? "### time+place\n\n" : "### time-only\n\n")
              << "| zone | perfect: savings | regret | real forecast: savings | regret | naive: "
                 "savings | regret |\n|---|---|---|---|---|---|---|\n";
    const auto zp = per_zone(perfect, jobs), zr = per_zone(real, jobs), zn = per_zone(naive, jobs);
    for (const auto& zone : h2_actuals->regions) {
      std::cout << "| " << zone << " | " << pct(zp.at(zone).savings()) << " | "
                << pct(zp.at(zone).regret()) << " | " << pct(zr.at(zone).savings()) << " | "
                << pct(zr.at(zone).regret()) << " | " << pct(zn.at(zone).savings()) << " | "
                << pct(zn.at(zone).regret()) << " |\n";
    }
    std::cout << "| **all** | " << pct(perfect.totals.savings) << " | "
              << pct(perfect.totals.regret) << " | " << pct(real.totals.savings) << " | "
              << pct(real.totals.regret) << " | " << pct(naive.totals.savings) << " | "
              << pct(naive.totals.regret) << " |\n\n";
  }
  std::cout << "(6 runs in " << h2_seconds << " s)\n\n";

  // What the forecast-error model and the early-start margins contribute, real forecasts.
  std::cout << "## 2021 H2, real forecasts: settings compared (overall regret)\n\n"
               "| settings | time-only | time+place |\n|---|---|---|\n";
  struct Variant {
    const char* name;
    bool learn;
    double min_gain;
    double error_margin;
  };
  for (const Variant& v :
       {Variant{"defaults (model on, min_gain 0, error_margin 0)", true, 0, 0},
        Variant{"model off", false, 0, 0}, Variant{"model on, error_margin 0.1", true, 0, 0.1},
        Variant{"model on, error_margin 0.25", true, 0, 0.25},
        Variant{"model on, min_gain 0.02", true, 0.02, 0}}) {
    auto o = options;
    o.learn_forecast_error = v.learn;
    o.planner.min_gain = v.min_gain;
    o.planner.error_margin = v.error_margin;
    const auto t = run(*h2_actuals, &*h2_forecast, time_only, o);
    const auto tp = run(*h2_actuals, &*h2_forecast, time_place, o);
    std::cout << "| " << v.name << " | " << pct(t.totals.regret) << " | " << pct(tp.totals.regret)
              << " |\n";
  }
  std::cout << "| naive reference | " << pct(naive_t.totals.regret) << " | "
            << pct(naive_tp.totals.regret) << " |\n\n";

  // Noise model for comparison, time-only.
  std::cout << "## 2021 H2, time-only, Gaussian forecast noise (sigma = e x mean)\n\n"
               "| e | savings | regret |\n|---|---|---|\n";
  for (double e : {0.0, 0.05, 0.1, 0.2}) {
    auto o = options;
    o.forecast_noise = e;
    const auto r = run(*h2_actuals, nullptr, time_only, o);
    std::cout << "| " << e << " | " << pct(r.totals.savings) << " | " << pct(r.totals.regret)
              << " |\n";
  }

  // A simulated year: 2020, 8 zones, 3,000 jobs (375 per zone), time-plus-place.
  const auto year_jobs = overnight_jobs(*year, JobMix{375, 2}, seed);
  const auto y0 = std::chrono::steady_clock::now();
  const auto year_result = run(*year, nullptr, year_jobs, options);
  const double year_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - y0).count();
  std::cout << "\n## 2020, 8 zones, " << year_jobs.size()
            << " overnight jobs, time+place, perfect forecast\n\n"
            << "savings " << pct(year_result.totals.savings) << ", regret "
            << pct(year_result.totals.regret) << ", " << year_result.plans
            << " re-plans, simulated in " << year_seconds << " s\n";
  return 0;
}
