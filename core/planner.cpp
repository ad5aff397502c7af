#include "core/planner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>

#include "core/segment_search.h"

namespace gridshift {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::int64_t secs(TimePoint t) {
  return t.time_since_epoch().count();
}
TimePoint at(std::int64_t s) {
  return TimePoint{Seconds{s}};
}

}  // namespace

// Piecewise-constant series as breakpoints with prefix integrals of value and of coverage, so a
// window mean is two lookups. Per duration, the window scores of every point start and a sparse
// table of their minima are cached.
struct PlanningContext::RegionIndex {
  struct DurationTable {
    std::vector<double> score;                   // per point start; kInf when not scorable
    std::vector<double> mean;                    // per point start
    std::vector<std::vector<std::uint32_t>> st;  // st[l][k]: argmin over [k, k + 2^(l+1))
    std::int64_t now_for = std::numeric_limits<std::int64_t>::min();
    std::optional<double> now_mean;
  };

  std::vector<std::int64_t> bounds;   // breakpoints b_0 < ... < b_m
  std::vector<double> value;          // per segment [b_i, b_i+1)
  std::vector<double> integral;       // prefix of value x seconds, size m + 1
  std::vector<std::int64_t> covered;  // prefix of covered seconds, size m + 1
  std::vector<double> error;          // prefix of expected error x seconds, size m + 1
  std::vector<std::int64_t> starts;   // the points' starts (candidate boundaries)
  double pue = 1.0;
  std::vector<std::unique_ptr<DurationTable>> tables;  // by PlanningContext::duration_slot

  explicit RegionIndex(const RegionSeries& series) : pue(series.pue) {
    std::int64_t prev_end = std::numeric_limits<std::int64_t>::min();
    for (const auto& p : series.points) {
      const std::int64_t s = secs(p.start);
      const std::int64_t e = secs(p.end);
      if (e <= s || s < prev_end) continue;   // malformed or overlapping: ignore the point
      if (!bounds.empty() && s > prev_end) {  // a gap: an uncovered segment
        value.push_back(0);
        error_values_.push_back(0);
        bounds.push_back(s);
        covered_flags_.push_back(0);
      } else if (bounds.empty()) {
        bounds.push_back(s);
      }
      value.push_back(p.gco2_per_kwh);
      error_values_.push_back(p.expected_error);
      covered_flags_.push_back(1);
      bounds.push_back(e);
      starts.push_back(s);
      prev_end = e;
    }
    const std::size_t m = value.size();
    integral.assign(m + 1, 0.0);
    covered.assign(m + 1, 0);
    error.assign(m + 1, 0.0);
    for (std::size_t i = 0; i < m; ++i) {
      const std::int64_t len = bounds[i + 1] - bounds[i];
      integral[i + 1] = integral[i] + value[i] * static_cast<double>(len);
      covered[i + 1] = covered[i] + covered_flags_[i] * len;
      error[i + 1] = error[i] + error_values_[i] * static_cast<double>(len);
    }
    error_values_.clear();
    error_values_.shrink_to_fit();
  }

  // Expected error x seconds over [s, e) (0 outside the data).
  double error_over(std::int64_t s, std::int64_t e) const {
    auto prefix = [&](std::int64_t t) {
      if (bounds.empty() || t <= bounds.front()) return 0.0;
      if (t >= bounds.back()) return error.back();
      auto it = std::upper_bound(bounds.begin(), bounds.end(), t);
      const auto i = static_cast<std::size_t>(it - bounds.begin()) - 1;
      const double per_second =
          (error[i + 1] - error[i]) / static_cast<double>(bounds[i + 1] - bounds[i]);
      return error[i] + per_second * static_cast<double>(t - bounds[i]);
    };
    return e > s ? prefix(e) - prefix(s) : 0.0;
  }

  // Prefix integral and coverage at t, or false when t lies outside [b_0, b_m].
  bool prefix_at(std::int64_t t, double& f, std::int64_t& c) const {
    if (bounds.empty() || t < bounds.front() || t > bounds.back()) return false;
    auto it = std::upper_bound(bounds.begin(), bounds.end(), t);
    const auto i = static_cast<std::size_t>(it - bounds.begin()) - 1;
    if (i >= value.size()) {
      f = integral.back();
      c = covered.back();
      return true;
    }
    const std::int64_t into = t - bounds[i];
    f = integral[i] + value[i] * static_cast<double>(into);
    c = covered[i] + covered_flags_[i] * into;
    return true;
  }

  // Value x seconds over [s, e); nullopt where any of it has no data.
  std::optional<double> integral_over(std::int64_t s, std::int64_t e) const {
    if (e <= s) return std::nullopt;
    double f0 = 0, f1 = 0;
    std::int64_t c0 = 0, c1 = 0;
    if (!prefix_at(s, f0, c0) || !prefix_at(e, f1, c1) || c1 - c0 != e - s) return std::nullopt;
    return f1 - f0;
  }

  std::optional<double> mean(std::int64_t s, std::int64_t e) const {
    auto f = integral_over(s, e);
    if (!f) return std::nullopt;
    return *f / static_cast<double>(e - s);
  }

