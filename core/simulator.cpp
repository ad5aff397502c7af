#include "core/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "core/ports/clock.h"

namespace gridshift {

namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

// One region of the replay: the actual intervals and, aligned with them, what the planner
// is told the forecast was.
struct ReplayRegion {
  std::string name;
  double pue = 1.0;
  const std::vector<Point>* actual = nullptr;
  std::vector<double> forecast;
  std::size_t current = 0;    // index of the latest actual at the clock's time
  ErrorAccumulator errors;    // forecast vs actual over the intervals that have ended
  std::size_t forgotten = 0;  // intervals [forgotten, scored) are in `errors`
  std::size_t scored = 0;
  PersistenceAccumulator persistence;
};

// How far apart two hours may be for the persistence of their errors to be learned.
constexpr std::size_t kPersistencePairs = 72;

// Adds (sign 1) or takes back (sign -1) interval k of the region to its error figures: its
// error, and its pairs with the kPersistencePairs intervals before it.
void count_interval(ReplayRegion& r, std::size_t k, int sign) {
  const auto& actual = *r.actual;
  if (std::isnan(r.forecast[k])) return;
  const double forecast = r.forecast[k];
  const double value = actual[k].gco2_per_kwh;
  if (sign > 0) {
    r.errors.add(forecast, value);
  } else {
    r.errors.remove(forecast, value);
  }
  const double ek = forecast - value;
  for (std::size_t c = k >= kPersistencePairs ? k - kPersistencePairs : 0; c < k; ++c) {
    if (std::isnan(r.forecast[c])) continue;
    const double ec = r.forecast[c] - actual[c].gco2_per_kwh;
    if (sign > 0) {
      r.persistence.add(actual[k].start - actual[c].start, ec, ek);
    } else {
      r.persistence.remove(actual[k].start - actual[c].start, ec, ek);
    }
  }
}

// Learns the region's error figures from the intervals that ended by `now` (the past only) and
// within kForecastErrorWindow of it, as the daemon does from its snapshots: a sliding window.
void learn_errors(ReplayRegion& r, TimePoint now) {
  const auto& actual = *r.actual;
  while (r.scored < actual.size() && actual[r.scored].end <= now)
    count_interval(r, r.scored++, 1);
  while (r.forgotten < r.scored && actual[r.forgotten].end <= now - kForecastErrorWindow)
    count_interval(r, r.forgotten++, -1);
}

std::vector<double> aligned_forecast(const std::vector<Point>& actual,
                                     const std::vector<Point>* forecast) {
  std::vector<double> out(actual.size(), kMissing);
  if (!forecast) return out;
  std::size_t j = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    while (j < forecast->size() && (*forecast)[j].start < actual[i].start)
      ++j;
    if (j < forecast->size() && (*forecast)[j].start == actual[i].start) {
      out[i] = (*forecast)[j].gco2_per_kwh;
    }
  }
  return out;
}

std::vector<double> noisy_forecast(const std::vector<Point>& actual, double e,
                                   std::mt19937_64& rng) {
  std::vector<double> out(actual.size());
  double sum = 0;
  for (const auto& p : actual)
    sum += p.gco2_per_kwh;
  const double sigma = actual.empty() ? 0.0 : e * sum / static_cast<double>(actual.size());
  std::normal_distribution<double> noise(0.0, sigma > 0 ? sigma : 1.0);
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double delta = sigma > 0 ? noise(rng) : 0.0;
    out[i] = std::max(0.0, actual[i].gco2_per_kwh + delta);
  }
  return out;
}

