// The scheduling policy (docs/scheduling.md): for each queued job, which region and start emit
// least, and whether to dispatch now or hold. Pure: `now`, series and jobs are plain values passed
// in. A PlanningContext caches per-region, per-duration window tables; it is not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/forecast_error.h"
#include "core/job.h"
#include "core/reading.h"
#include "core/time.h"
#include "core/units.h"

namespace gridshift {

// One value of a series: holds over [start, end), in g CO2e/kWh.
struct Point {
  TimePoint start{};
  TimePoint end{};
  double gco2_per_kwh = 0;
  // The expected absolute error of the value (g/kWh): 0 for actuals and for forecasts whose
  // feed has no error history yet; the forecast-error model's MAE at this point's lead time.
  double expected_error = 0;
  bool operator==(const Point&) const = default;
};

// What the planner knows about one region: the latest actual (covering the present), then the
// newest forecast for each later interval. Points are sorted by start and do not overlap; a gap
// is missing data, and a window touching it is not scored.
struct RegionSeries {
  std::string region;
  SignalType signal = SignalType::average;
  double pue = 1.0;
  std::string feed;
  std::vector<Point> points;
  // When the latest actual was observed. Older than PlannerSettings::max_staleness at `now`
  // makes the region's data missing; nullopt = trust the points as they are.
  std::optional<TimePoint> observed_at;
  // Whether any point comes from a forecast. Without one only the place can be chosen: a
  // single actual (or a yearly average) scores every start alike.
  bool has_forecast = false;