  DurationTable& table(std::size_t slot, std::int64_t duration) {
    if (slot >= tables.size()) tables.resize(slot + 1);
    if (tables[slot]) return *tables[slot];
    tables[slot] = std::make_unique<DurationTable>();
    DurationTable& t = *tables[slot];
    const std::size_t n = starts.size();
    t.score.assign(n, kInf);
    t.mean.assign(n, 0.0);
    for (std::size_t k = 0; k < n; ++k) {
      if (auto m = mean(starts[k], starts[k] + duration)) {
        t.mean[k] = *m;
        t.score[k] = *m * pue;
      }
    }
    // Level l covers ranges of length 2^(l+1); level "0" (length 1) is the identity.
    for (std::size_t len = 2; len <= n; len *= 2) {
      std::vector<std::uint32_t> level(n - len + 1);
      const std::size_t half = len / 2;
      for (std::size_t k = 0; k + len <= n; ++k) {
        const std::uint32_t a = at_level(t, len / 2, k);
        const std::uint32_t b = at_level(t, len / 2, k + half);
        level[k] = t.score[b] < t.score[a] ? b : a;  // ties keep the earlier start
      }
      t.st.push_back(std::move(level));
    }
    return t;
  }

  static std::uint32_t at_level(const DurationTable& t, std::size_t len, std::size_t k) {
    if (len == 1) return static_cast<std::uint32_t>(k);
    return t.st[static_cast<std::size_t>(std::countr_zero(len)) - 1][k];
  }

  // Argmin of score over point indexes [lo, hi] (inclusive, lo <= hi); earlier wins ties.
  static std::uint32_t range_min(const DurationTable& t, std::size_t lo, std::size_t hi) {
    const std::size_t n = hi - lo + 1;
    const std::size_t len = std::bit_floor(n);
    const std::uint32_t a = at_level(t, len, lo);
    const std::uint32_t b = at_level(t, len, hi + 1 - len);
    return t.score[b] < t.score[a] ? b : a;
  }

  std::optional<double> now_mean(DurationTable& t, std::int64_t now, std::int64_t duration) const {
    if (t.now_for != now) {
      t.now_for = now;
      t.now_mean = mean(now, now + duration);
    }
    return t.now_mean;
  }

  // Index of the first point starting after `now`; the same for every job of a re-plan.
  std::size_t first_after(std::int64_t now) {
    if (first_after_for_ != now) {
      first_after_for_ = now;
      first_after_ = static_cast<std::size_t>(std::upper_bound(starts.begin(), starts.end(), now) -
                                              starts.begin());
    }
    return first_after_;
  }

  std::vector<std::int64_t> covered_flags_;  // per segment, 1 = data
  std::vector<double> error_values_;         // per segment, while building
  std::int64_t first_after_for_ = std::numeric_limits<std::int64_t>::min();
  std::size_t first_after_ = 0;
};

std::optional<TimePoint> RegionSeries::horizon() const {
  if (points.empty()) return std::nullopt;
  return points.back().end;
}

SegmentRules to_segment_rules(const InterruptibleSpec& spec) {
  return SegmentRules{spec.max_segments, spec.min_segment, spec.resume_overhead};
}

bool same_signal_group(SignalType a, SignalType b) {
  return (a == SignalType::marginal) == (b == SignalType::marginal);
}

std::string_view to_string(PlanAction action) {
  return action == PlanAction::dispatch ? "dispatch" : "hold";
}

PlanningContext::PlanningContext(std::vector<RegionSeries> series) : series_(std::move(series)) {
  indexes_.reserve(series_.size());
  for (std::size_t i = 0; i < series_.size(); ++i) {
    by_name_.try_emplace(series_[i].region, static_cast<int>(i));
    indexes_.push_back(std::make_unique<RegionIndex>(series_[i]));
  }
}
PlanningContext::~PlanningContext() = default;
PlanningContext::PlanningContext(PlanningContext&&) noexcept = default;
PlanningContext& PlanningContext::operator=(PlanningContext&&) noexcept = default;

int PlanningContext::find(std::string_view region) const {
  auto it = by_name_.find(region);
  return it == by_name_.end() ? -1 : it->second;
}

std::size_t PlanningContext::duration_slot(Seconds duration) const {
  return duration_slots_.try_emplace(duration.count(), duration_slots_.size()).first->second;
}

