// The forecast-error model (docs/scheduling.md): how far a feed's forecasts for one region missed,
// by lead time (the target interval's start minus the time the forecast was issued). Learned
// only from forecasts whose target interval has ended, scored against the actuals observed for
// it. The planner corrects forecast values with it (bias, and the present error that persists)
// and, with scheduler.error_margin, does not hold a job for an advantage smaller than the
// expected error. Pure: plain values in and out; not thread-safe.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/reading.h"
#include "core/time.h"

namespace gridshift {

// Lead-time buckets: [0, 1h), [1h, 2h), [2h, 3h), [3h, 4h), [4h, 6h), [6h, 8h), [8h, 12h),
// [12h, 18h), [18h, 24h), [24h, 36h), [36h, 48h), [48h, ...).
inline constexpr std::size_t kLeadBuckets = 12;
std::size_t lead_bucket(Seconds lead);
// "0-1h", "1-2h", ..., "48h+": the label the API uses for a bucket.
std::string lead_bucket_label(std::size_t bucket);

// How far back forecasts are scored: recent enough to follow a feed whose errors drift.
inline constexpr Seconds kForecastErrorWindow{7 * 24 * 3600};

// A bucket (or all of them) needs this many scored forecast points before its figures are used.
inline constexpr std::size_t kMinErrorSamples = 24;

// Error figures in g CO2e/kWh: bias = mean(forecast - actual), mae = mean |forecast - actual|.
struct ErrorStats {
  double bias_g = 0;
  double mae_g = 0;
  std::size_t samples = 0;
  bool operator==(const ErrorStats&) const = default;
};

// Running sums of forecast-minus-actual differences.
class ErrorAccumulator {
 public:
  void add(double forecast, double actual) { change(forecast - actual, 1); }
  // Takes back what add() put in: a window that slides.
  void remove(double forecast, double actual) { change(forecast - actual, -1); }
  ErrorStats stats() const;
  std::size_t samples() const { return n_; }

 private:
  void change(double e, int sign) {
    sum_ += sign * e;
    sum_abs_ += sign * std::abs(e);
    n_ = sign > 0 ? n_ + 1 : n_ - 1;
  }
  double sum_ = 0;
  double sum_abs_ = 0;
  std::size_t n_ = 0;
};

// How much of the forecast's present error persists `lead` later: per lead bucket, the
// least-squares slope of the error at t + lead on the error at t (0 until kMinErrorSamples).
struct PersistenceModel {
  std::array<double, kLeadBuckets> slope{};
  bool operator==(const PersistenceModel&) const = default;
  // The error expected `lead` after a point whose error (forecast - actual) was `present`.
  double expected(Seconds lead, double present) const { return slope[lead_bucket(lead)] * present; }
};

// Pairs of errors (forecast - actual) `lead` apart. The sums are of raw errors, so pairs can
// be added and taken back in any order; model() removes the bias when it fits the slopes.
class PersistenceAccumulator {
 public:
  void add(Seconds lead, double error_then, double error_later) {
    change(lead, error_then, error_later, 1);
  }
  void remove(Seconds lead, double error_then, double error_later) {
    change(lead, error_then, error_later, -1);
  }
  // Slopes of (later - bias) on (then - bias), through the origin.
  PersistenceModel model(double bias) const;

 private:
  void change(Seconds lead, double x, double y, int sign) {
    Sums& s = sums_[lead_bucket(lead)];
    s.xy += sign * x * y;
    s.xx += sign * x * x;
    s.x += sign * x;
    s.y += sign * y;
    s.n += sign;
  }
  struct Sums {
    double xy = 0, xx = 0, x = 0, y = 0;
    long long n = 0;
  };
  std::array<Sums, kLeadBuckets> sums_{};
};

struct ForecastErrorModel {
  std::array<ErrorStats, kLeadBuckets> by_lead{};
  ErrorStats overall;  // every scored point, whatever its lead
  // How the error of the present interval carries over to later ones (by their distance).
  PersistenceModel persistence;
  bool operator==(const ForecastErrorModel&) const = default;

  // The figures that apply at `lead`: its bucket's when the bucket has kMinErrorSamples, else
  // the overall ones when they do, else none (too little history to correct anything).
  std::optional<ErrorStats> at_lead(Seconds lead) const;
};

// A forecast value corrected by what the history says: minus the known bias at its lead, minus
// the part of the present interval's (de-biased) error expected to persist `since_present`
// later. Never below 0. `present_error` is forecast - actual of the interval holding now.
double correct_forecast(double forecast, const ErrorStats& errors,
                        const PersistenceModel& persistence, Seconds since_present,
                        std::optional<double> present_error);

// Learns a ForecastErrorModel from forecast snapshots fed in any number of batches (so that a
// week of snapshots need not be held at once), each batch holding whole snapshots. Every
// forecast point whose interval [timestamp, timestamp + step) ended at or before `now` is scored
// against the time-weighted mean of the actuals over that interval; points the actuals do not
// wholly cover are left out. Each snapshot (issued_at) counts as its own sample, so a target
// hour forecast by 24 hourly snapshots adds 24 samples, one per lead. Persistence is learned
// within each snapshot: the error of each of its first points (lead under 3 h, standing for
// "the present") paired with the error of each later point.
class ForecastErrorLearner {
 public:
  ForecastErrorLearner(std::span<const Reading> actuals, TimePoint now);
  ~ForecastErrorLearner();
  void add(std::span<const Reading> forecasts);
  ForecastErrorModel model() const;

 private:
  struct Observed;
  std::unique_ptr<Observed> observed_;
  TimePoint now_;
  std::array<ErrorAccumulator, kLeadBuckets> buckets_;
  ErrorAccumulator all_;
  PersistenceAccumulator persistence_;
};

// One batch: ForecastErrorLearner(actuals, now), add(forecasts), model().
ForecastErrorModel learn_forecast_error(std::span<const Reading> forecasts,
                                        std::span<const Reading> actuals, TimePoint now);

}  // namespace gridshift