  // The end of the data: windows ending after it are not scored.
  std::optional<TimePoint> horizon() const;
};

// How an interruptible job may be split (docs/scheduling.md, "Interruptible jobs"): at most
// `max_segments` segments (those still allowed), each at least `min_segment`, every segment
// after the first `resume_overhead` longer.
struct SegmentRules {
  int max_segments = 1;
  Seconds min_segment{3600};
  Seconds resume_overhead{0};
  bool operator==(const SegmentRules&) const = default;
};

SegmentRules to_segment_rules(const InterruptibleSpec& spec);

// Another way to run a job (core/job.h's AlternativeSpec, resolved): its own run time, power
// and the candidate regions that offer its hardware at an acceptable price.
struct PlannerAlternative {
  int index = 1;  // AlternativeSpec number (1-based; 0 is the main spec)
  Seconds duration{0};
  double power_watts = 0;
  std::vector<std::string> regions;
  bool operator==(const PlannerAlternative&) const = default;
};

// A queued job as the planner needs it (resolved fields of core/job.h's Job).
struct PlannerJob {
  std::string id;
  std::vector<std::string> regions;  // candidates, in preference order
  Seconds duration{0};
  TimePoint deadline{};
  std::optional<TimePoint> not_before;
  Policy policy = Policy::best_window;
  std::optional<double> threshold;  // g/kWh, compared with the score (mean x PUE)
  double power_watts = 0;
  // Interruptible: `duration` is the run time of the work left as one segment (with the resume
  // overhead when a segment already ran), and these rules allow splitting it.
  std::optional<SegmentRules> segments;
  // Hardware alternatives: each is planned like the main spec (whose own fields are above,
  // number 0), and the decision goes to the option whose planned run emits least (grams =
  // score x power x run time, not intensity alone).
  std::vector<PlannerAlternative> alternatives;
};

struct PlannerSettings {
  Seconds dispatch_slack{15 * 60};
  // Start before the planned window when waiting gains less than this fraction of the score per
  // hour moved (see decide() in planner.cpp). 0: wait for the planned window.
  double min_gain = 0;
  int max_concurrent_dispatches = 8;  // per region
  Seconds max_staleness{3 * 3600};
  // Start before the planned window when waiting gains less than this many times the forecasts'
  // expected error over the hours that differ. 0 disables the rule.
  double error_margin = 0;
};

// Signal types that can be ranked against each other: `average` and `annual_average` are both
// location-based g/kWh; `marginal` stands alone.
bool same_signal_group(SignalType a, SignalType b);

// A scored window: mean intensity over [start, end) and score = mean x PUE.
struct Window {
  std::string region;
  TimePoint start{};
  TimePoint end{};
  double mean_gco2_per_kwh = 0;
  double score = 0;
  bool operator==(const Window&) const = default;
};

enum class PlanAction { dispatch, hold };
std::string_view to_string(PlanAction action);

// Why a decision was taken (the rules of docs/scheduling.md, in the order they are tried).
enum class PlanReason {
  not_before,            // hold: not_before is in the future
  policy_now,            // dispatch: policy now, best region now
  policy_now_no_window,  // dispatch: policy now, nothing scorable now: first candidate
  policy_now_no_data,    // dispatch: policy now, no fresh data: first candidate
  threshold,             // dispatch: a window starting now scores <= threshold
  best_starts_now,       // dispatch: the best window starts now
  no_forecast,           // dispatch: no candidate has a forecast; the cleanest place now
  min_gain,              // dispatch: waiting gains less than min_gain per hour moved
  forecast_error,        // dispatch: waiting gains less than the forecasts' expected error
  deadline,              // dispatch: latest start reached, best region now
  deadline_no_window,    // dispatch: latest start reached, nothing scorable: first candidate
  deadline_no_data,      // dispatch: latest start reached, no fresh data: first candidate
  capped,                // hold: every candidate region is at max_concurrent_dispatches
  no_data,               // hold: no fresh data
  no_window,             // hold: no window within the data horizon
  better_later,          // hold: the best window starts later
};
std::string_view to_string(PlanReason reason);  // a short key: "threshold", "min_gain", ...
std::string_view phrase(PlanReason reason);     // "best window starts later", ...

struct PlanDecision {
  std::string job_id;
  PlanAction action = PlanAction::hold;
  // dispatch: the region to start in now (empty only when holding without any window).
  // hold: the planned best window, when one is scored.
  std::string region;
  std::optional<TimePoint> start;
  std::optional<TimePoint> end;
  std::optional<double> score;           // mean x PUE of the chosen window, when scored
  std::optional<double> mean_intensity;  // g/kWh of the chosen window, when scored
  std::optional<SignalType> signal;      // signal type of the region group that was ranked
  std::optional<Window> best;            // best feasible window, when any is scored
  std::optional<Window> baseline;        // starting now in the first candidate with data
  std::optional<double> now_score;       // best score starting now (regions below the cap)
  // min_gain / forecast_error: the advantage of waiting and the margin it fell within (score
  // units, g/kWh x PUE).
  std::optional<double> advantage;
  std::optional<double> margin;
  std::vector<Exclusion> excluded;  // candidates not ranked, in the job's order
  PlanReason reason_code = PlanReason::no_data;
  std::string reason;               // fixed phrase of reason_code; describe() adds the figures
  std::optional<double> threshold;  // the job's, for describe()
  double min_gain = 0;              // the setting used, for describe()
  // Interruptible jobs: the planned segments in time order (the first is the one dispatched).
  // `score` and `mean_intensity` are then their time-weighted means, `end` the first one's end.
  std::vector<Window> segments;
  // The option chosen (0 = the main spec, k = PlannerJob::alternatives' index k) and, for a job
  // with alternatives, each option's planned run: what `gridshift plan` lists.
  int alternative = 0;
  struct Option {
    int alternative = 0;
    std::string region;  // empty: nothing scorable
    std::optional<TimePoint> start;
    std::optional<double> score;
    std::optional<double> grams;  // planned emissions of the option's whole run
    PlanReason reason_code = PlanReason::no_data;
    bool operator==(const Option&) const = default;
  };
  std::vector<Option> options;
  bool operator==(const PlanDecision&) const = default;
};

// The planned emissions (g) of a decision for a job running `duration` at `power_watts`: the
// chosen window's (or segments') score x energy; nullopt without a scored window.
std::optional<double> planned_grams(const PlanDecision& decision, Seconds duration,
                                    double power_watts);

// The reason as one phrase with its figures: "best window 66.7 % cleaner than now".
std::string describe(const PlanDecision& decision);

// "job=ID action=hold region=R start=T score=S reason=..." (the one log line per decision).
std::string format_decision(const PlanDecision& decision);

// Builds a region's series from cached readings of ONE feed at `now`: the latest actual at or
// before `now` holds until the end of its interval (or, when later, of the forecast interval
// containing `now`); later intervals take the newest-issued forecast. Readings of other kinds
// and duplicates are resolved here; `observed_at` is the latest actual's timestamp (or, without
// actuals, the newest forecast's issue time). With `errors`, each forecast value is corrected
// by the known bias at its lead time (never below 0) and carries the expected error.
RegionSeries build_series(std::string region, double pue, std::span<const Reading> readings,
                          TimePoint now, const ForecastErrorModel* errors = nullptr);

// The points of observed actuals in hindsight: sorted by start, the newest fetch winning a
// duplicate start, an interval overlapping the one before it clipped to start where that ends.
std::vector<Point> observed_points(std::span<const Reading> actuals);

// Indexes series for fast planning. Holds one table of window means per (region, duration),
// built on first use from prefix sums, with a sparse table for range minima over the feasible
// starts. Rebuild (or construct anew) when series change; reuse across `now` values otherwise.
class PlanningContext {
 public:
  explicit PlanningContext(std::vector<RegionSeries> series);
  ~PlanningContext();
  PlanningContext(PlanningContext&&) noexcept;
  PlanningContext& operator=(PlanningContext&&) noexcept;