namespace {

struct Candidate {
  double score = kInf;
  double mean = 0;
  std::int64_t start = 0;
  int order = 0;    // position in the job's region list
  int region = -1;  // index in the context
};

bool better(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score < b.score;
  if (a.start != b.start) return a.start < b.start;
  return a.order < b.order;
}

struct RegionState {
  std::vector<char> fresh;  // per context region: has points and is not stale
  std::vector<int> running;
  std::map<std::string, int, std::less<>> running_other;  // regions without series
};

struct Evaluation {
  std::optional<SignalType> signal;
  bool any_forecast = false;          // some ranked region has forecast points
  std::vector<Exclusion> excluded;    // candidates not ranked
  std::optional<Candidate> best;      // over feasible starts, regions not at the cap
  std::optional<Candidate> best_now;  // starting now, regions not at the cap
  std::optional<Candidate> baseline;  // starting now in the first candidate with data
};

std::int64_t latest_start(const PlannerJob& job, const PlannerSettings& settings) {
  return secs(job.deadline) - job.duration.count() - settings.dispatch_slack.count();
}

bool at_cap(const RegionState& state, const PlanningContext& context, std::string_view region,
            int cap) {
  const int r = context.find(region);
  if (r >= 0) return state.running[static_cast<std::size_t>(r)] >= cap;
  auto it = state.running_other.find(region);
  return it != state.running_other.end() && it->second >= cap;
}

Evaluation evaluate(std::int64_t now, const PlannerJob& job, const PlanningContext& context,
                    const RegionState& state, const PlannerSettings& settings, bool use_cap,
                    std::vector<int>& seen) {
  Evaluation ev;
  const std::int64_t duration = job.duration.count();
  const std::int64_t nb = job.not_before ? secs(*job.not_before) : now;
  const std::int64_t latest = latest_start(job, settings);
  const bool now_feasible = now >= nb && now <= latest;
  const std::size_t slot = context.duration_slot(job.duration);
  int order = -1;
  int first_ranked = 0;
  seen.clear();
  for (const auto& name : job.regions) {
    ++order;
    const int r = context.find(name);
    if (r < 0 || !state.fresh[static_cast<std::size_t>(r)]) {
      ev.excluded.push_back(Exclusion{name, "no fresh data"});
      continue;
    }
    const auto& series = context.series()[static_cast<std::size_t>(r)];
    if (!ev.signal) ev.signal = series.signal;
    if (!same_signal_group(series.signal, *ev.signal)) {
      // Never rank marginal against average intensities: the first region with data decides.
      ev.excluded.push_back(
          Exclusion{name, fmt::format("{} signal cannot be ranked with the {} signal of {}",
                                      to_string(series.signal), to_string(*ev.signal),
                                      job.regions[static_cast<std::size_t>(first_ranked)])});
      continue;
    }
    if (std::find(seen.begin(), seen.end(), r) != seen.end()) continue;  // first mention counts
    if (seen.empty()) first_ranked = order;
    seen.push_back(r);
    ev.any_forecast = ev.any_forecast || series.has_forecast;
    auto& index = context.index(r);
    auto& table = index.table(slot, duration);
    const bool capped =
        use_cap && state.running[static_cast<std::size_t>(r)] >= settings.max_concurrent_dispatches;
    if (now >= nb) {
      if (auto m = index.now_mean(table, now, duration)) {
        const Candidate c{*m * index.pue, *m, now, order, r};
        if (!ev.baseline) ev.baseline = c;
        if (!capped) {
          if (!ev.best_now || better(c, *ev.best_now)) ev.best_now = c;
          if (now_feasible && (!ev.best || better(c, *ev.best))) ev.best = c;
        }
      }
    }
    const auto& starts = index.starts;
    const std::size_t lo =
        now >= nb ? index.first_after(now)
                  : static_cast<std::size_t>(std::lower_bound(starts.begin(), starts.end(), nb) -
                                             starts.begin());
    const auto hi_end = static_cast<std::size_t>(
        std::upper_bound(starts.begin(), starts.end(), latest) - starts.begin());
    if (lo >= hi_end) continue;
    const std::uint32_t k = PlanningContext::RegionIndex::range_min(table, lo, hi_end - 1);
    if (table.score[k] == kInf) continue;
    const Candidate c{table.score[k], table.mean[k], starts[k], order, r};
    if (!ev.best || better(c, *ev.best)) ev.best = c;
  }
  return ev;
}

struct EarlyStart {
  PlanReason reason;
  double margin;  // score units
};

// Whether to start now rather than wait for the planned (best) window, which starts later.
// Waiting is worth it only when its advantage (now score - best score) exceeds both margins:
// - min_gain x now score x L / d, where L is how much of the two windows differs (the shift,
//   at most d, in the same region; all of it across regions). Scaling by L/d means "waiting
//   gains less than min_gain per hour moved": as now drifts toward the planned window the two
//   windows share more hours, their scores converge, and an unscaled margin would start the job
//   early at some tick even though nothing was gained (the job loses up to min_gain);
// - error_margin x the forecasts' expected error over the hours that differ (per d, x PUE):
//   an advantage smaller than the error is as likely noise as real, and the window starting
//   now is the surer one (its first hours are observed, not forecast).
std::optional<EarlyStart> start_early(std::int64_t now, std::int64_t d, const Evaluation& ev,
                                      const PlanningContext& context,
                                      const PlannerSettings& settings) {
  if (!ev.best || !ev.best_now || ev.best->start <= now) return std::nullopt;
  const Candidate& best = *ev.best;
  const Candidate& now_c = *ev.best_now;
  const bool same_region = best.region == now_c.region;
  const std::int64_t shift = same_region ? std::min(best.start - now, d) : d;
  const double advantage = now_c.score - best.score;
  const double gain_margin =
      settings.min_gain * now_c.score * static_cast<double>(shift) / static_cast<double>(d);
  double error_margin = 0;
  if (settings.error_margin > 0) {
    const auto& ni = context.index(now_c.region);
    const auto& bi = context.index(best.region);
    const double error_seconds = ni.error_over(now, now + shift) * ni.pue +
                                 bi.error_over(best.start + d - shift, best.start + d) * bi.pue;
    error_margin = settings.error_margin * error_seconds / static_cast<double>(d);
  }
  // The wider margin decides, and names the reason.
  const bool by_gain = gain_margin >= error_margin;
  const double margin = by_gain ? gain_margin : error_margin;
  if (!(advantage < margin)) return std::nullopt;
  return EarlyStart{by_gain ? PlanReason::min_gain : PlanReason::forecast_error, margin};
}

Window to_window(const Candidate& c, const PlanningContext& context, std::int64_t duration) {
  return Window{context.series()[static_cast<std::size_t>(c.region)].region, at(c.start),
                at(c.start + duration), c.mean, c.score};
}

SegmentPlan to_segment_plan(const PlanningContext& context, int r,
                            const SegmentSearchResult& found) {
  const auto& index = context.index(r);
  SegmentPlan plan;
  plan.region = context.series()[static_cast<std::size_t>(r)].region;
  std::int64_t total = 0;
  for (const auto& [s, e] : found.segments) {
    const double mean = index.mean(s, e).value_or(0.0);
    plan.segments.push_back(Window{plan.region, at(s), at(e), mean, mean * index.pue});
    total += e - s;
  }
  plan.total = Seconds{total};
  plan.mean_gco2_per_kwh = total > 0 ? found.integral / static_cast<double>(total) : 0.0;
  plan.score = plan.mean_gco2_per_kwh * index.pue;
  return plan;
}

std::int64_t segments_from(std::int64_t now, const PlannerJob& job) {
  return std::max(now, job.not_before ? secs(*job.not_before) : now);
}

// The segment plans of one re-plan's interruptible jobs, found before the jobs are decided:
// one search per (region, start, run time, rules) answers every deadline of the jobs that
// share them, instead of one search per job and region.
class SegmentPlans {
 public:
  // `job_at(i)` is the i-th of `count` jobs (a PlannerJob const&).
  template <class JobAt>
  SegmentPlans(std::int64_t now, std::size_t count, const JobAt& job_at,
               const PlanningContext& context, const RegionState& state,
               const PlannerSettings& settings) {
    struct Query {
      std::size_t job;
      std::int64_t until;
    };
    using Key = std::tuple<int, std::int64_t, std::int64_t, int, std::int64_t, std::int64_t>;
    std::map<Key, std::vector<Query>> groups;
    for (std::size_t i = 0; i < count; ++i) {
      const PlannerJob& job = job_at(i);
      if (!job.segments) continue;
      const std::int64_t until = secs(job.deadline) - settings.dispatch_slack.count();
      for (const auto& name : job.regions) {
        const int r = context.find(name);
        if (r < 0 || !state.fresh[static_cast<std::size_t>(r)]) continue;
        groups[Key{r, segments_from(now, job), job.duration.count(), job.segments->max_segments,
                   job.segments->min_segment.count(), job.segments->resume_overhead.count()}]
            .push_back(Query{i, until});
      }
    }
    for (auto& [key, queries] : groups) {
      const auto [r, from, duration, max_segments, min_segment, overhead] = key;
      std::vector<std::int64_t> untils;
      for (const auto& q : queries)
        untils.push_back(q.until);
      std::sort(untils.begin(), untils.end());
      untils.erase(std::unique(untils.begin(), untils.end()), untils.end());
      const auto& index = context.index(r);
      const SeriesIntegral integral = [&index](std::int64_t a, std::int64_t b) {
        return index.integral_over(a, b);
      };
      const SegmentRules rules{max_segments, Seconds{min_segment}, Seconds{overhead}};
      const auto found = search_segments(index.bounds, integral, from, untils, duration, rules);
      for (const auto& q : queries) {
        const auto at_until = static_cast<std::size_t>(
            std::lower_bound(untils.begin(), untils.end(), q.until) - untils.begin());
        plans_[{q.job, r}] = found[at_until];
      }
    }
  }

