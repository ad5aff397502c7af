// The forecast-error model (DESIGN.md §11): how far a feed's forecasts for one region missed,
// by lead time (the target interval's start minus the time the forecast was issued). Learned
// only from forecasts whose target interval has ended, scored against the actuals observed for
// it. The planner subtracts the known bias from forecast values and will not hold a job for an
// advantage smaller than the expected error. Pure: plain values in and out; not thread-safe.
#pragma once

#include <array>
#include <cstddef>
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
// "0-1h", "1-3h", ..., "48h+": the label /metrics and the API use for a bucket.
std::string lead_bucket_label(std::size_t bucket);

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
  void add(double forecast, double actual) {
    const double e = forecast - actual;
    sum_ += e;
    sum_abs_ += e < 0 ? -e : e;
    ++n_;
  }
  ErrorStats stats() const;
  std::size_t samples() const { return n_; }

 private:
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

class PersistenceAccumulator {
 public:
  void add(Seconds lead, double error_then, double error_later) {
    const std::size_t b = lead_bucket(lead);
    sxy_[b] += error_then * error_later;
    sxx_[b] += error_then * error_then;
    ++n_[b];
  }
  PersistenceModel model() const {
    PersistenceModel m;
    for (std::size_t b = 0; b < kLeadBuckets; ++b) {
      if (n_[b] >= kMinErrorSamples && sxx_[b] > 0) m.slope[b] = sxy_[b] / sxx_[b];
    }
    return m;
  }

 private:
  std::array<double, kLeadBuckets> sxy_{};
  std::array<double, kLeadBuckets> sxx_{};
  std::array<std::size_t, kLeadBuckets> n_{};
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

// Scores every forecast point whose interval [timestamp, timestamp + step) ended at or before
// `now` against the time-weighted mean of the actuals over that interval; points the actuals do
// not wholly cover are left out. Each snapshot (issued_at) counts as its own sample, so a target
// hour forecast by 24 hourly snapshots adds 24 samples, one per lead. Persistence is learned
// within each snapshot: the error of each of its first points (lead under 3 h, standing for
// "the present") paired with the error of each later point.
ForecastErrorModel learn_forecast_error(std::span<const Reading> forecasts,
                                        std::span<const Reading> actuals, TimePoint now);

}  // namespace gridshift