// Series the planner sees at `now`: the latest actual, then forecasts up to `until`, corrected
// by the learned bias when `use_errors`.
RegionSeries view_at(const ReplayRegion& r, TimePoint now, TimePoint until, bool use_errors) {
  RegionSeries s;
  s.region = r.name;
  s.pue = r.pue;
  s.feed = "trace";
  const auto& actual = *r.actual;
  if (actual.empty() || now < actual.front().start || now >= actual.back().end) return s;
  const Point& present = actual[r.current];
  s.points.push_back(present);
  s.observed_at = present.start;
  std::optional<ErrorStats> errors;
  if (use_errors && r.errors.samples() >= kMinErrorSamples) errors = r.errors.stats();
  std::optional<double> present_error;
  if (!std::isnan(r.forecast[r.current])) {
    present_error = r.forecast[r.current] - present.gco2_per_kwh;
  }
  const auto persistence = r.persistence.model(errors ? errors->bias_g : 0.0);
  for (std::size_t j = r.current + 1; j < actual.size() && actual[j].start < until; ++j) {
    if (std::isnan(r.forecast[j])) continue;  // a gap: windows across it are not scored
    Point p{actual[j].start, actual[j].end, r.forecast[j]};
    if (errors) {
      p.gco2_per_kwh = correct_forecast(p.gco2_per_kwh, *errors, persistence,
                                        actual[j].start - present.start, present_error);
      p.expected_error = errors->mae_g;
    }
    s.points.push_back(p);
    s.has_forecast = true;
  }
  return s;
}

Result<void> check_jobs(const TraceSet& actuals, std::span<const SimulationJob> jobs) {
  std::vector<FieldError> errors;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const auto& j = jobs[i];
    const std::string prefix = "jobs[" + std::to_string(i) + "]";
    if (j.job.regions.empty()) errors.push_back({prefix + ".regions", "no candidate region", 0});
    if (j.job.duration <= Seconds{0}) errors.push_back({prefix + ".duration", "not positive", 0});
    for (std::size_t k = 0; k < j.job.regions.size(); ++k) {
      const auto* points = actuals.find(j.job.regions[k]);
      const std::string field = prefix + ".regions[" + std::to_string(k) + "]";
      if (!points || points->empty()) {
        errors.push_back({field, "no actuals for region " + j.job.regions[k], 0});
        continue;
      }
      if (j.submit_at < points->front().start) {
        errors.push_back({prefix + ".submit_at",
                          "before the actuals of " + j.job.regions[k] + " begin (" +
                              format_rfc3339(points->front().start) + ")",
                          0});
      }
      if (j.job.deadline > points->back().end) {
        errors.push_back({prefix + ".deadline",
                          "after the actuals of " + j.job.regions[k] + " end (" +
                              format_rfc3339(points->back().end) + ")",
                          0});
      }
    }
  }
  if (errors.empty()) return {};
  return make_error("invalid_simulation", "jobs do not fit the trace", std::move(errors));
}

std::int64_t secs(TimePoint t) {
  return t.time_since_epoch().count();
}

}  // namespace

SimulationTotals total(std::span<const SimulatedJob> jobs) {
  SimulationTotals t;
  for (const auto& j : jobs) {
    t.emissions_g += j.accounting.actual_g.value_or(0);
    t.baseline_g += j.accounting.baseline_g.value_or(0);
    t.oracle_g += j.accounting.oracle_g.value_or(0);
  }
  t.savings = t.baseline_g > 0 ? 1.0 - t.emissions_g / t.baseline_g : 0.0;
  t.regret = t.oracle_g > 0 ? t.emissions_g / t.oracle_g - 1.0 : 0.0;
  return t;
}

// Runs one segment of an interruptible job dispatched now, as a trainer that checkpoints would:
// it works until the segment's end or until its work is done, whichever comes first. True when
// the job is done; otherwise `planned` becomes the rest (pinned to the region, one segment
// fewer, not before the segment's end) for the planner to place.
bool run_segment(PlannerJob& planned, Seconds& work_left, const PlanDecision& d, TimePoint now,
                 SimulatedJob& out) {
  const SegmentRules rules = *planned.segments;
  const Seconds overhead = out.segments.empty() ? Seconds{0} : rules.resume_overhead;
  const TimePoint done_at = now + work_left + overhead;
  const bool last = rules.max_segments <= 1 || d.segments.empty();
  const TimePoint end = last ? done_at : std::min(done_at, *d.end);
  out.segments.emplace_back(now, end);
  work_left -= std::chrono::duration_cast<Seconds>(end - now) - overhead;
  if (end >= done_at) return true;
  planned.regions = {d.region};
  planned.not_before = end;
  planned.segments->max_segments = rules.max_segments - 1;
  // A segment runs at least min_segment, overhead included.
  planned.duration = std::max(work_left + rules.resume_overhead, rules.min_segment);
  return false;
}