  // The plan of job `job` (its index in the re-plan) in region `r`; nullopt: none fits. False
  // when it was not searched (a region the job does not list, or without fresh data).
  const std::optional<SegmentSearchResult>* find(std::size_t job, int r) const {
    auto it = plans_.find({job, r});
    return it == plans_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::pair<std::size_t, int>, std::optional<SegmentSearchResult>> plans_;
};

// Where a decision finds its segment plans: searched ahead for the whole re-plan, or now.
struct SegmentSource {
  const SegmentPlans* plans = nullptr;
  std::size_t job = 0;
};

std::optional<SegmentSearchResult> segments_in(std::int64_t now, const PlannerJob& job,
                                               const PlanningContext& context, int r,
                                               const PlannerSettings& settings,
                                               const SegmentSource& source = {}) {
  if (source.plans) {
    if (const auto* found = source.plans->find(source.job, r)) return *found;
  }
  const auto& index = context.index(r);
  const std::int64_t from = segments_from(now, job);
  const std::int64_t until = secs(job.deadline) - settings.dispatch_slack.count();
  const SeriesIntegral integral = [&index](std::int64_t s, std::int64_t e) {
    return index.integral_over(s, e);
  };
  return search_segments(index.bounds, integral, from, until, job.duration.count(), *job.segments);
}

// The least-grams segment plan over the regions evaluate() ranked (`ranked`, in the job's
// order), leaving out regions at the cap when `use_cap`. Grams compare as score x run time
// (the power is the job's in every region); ties keep the earlier start, then the earlier
// region in the job's list.
std::optional<SegmentPlan> choose_segments(std::int64_t now, const PlannerJob& job,
                                           const PlanningContext& context, const RegionState& state,
                                           const PlannerSettings& settings,
                                           const std::vector<int>& ranked, bool use_cap,
                                           const SegmentSource& source = {}) {
  std::optional<SegmentSearchResult> best;
  int best_region = -1;
  double best_cost = kInf;
  for (const int r : ranked) {
    if (use_cap &&
        state.running[static_cast<std::size_t>(r)] >= settings.max_concurrent_dispatches) {
      continue;
    }
    auto found = segments_in(now, job, context, r, settings, source);
    if (!found || found->segments.empty()) continue;
    const double cost = found->integral * context.index(r).pue;
    const double tolerance = 1e-9 * std::max(1.0, std::abs(best_cost));
    if (!best || cost < best_cost - tolerance ||
        (cost <= best_cost + tolerance &&
         found->segments.front().first < best->segments.front().first)) {
      best_cost = cost;
      best = std::move(found);
      best_region = r;
    }
  }
  if (!best) return std::nullopt;
  return to_segment_plan(context, best_region, *best);
}

void set_reason(PlanDecision& d, PlanReason reason) {
  d.reason_code = reason;
  d.reason = phrase(reason);
}

PlanDecision decide(std::int64_t now, const PlannerJob& job, const PlanningContext& context,
                    const RegionState& state, const PlannerSettings& settings,
                    std::vector<int>& scratch, const SegmentSource& source = {}) {
  const Evaluation ev = evaluate(now, job, context, state, settings, true, scratch);
  const std::int64_t duration = job.duration.count();
  const std::int64_t latest = latest_start(job, settings);
  PlanDecision d;
  d.job_id = job.id;
  d.signal = ev.signal;
  d.excluded = ev.excluded;
  d.threshold = job.threshold;
  d.min_gain = settings.min_gain;
  if (ev.best) d.best = to_window(*ev.best, context, duration);
  if (ev.baseline) d.baseline = to_window(*ev.baseline, context, duration);
  if (ev.best_now) d.now_score = ev.best_now->score;

  auto dispatch = [&](const Candidate& c, PlanReason reason) {
    d.action = PlanAction::dispatch;
    d.region = context.series()[static_cast<std::size_t>(c.region)].region;
    d.start = at(now);
    d.end = at(now + duration);
    d.score = c.score;
    d.mean_intensity = c.mean;
    set_reason(d, reason);
  };
  // Dispatch without a scored window: the first candidate that is below its cap.
  auto dispatch_blind = [&](PlanReason reason) {
    for (const auto& name : job.regions) {
      if (at_cap(state, context, name, settings.max_concurrent_dispatches)) continue;
      d.action = PlanAction::dispatch;
      d.region = name;
      d.start = at(now);
      d.end = at(now + duration);
      set_reason(d, reason);
      return;
    }
    set_reason(d, PlanReason::capped);
  };
  auto hold = [&](PlanReason reason) {
    d.action = PlanAction::hold;
    if (ev.best) {
      d.region = d.best->region;
      d.start = d.best->start;
      d.end = d.best->end;
      d.score = d.best->score;
      d.mean_intensity = d.best->mean_gco2_per_kwh;
    }
    set_reason(d, reason);
  };

  const std::int64_t nb = job.not_before ? secs(*job.not_before) : now;
  if (now < nb) {
    hold(PlanReason::not_before);
  } else if (job.policy == Policy::now) {
    if (ev.best_now) {
      dispatch(*ev.best_now, PlanReason::policy_now);
    } else {
      dispatch_blind(ev.signal ? PlanReason::policy_now_no_window : PlanReason::policy_now_no_data);
    }
  } else if (job.threshold && ev.best_now && ev.best_now->score <= *job.threshold) {
    dispatch(*ev.best_now, PlanReason::threshold);
  } else if (job.segments && ev.any_forecast) {
    // Interruptible: the least-grams segments; the first one starting now is dispatched now.
    auto plan = choose_segments(now, job, context, state, settings, scratch, true, source);
    auto use_plan = [&](const SegmentPlan& p) {
      d.region = p.region;
      d.start = p.segments.front().start;
      d.end = p.segments.front().end;
      d.score = p.score;
      d.mean_intensity = p.mean_gco2_per_kwh;
      d.segments = p.segments;
    };
    if (plan && secs(plan->segments.front().start) <= now) {
      use_plan(*plan);
      d.action = PlanAction::dispatch;
      d.start = at(now);
      set_reason(d, PlanReason::best_starts_now);
    } else if (now >= latest) {
      if (ev.best_now) {
        dispatch(*ev.best_now, PlanReason::deadline);
      } else {
        dispatch_blind(PlanReason::deadline_no_window);
      }
    } else if (!plan) {
      hold(PlanReason::no_window);
    } else {
      hold(PlanReason::better_later);
      use_plan(*plan);
    }
  } else if (ev.best && ev.best->start == now) {
    dispatch(*ev.best, ev.any_forecast ? PlanReason::best_starts_now : PlanReason::no_forecast);
  } else if (auto early = start_early(now, duration, ev, context, settings);
             early && now <= latest) {
    d.advantage = ev.best_now->score - ev.best->score;
    d.margin = early->margin;
    dispatch(*ev.best_now, early->reason);
  } else if (now >= latest) {
    if (ev.best_now) {
      dispatch(*ev.best_now, PlanReason::deadline);
    } else {
      dispatch_blind(ev.signal ? PlanReason::deadline_no_window : PlanReason::deadline_no_data);
    }
  } else if (!ev.signal) {
    hold(PlanReason::no_data);
  } else if (!ev.best) {
    hold(PlanReason::no_window);
  } else {
    hold(PlanReason::better_later);
  }
  return d;
}

RegionState make_state(std::int64_t now, const PlanningContext& context,
                       const RunningCounts& running, const PlannerSettings& settings) {
  RegionState state;
  const auto& all = context.series();
  state.fresh.resize(all.size());
  state.running.assign(all.size(), 0);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& s = all[i];
    state.fresh[i] = !s.points.empty() && (!s.observed_at || now - secs(*s.observed_at) <=
                                                                 settings.max_staleness.count());
  }
  for (const auto& [name, count] : running) {
    const int r = context.find(name);
    if (r >= 0) {
      state.running[static_cast<std::size_t>(r)] = count;
    } else {
      state.running_other[name] = count;
    }
  }
  return state;
}

void count_dispatch(RegionState& state, const PlanningContext& context, const PlanDecision& d) {
  if (d.action != PlanAction::dispatch) return;
  const int r = context.find(d.region);
  if (r >= 0) {
    ++state.running[static_cast<std::size_t>(r)];
  } else {
    ++state.running_other[d.region];
  }
}

std::string format_time_opt(const std::optional<TimePoint>& t) {
  return t ? format_rfc3339(*t) : "-";
}

}  // namespace