  const std::vector<RegionSeries>& series() const { return series_; }
  // Index of a region in series(), or -1.
  int find(std::string_view region) const;

  // Internals used by the planner (declared here so the tables can be cached).
  struct RegionIndex;
  RegionIndex& index(int region) const { return *indexes_[static_cast<std::size_t>(region)]; }
  // A dense number for each distinct job duration seen, so tables are found without hashing
  // per region.
  std::size_t duration_slot(Seconds duration) const;

 private:
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<RegionSeries> series_;
  std::unordered_map<std::string, int, NameHash, std::equal_to<>> by_name_;
  std::vector<std::unique_ptr<RegionIndex>> indexes_;
  mutable std::unordered_map<std::int64_t, std::size_t> duration_slots_;
};

// Running dispatches per region (for max_concurrent_dispatches).
using RunningCounts = std::map<std::string, int, std::less<>>;

// Re-plans every job at `now`. Decisions come back in the order of `jobs`. Jobs are served in
// order of latest start (most urgent first, then input order), so that the per-region cap goes
// to the jobs that cannot wait; each dispatch counts against its region for the jobs after it.
std::vector<PlanDecision> plan_all(TimePoint now, std::span<const PlannerJob> jobs,
                                   const PlanningContext& context, const RunningCounts& running,
                                   const PlannerSettings& settings);
std::vector<PlanDecision> plan_all(TimePoint now, std::span<const PlannerJob> jobs,
                                   std::vector<RegionSeries> series, const RunningCounts& running,
                                   const PlannerSettings& settings);

// One job (what `gridshift plan` and POST /v1/plan answer).
PlanDecision plan_one(TimePoint now, const PlannerJob& job, const PlanningContext& context,
                      const RunningCounts& running, const PlannerSettings& settings);

// The best feasible window of a job at `now` (no dispatch rules, no cap): the oracle when the
// series hold hindsight actuals.
std::optional<Window> best_window(TimePoint now, const PlannerJob& job,
                                  const PlanningContext& context, const PlannerSettings& settings);

// A least-grams set of segments in one region.
struct SegmentPlan {
  std::string region;
  std::vector<Window> segments;  // in time order
  double mean_gco2_per_kwh = 0;  // time-weighted over the segments
  double score = 0;              // mean x PUE
  Seconds total{0};              // run time of all segments, resume overheads included
  bool operator==(const SegmentPlan&) const = default;
};

// The least-grams segments in `series` for `duration` of run time (as one segment) under
// `rules`, starting at or after `from` and all ending by `until`: at most rules.max_segments
// segments, each at least min_segment long, the k-th adding (k - 1) x resume_overhead to the
// run time. Exact over the plans whose segments start at `from` or at a boundary of the
// data's resolution and, all but the last, end at one (dynamic programming over those
// boundaries). Ties go to fewer segments, then to the earlier end. nullopt: no plan fits. A
// first segment starting at most 5 min after a boundary counts its length from the boundary
// (the daemon wakes a moment after a planned start).
std::optional<SegmentPlan> plan_segments(const RegionSeries& series, TimePoint from,
                                         TimePoint until, Seconds duration,
                                         const SegmentRules& rules);

// The best segment plan of an interruptible job at `now` over its candidate regions (one region
// for all segments, no dispatch rules, no cap): the interruptible oracle on hindsight series.
std::optional<SegmentPlan> best_segments(TimePoint now, const PlannerJob& job,
                                         const PlanningContext& context,
                                         const PlannerSettings& settings);

// Time-weighted mean intensity of a series over [start, end); nullopt when any part is missing.
std::optional<double> window_mean(const RegionSeries& series, TimePoint start, TimePoint end);

}  // namespace gridshift