Result<SimulationResult> simulate(const TraceSet& actuals, const TraceSet* forecast,
                                  std::span<const SimulationJob> jobs,
                                  const SimulationOptions& options) {
  if (auto ok = check_jobs(actuals, jobs); !ok) return ok.error();
  if (options.tick <= Seconds{0}) {
    return make_error("invalid_simulation", "tick must be positive", {{"tick", "not positive"}});
  }
  SimulationResult result;
  result.jobs.resize(jobs.size());
  if (jobs.empty()) return result;

  std::mt19937_64 rng(options.seed);
  std::vector<ReplayRegion> regions;
  for (const auto& name : actuals.regions) {
    ReplayRegion r;
    r.name = name;
    auto pue = options.pue.find(name);
    r.pue = pue == options.pue.end() ? 1.0 : pue->second;
    r.actual = actuals.find(name);
    r.forecast = forecast ? aligned_forecast(*r.actual, forecast->find(name))
                          : noisy_forecast(*r.actual, options.forecast_noise, rng);
    regions.push_back(std::move(r));
  }

  // Hindsight: every actual of every region, for baseline, actual and oracle figures.
  std::vector<RegionSeries> observed;
  for (const auto& r : regions) {
    observed.push_back(RegionSeries{r.name, SignalType::average, r.pue, "trace", *r.actual, {}});
  }
  const PlanningContext hindsight(std::move(observed));

  std::vector<std::size_t> order(jobs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return jobs[a].submit_at < jobs[b].submit_at;
  });

  const std::int64_t tick = options.tick.count();
  ManualClock clock(jobs[order.front()].submit_at);
  std::size_t next_job = 0;
  std::vector<std::size_t> queue;  // job indexes, in submission order
  std::vector<PlannerJob> queued;  // the same jobs, as the planner takes them
  std::vector<Seconds> work_left;  // the same jobs: training time still to run
  std::vector<std::pair<TimePoint, std::string>> running;  // end, region
  std::optional<PlanningContext> context;
  std::vector<std::size_t> built_at(regions.size(), std::numeric_limits<std::size_t>::max());
  TimePoint built_until{};

  TimePoint trace_end{};
  for (const auto& r : regions)
    trace_end = std::max(trace_end, r.actual->back().end);
  while (next_job < order.size() || !queue.empty()) {
    const TimePoint now = clock.now();
    if (now > trace_end) {  // every region at its cap until the data ran out
      return make_error(
          "invalid_simulation",
          jobs[queue.front()].name + " could not be dispatched before the trace ended");
    }
    while (next_job < order.size() && jobs[order[next_job]].submit_at <= now) {
      queue.push_back(order[next_job]);
      queued.push_back(jobs[order[next_job]].job);
      work_left.push_back(jobs[order[next_job]].job.duration);
      ++next_job;
    }
    if (queue.empty()) {
      clock.set(jobs[order[next_job]].submit_at);
      continue;
    }
    // Re-index only when a new actual arrived or the queue needs a longer horizon.
    TimePoint need{};
    for (const auto& j : queued)
      need = std::max(need, j.deadline);
    bool rebuild = !context || need > built_until;
    for (std::size_t r = 0; r < regions.size(); ++r) {
      const auto& actual = *regions[r].actual;
      auto& cur = regions[r].current;
      while (cur + 1 < actual.size() && actual[cur + 1].start <= now)
        ++cur;
      rebuild = rebuild || cur != built_at[r];
    }
    if (rebuild) {
      built_until = std::max(need, now + Seconds{2 * 86400});
      std::vector<RegionSeries> views;
      views.reserve(regions.size());
      for (std::size_t r = 0; r < regions.size(); ++r) {
        learn_errors(regions[r], now);
        views.push_back(view_at(regions[r], now, built_until, options.learn_forecast_error));
        built_at[r] = regions[r].current;
      }
      context.emplace(std::move(views));
    }
    std::erase_if(running, [&](const auto& run) { return run.first <= now; });
    RunningCounts counts;
    for (const auto& run : running)
      ++counts[run.second];

    const auto decisions = plan_all(now, queued, *context, counts, options.planner);
    ++result.plans;
    std::vector<char> done(queue.size(), 0);
    for (std::size_t q = 0; q < queue.size(); ++q) {
      const auto& d = decisions[q];
      const bool committed = options.commit_at_submission && d.start && !d.region.empty();
      if (d.action != PlanAction::dispatch && !committed) continue;
      const SimulationJob& job = jobs[queue[q]];
      SimulatedJob& out = result.jobs[queue[q]];
      const TimePoint start = d.action == PlanAction::dispatch ? now : *d.start;
      // The hardware option the planner took: its run time, power and regions from now on.
      PlannerJob as_run = job.job;
      if (d.alternative > 0 && out.segments.empty()) {
        for (const auto& alternative : job.job.alternatives) {
          if (alternative.index != d.alternative) continue;
          as_run.duration = alternative.duration;
          as_run.power_watts = alternative.power_watts;
          as_run.regions = alternative.regions;
        }
        out.alternative = d.alternative;
        work_left[q] = as_run.duration;
        queued[q].duration = as_run.duration;
        queued[q].power_watts = as_run.power_watts;
        queued[q].regions = as_run.regions;
      } else if (out.alternative > 0) {
        as_run.power_watts = queued[q].power_watts;  // a later segment, on the same hardware
        as_run.regions = queued[q].regions;
      }
      as_run.alternatives.clear();
      queued[q].alternatives.clear();
      if (out.segments.empty()) {
        out.name = job.name;
        out.submit_at = job.submit_at;
        out.region = d.region;
        out.start = start;
        out.reason = d.reason_code;
        out.planned_score = d.score;
      }
      if (!job.job.segments) {
        out.segments.emplace_back(start, start + as_run.duration);
      } else if (committed) {
        // Planned once: every planned segment runs as planned (one block without a split).
        if (d.segments.empty()) out.segments.emplace_back(start, start + queued[q].duration);
        for (const auto& w : d.segments)
          out.segments.emplace_back(w.start, w.end);
      } else if (!run_segment(queued[q], work_left[q], d, now, out)) {
        // The trainer checkpointed at the segment's end: the rest is re-planned then.
        running.emplace_back(out.segments.back().second, d.region);
        continue;
      }
      done[q] = 1;
      out.end = out.segments.back().second;
      AccountingInput input{
          as_run,  job.submit_at,         out.region, out.planned_score, out.start,
          out.end, JobOutcome::succeeded, {},         std::nullopt};
      if (job.job.segments) {
        input.segments = out.segments;
        input.segment_rules = job.job.segments;
      }
      out.accounting = account_job(input, hindsight, options.planner);
      if (!out.accounting.actual_g) {
        return make_error("invalid_simulation",
                          job.name + " ran past the end of the actuals of " + d.region);
      }
      running.emplace_back(out.end, d.region);
    }
    std::size_t keep = 0;
    for (std::size_t q = 0; q < queue.size(); ++q) {
      if (done[q]) continue;
      if (keep != q) {
        queue[keep] = queue[q];
        queued[keep] = std::move(queued[q]);
        work_left[keep] = work_left[q];
      }
      ++keep;
    }
    queue.resize(keep);
    queued.resize(keep);
    work_left.resize(keep);

    const std::int64_t t = secs(now);
    TimePoint next{Seconds{t - ((t % tick) + tick) % tick + tick}};
    if (next_job < order.size()) next = std::min(next, jobs[order[next_job]].submit_at);
    clock.set(next);
  }
  result.totals = total(result.jobs);
  return result;
}

}  // namespace gridshift