namespace {

struct ReasonText {
  std::string_view key;
  std::string_view phrase;
};

// Indexed by PlanReason, in declaration order.
constexpr ReasonText kReasonTexts[] = {
    {"not_before", "waiting for not_before"},
    {"policy_now", "policy now"},
    {"policy_now_no_window", "policy now, no scorable window starting now"},
    {"policy_now_no_data", "policy now, no fresh data"},
    {"threshold", "threshold met now"},
    {"best_starts_now", "best window starts now"},
    {"no_forecast", "no forecast: only the place can be chosen"},
    {"min_gain", "waiting gains less than min_gain"},
    {"forecast_error", "waiting gains less than the forecast's expected error"},
    {"deadline", "deadline fallback: latest start reached"},
    {"deadline_no_window", "deadline fallback: no scorable window, first candidate"},
    {"deadline_no_data", "deadline fallback: no fresh data, first candidate"},
    {"capped", "every candidate region is at max_concurrent_dispatches"},
    {"no_data", "no fresh data"},
    {"no_window", "no window within the data horizon"},
    {"better_later", "best window starts later"},
};
static_assert(std::size(kReasonTexts) == static_cast<std::size_t>(PlanReason::better_later) + 1);

}  // namespace

std::string_view to_string(PlanReason reason) {
  return kReasonTexts[static_cast<std::size_t>(reason)].key;
}

std::string_view phrase(PlanReason reason) {
  return kReasonTexts[static_cast<std::size_t>(reason)].phrase;
}

std::string describe(const PlanDecision& d) {
  auto gain = [&] {
    return d.best && d.now_score && *d.now_score > 0
               ? fmt::format("{:.1f} %", (1.0 - d.best->score / *d.now_score) * 100.0)
               : std::string("?");
  };
  switch (d.reason_code) {
    case PlanReason::threshold:
      return fmt::format("threshold: {:.1f} <= {:.1f} g/kWh", d.score.value_or(0),
                         d.threshold.value_or(0));
    case PlanReason::min_gain:
      return fmt::format("best window only {} cleaner than now (min_gain {:.1f} % per hour moved)",
                         gain(), d.min_gain * 100.0);
    case PlanReason::forecast_error:
      return fmt::format(
          "best window only {:.1f} g/kWh cleaner than now, within the forecast's expected error "
          "of {:.1f} g/kWh",
          d.advantage.value_or(0), d.margin.value_or(0));
    case PlanReason::better_later:
      if (!d.segments.empty() && d.score && d.now_score && *d.now_score > 0) {
        // An interruptible job's plan: its segments together against one block from now.
        return fmt::format("best {} segments {:.1f} % cleaner than now", d.segments.size(),
                           (1.0 - *d.score / *d.now_score) * 100.0);
      }
      if (d.now_score) return fmt::format("best window {} cleaner than now", gain());
      break;
    case PlanReason::best_starts_now:
      if (d.segments.size() > 1) {
        return fmt::format("the first of {} best segments starts now", d.segments.size());
      }
      break;
    default:
      break;
  }
  return std::string(phrase(d.reason_code));
}

std::string format_decision(const PlanDecision& d) {
  std::string segments;
  if (!d.segments.empty()) {
    // Interruptible: every planned segment, so the log line alone tells the plan.
    std::vector<std::string> spans;
    for (const auto& w : d.segments)
      spans.push_back(format_rfc3339(w.start) + "/" + format_rfc3339(w.end));
    segments = fmt::format(" segments={}", fmt::join(spans, ","));
  }
  return fmt::format(
      "job={} action={} region={} start={} score={}{} reason={}", d.job_id, to_string(d.action),
      d.region.empty() ? "-" : d.region, format_time_opt(d.start),
      d.score ? fmt::format("{:.1f}", *d.score) : std::string("-"), segments, describe(d));
}

std::optional<double> planned_grams(const PlanDecision& d, Seconds duration, double power_watts) {
  if (!d.score) return std::nullopt;
  Seconds run = duration;
  if (!d.segments.empty()) {
    run = Seconds{0};
    for (const auto& w : d.segments)
      run += std::chrono::duration_cast<Seconds>(w.end - w.start);
  }
  return energy_kwh(power_watts, static_cast<double>(run.count()) / 3600.0, 1.0) * *d.score;
}

namespace {

// A job's options laid out for one re-plan, as one list the segment search and the decisions
// index: variant 0 is the job as given, each alternative a copy with its own run time, power and
// regions. Only the alternatives are copied, and without any the jobs are their own list.
class Variants {
 public:
  explicit Variants(std::span<const PlannerJob> jobs) : jobs_(jobs) {
    std::size_t extra = 0;
    for (const auto& job : jobs)
      extra += job.alternatives.size();
    if (extra == 0) return;
    copies_.reserve(extra);  // the pointers below stay valid
    all_.reserve(jobs.size() + extra);
    index_.reserve(jobs.size() + extra);
    first_.reserve(jobs.size() + 1);
    for (const auto& job : jobs) {
      first_.push_back(all_.size());
      all_.push_back(&job);  // decide() reads no `alternatives`: the job serves as variant 0
      index_.push_back(0);
      for (const auto& alternative : job.alternatives) {
        PlannerJob variant = job;
        variant.alternatives.clear();
        variant.duration = alternative.duration;
        variant.power_watts = alternative.power_watts;
        variant.regions = alternative.regions;
        copies_.push_back(std::move(variant));
        all_.push_back(&copies_.back());
        index_.push_back(alternative.index);
      }
    }
    first_.push_back(all_.size());
  }

  std::size_t size() const { return all_.empty() ? jobs_.size() : all_.size(); }
  const PlannerJob& at(std::size_t variant) const {
    return all_.empty() ? jobs_[variant] : *all_[variant];
  }
  std::size_t first(std::size_t job) const { return all_.empty() ? job : first_[job]; }
  std::size_t end(std::size_t job) const { return all_.empty() ? job + 1 : first_[job + 1]; }
  int alternative(std::size_t variant) const { return all_.empty() ? 0 : index_[variant]; }

 private:
  std::span<const PlannerJob> jobs_;
  std::vector<PlannerJob> copies_;
  std::vector<const PlannerJob*> all_;  // empty: no job has alternatives
  std::vector<std::size_t> first_;
  std::vector<int> index_;
};

// Decides job `i` over its options: each is decided as its own job, and the one whose planned
// run emits least wins (ties to the lower number). An option without candidate regions is left
// out; when no option has a scored plan, the main spec's decision stands.
PlanDecision decide_options(std::int64_t now, std::size_t i, const Variants& variants,
                            const PlanningContext& context, const RegionState& state,
                            const PlannerSettings& settings, std::vector<int>& scratch,
                            const SegmentPlans& plans) {
  const std::size_t first = variants.first(i);
  const std::size_t end = variants.end(i);
  if (end - first == 1) {
    return decide(now, variants.at(first), context, state, settings, scratch,
                  SegmentSource{&plans, first});
  }
  bool any_regions = false;
  for (std::size_t v = first; v < end; ++v)
    any_regions = any_regions || !variants.at(v).regions.empty();
  std::optional<PlanDecision> chosen;
  std::optional<double> chosen_grams;
  std::vector<PlanDecision::Option> options;
  for (std::size_t v = first; v < end; ++v) {
    const PlannerJob& job = variants.at(v);
    if (job.regions.empty() && (any_regions || v != first)) continue;
    PlanDecision d = decide(now, job, context, state, settings, scratch, SegmentSource{&plans, v});
    d.alternative = variants.alternative(v);
    const auto grams = planned_grams(d, job.duration, job.power_watts);
    options.push_back(
        PlanDecision::Option{d.alternative, d.region, d.start, d.score, grams, d.reason_code});
    if (!chosen || (grams && (!chosen_grams || *grams < *chosen_grams - 1e-9))) {
      chosen_grams = grams;
      chosen = std::move(d);
    }
  }
  chosen->options = std::move(options);
  return std::move(*chosen);
}

}  // namespace

std::vector<PlanDecision> plan_all(TimePoint now, std::span<const PlannerJob> jobs,
                                   const PlanningContext& context, const RunningCounts& running,
                                   const PlannerSettings& settings) {
  // Semantics: jobs are decided one by one, most urgent (earliest latest start) first, each
  // seeing the dispatches before it. Done in two passes for memory locality: every job is
  // decided in input order against the initial counts; then the dispatches are committed in
  // urgency order, and a job whose region filled up meanwhile is decided again. That is the
  // same result, because a fuller region only removes windows starting now: a hold stays a
  // hold, and a dispatch to a region still below its cap stays the same dispatch.
  const std::int64_t t = secs(now);
  RegionState state = make_state(t, context, running, settings);
  std::vector<PlanDecision> decisions(jobs.size());
  std::vector<int> scratch;
  std::vector<std::size_t> dispatching;
  const Variants variants(jobs);
  const SegmentPlans plans(
      t, variants.size(),
      [&variants](std::size_t v) -> const PlannerJob& { return variants.at(v); }, context, state,
      settings);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    decisions[i] = decide_options(t, i, variants, context, state, settings, scratch, plans);
    if (decisions[i].action == PlanAction::dispatch) dispatching.push_back(i);
  }
  std::vector<std::int64_t> latest(dispatching.size());
  for (std::size_t k = 0; k < dispatching.size(); ++k) {
    latest[k] = latest_start(jobs[dispatching[k]], settings);
  }
  std::vector<std::size_t> order(dispatching.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return latest[a] < latest[b]; });
  for (std::size_t k : order) {
    const std::size_t i = dispatching[k];
    if (at_cap(state, context, decisions[i].region, settings.max_concurrent_dispatches)) {
      decisions[i] = decide_options(t, i, variants, context, state, settings, scratch, plans);
    }
    count_dispatch(state, context, decisions[i]);
  }
  return decisions;
}

std::vector<PlanDecision> plan_all(TimePoint now, std::span<const PlannerJob> jobs,
                                   std::vector<RegionSeries> series, const RunningCounts& running,
                                   const PlannerSettings& settings) {
  const PlanningContext context(std::move(series));
  return plan_all(now, jobs, context, running, settings);
}

PlanDecision plan_one(TimePoint now, const PlannerJob& job, const PlanningContext& context,
                      const RunningCounts& running, const PlannerSettings& settings) {
  return plan_all(now, std::span<const PlannerJob>(&job, 1), context, running, settings).front();
}

std::optional<Window> best_window(TimePoint now, const PlannerJob& job,
                                  const PlanningContext& context, const PlannerSettings& settings) {
  const std::int64_t t = secs(now);
  std::vector<int> scratch;
  const Evaluation ev =
      evaluate(t, job, context, make_state(t, context, {}, settings), settings, false, scratch);
  if (!ev.best) return std::nullopt;
  return to_window(*ev.best, context, job.duration.count());
}

std::optional<SegmentPlan> plan_segments(const RegionSeries& series, TimePoint from,
                                         TimePoint until, Seconds duration,
                                         const SegmentRules& rules) {
  const PlanningContext context({series});
  PlannerJob job;
  job.duration = duration;
  job.deadline = until;
  job.segments = rules;
  PlannerSettings settings;
  settings.dispatch_slack = Seconds{0};
  auto found = segments_in(secs(from), job, context, 0, settings);
  if (!found) return std::nullopt;
  return to_segment_plan(context, 0, *found);
}

std::optional<SegmentPlan> best_segments(TimePoint now, const PlannerJob& job,
                                         const PlanningContext& context,
                                         const PlannerSettings& settings) {
  if (!job.segments) return std::nullopt;
  const std::int64_t t = secs(now);
  std::vector<int> ranked;
  const auto state = make_state(t, context, {}, settings);
  (void)evaluate(t, job, context, state, settings, false, ranked);
  return choose_segments(t, job, context, state, settings, ranked, false);
}

std::optional<double> window_mean(const RegionSeries& series, TimePoint start, TimePoint end) {
  if (end <= start) return std::nullopt;
  double sum = 0;
  std::int64_t covered = 0;
  const std::int64_t s = secs(start);
  const std::int64_t e = secs(end);
  auto it = std::upper_bound(series.points.begin(), series.points.end(), start,
                             [](TimePoint v, const Point& p) { return v < p.start; });
  if (it != series.points.begin()) --it;
  for (; it != series.points.end() && secs(it->start) < e; ++it) {
    const std::int64_t a = std::max(s, secs(it->start));
    const std::int64_t b = std::min(e, secs(it->end));
    if (b <= a) continue;
    sum += it->gco2_per_kwh * static_cast<double>(b - a);
    covered += b - a;
  }
  if (covered != e - s) return std::nullopt;
  return sum / static_cast<double>(e - s);
}

std::vector<Point> observed_points(std::span<const Reading> actuals) {
  std::vector<const Reading*> sorted;
  sorted.reserve(actuals.size());
  for (const auto& r : actuals) {
    if (r.kind == ReadingKind::actual && r.step > Seconds{0}) sorted.push_back(&r);
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](const Reading* a, const Reading* b) {
    return a->timestamp != b->timestamp ? a->timestamp < b->timestamp
                                        : a->fetched_at < b->fetched_at;
  });
  std::vector<Point> points;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i + 1 < sorted.size() && sorted[i + 1]->timestamp == sorted[i]->timestamp) continue;
    const Reading& r = *sorted[i];
    const TimePoint start = points.empty() ? r.timestamp : std::max(r.timestamp, points.back().end);
    if (start < r.timestamp + r.step) {
      points.push_back(Point{start, r.timestamp + r.step, r.gco2_per_kwh});
    }
  }
  return points;
}

RegionSeries build_series(std::string region, double pue, std::span<const Reading> readings,
                          TimePoint now, const ForecastErrorModel* errors) {
  RegionSeries out;
  out.region = std::move(region);
  out.pue = pue;
  const Reading* actual = nullptr;
  std::map<TimePoint, const Reading*> forecasts;  // newest issue per interval start
  for (const auto& r : readings) {
    if (out.feed.empty()) {
      out.feed = r.feed;
      out.signal = r.signal;
    }
    if (r.kind == ReadingKind::actual) {
      if (r.timestamp > now) continue;
      if (!actual || r.timestamp > actual->timestamp ||
          (r.timestamp == actual->timestamp && r.fetched_at >= actual->fetched_at)) {
        actual = &r;
      }
    } else {
      auto [it, inserted] = forecasts.try_emplace(r.timestamp, &r);
      if (!inserted &&
          (r.issued_at > it->second->issued_at ||
           (r.issued_at == it->second->issued_at && r.fetched_at >= it->second->fetched_at))) {
        it->second = &r;
      }
    }
  }
  TimePoint covered_until = now;
  const TimePoint actual_start = actual ? actual->timestamp : now;
  if (actual) {
    TimePoint end = actual->timestamp + actual->step;
    // The present runs on the latest actual up to the next forecast boundary after now.
    for (const auto& [ts, f] : forecasts) {
      const TimePoint f_end = ts + f->step;
      if (ts > now) {
        end = std::max(end, ts);
        break;
      }
      if (f_end > now) {
        end = std::max(end, f_end);
        break;
      }
    }
    out.points.push_back(Point{actual->timestamp, end, actual->gco2_per_kwh});
    out.observed_at = actual->timestamp;
    covered_until = end;
  } else if (!forecasts.empty()) {
    TimePoint newest{};
    for (const auto& [ts, f] : forecasts)
      newest = std::max(newest, f->issued_at);
    out.observed_at = newest;
  }
  // The present interval's forecast error (forecast - actual), for the persistence correction.
  std::optional<double> present_error;
  if (errors && actual) {
    auto it = forecasts.upper_bound(actual->timestamp);
    if (it != forecasts.begin()) {
      --it;
      if (actual->timestamp < it->first + it->second->step) {
        present_error = it->second->gco2_per_kwh - actual->gco2_per_kwh;
      }
    }
  }
  for (const auto& [ts, f] : forecasts) {
    const TimePoint f_end = ts + f->step;
    if (f_end <= covered_until) continue;
    TimePoint start = std::max(ts, actual ? covered_until : ts);
    if (!out.points.empty()) start = std::max(start, out.points.back().end);
    if (start >= f_end) continue;
    Point point{start, f_end, f->gco2_per_kwh};
    if (errors) {
      if (auto e = errors->at_lead(std::max(Seconds{0}, ts - f->issued_at))) {
        // A forecast that ran high by `bias` on average is lowered by it (and vice versa), and
        // so is what the present's error says about the next hours.
        point.gco2_per_kwh = correct_forecast(point.gco2_per_kwh, *e, errors->persistence,
                                              ts - actual_start, present_error);
        point.expected_error = e->mae_g;
      }
    }
    out.points.push_back(point);
    out.has_forecast = true;
  }
  return out;
}

}  // namespace gridshift
