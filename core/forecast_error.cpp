#include "core/forecast_error.h"

#include <algorithm>
#include <vector>

#include "core/planner.h"

namespace gridshift {

namespace {

// Upper bounds of the buckets but the last, in hours.
constexpr std::array<std::int64_t, kLeadBuckets - 1> kBucketEndsHours = {1,  2,  3,  4,  6, 8,
                                                                         12, 18, 24, 36, 48};

}  // namespace

std::size_t lead_bucket(Seconds lead) {
  const std::int64_t s = lead.count();
  for (std::size_t i = 0; i < kBucketEndsHours.size(); ++i) {
    if (s < kBucketEndsHours[i] * 3600) return i;
  }
  return kLeadBuckets - 1;
}

std::string lead_bucket_label(std::size_t bucket) {
  if (bucket >= kLeadBuckets - 1) {
    return std::to_string(kBucketEndsHours.back()) + "h+";
  }
  const std::int64_t from = bucket == 0 ? 0 : kBucketEndsHours[bucket - 1];
  return std::to_string(from) + "-" + std::to_string(kBucketEndsHours[bucket]) + "h";
}

ErrorStats ErrorAccumulator::stats() const {
  ErrorStats s;
  s.samples = n_;
  if (n_ > 0) {
    s.bias_g = sum_ / static_cast<double>(n_);
    s.mae_g = sum_abs_ / static_cast<double>(n_);
  }
  return s;
}

std::optional<ErrorStats> ForecastErrorModel::at_lead(Seconds lead) const {
  const auto& bucket = by_lead[lead_bucket(lead)];
  if (bucket.samples >= kMinErrorSamples) return bucket;
  if (overall.samples >= kMinErrorSamples) return overall;
  return std::nullopt;
}

PersistenceModel PersistenceAccumulator::model(double bias) const {
  PersistenceModel m;
  for (std::size_t b = 0; b < kLeadBuckets; ++b) {
    const Sums& s = sums_[b];
    if (s.n < static_cast<long long>(kMinErrorSamples)) continue;
    const double n = static_cast<double>(s.n);
    // Sums of (x - bias)(y - bias) and (x - bias)^2 from the raw sums.
    const double xy = s.xy - bias * (s.x + s.y) + n * bias * bias;
    const double xx = s.xx - 2 * bias * s.x + n * bias * bias;
    if (xx > 0) m.slope[b] = xy / xx;
  }
  return m;
}

double correct_forecast(double forecast, const ErrorStats& errors,
                        const PersistenceModel& persistence, Seconds since_present,
                        std::optional<double> present_error) {
  double value = forecast - errors.bias_g;
  if (present_error) {
    value -= persistence.expected(since_present, *present_error - errors.bias_g);
  }
  return std::max(0.0, value);
}

struct ForecastErrorLearner::Observed {
  RegionSeries series;
};

ForecastErrorLearner::ForecastErrorLearner(std::span<const Reading> actuals, TimePoint now)
    : observed_(std::make_unique<Observed>()), now_(now) {
  observed_->series.points = observed_points(actuals);
}

ForecastErrorLearner::~ForecastErrorLearner() = default;

void ForecastErrorLearner::add(std::span<const Reading> forecasts) {
  struct Scored {
    TimePoint issued;
    TimePoint timestamp;
    Seconds lead;
    double error;
  };
  std::vector<Scored> scored;
  for (const auto& f : forecasts) {
    if (f.kind != ReadingKind::forecast || f.step <= Seconds{0}) continue;
    const TimePoint end = f.timestamp + f.step;
    if (end > now_) continue;  // its target has not passed yet
    const auto actual = window_mean(observed_->series, f.timestamp, end);
    if (!actual) continue;
    const Seconds lead = std::max(Seconds{0}, f.timestamp - f.issued_at);
    buckets_[lead_bucket(lead)].add(f.gco2_per_kwh, *actual);
    all_.add(f.gco2_per_kwh, *actual);
    scored.push_back(Scored{f.issued_at, f.timestamp, lead, f.gco2_per_kwh - *actual});
  }
  // Persistence, within each snapshot: an early point's error against each later point's.
  std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    return a.issued != b.issued ? a.issued < b.issued : a.timestamp < b.timestamp;
  });
  constexpr Seconds kPresentLead{3 * 3600};
  for (std::size_t i = 0; i < scored.size();) {
    std::size_t end = i;
    while (end < scored.size() && scored[end].issued == scored[i].issued)
      ++end;
    for (std::size_t c = i; c < end && scored[c].lead < kPresentLead; ++c) {
      for (std::size_t k = c + 1; k < end; ++k) {
        persistence_.add(scored[k].timestamp - scored[c].timestamp, scored[c].error,
                         scored[k].error);
      }
    }
    i = end;
  }
}

ForecastErrorModel ForecastErrorLearner::model() const {
  ForecastErrorModel model;
  for (std::size_t i = 0; i < kLeadBuckets; ++i)
    model.by_lead[i] = buckets_[i].stats();
  model.overall = all_.stats();
  model.persistence = persistence_.model(model.overall.bias_g);
  return model;
}

ForecastErrorModel learn_forecast_error(std::span<const Reading> forecasts,
                                        std::span<const Reading> actuals, TimePoint now) {
  ForecastErrorLearner learner(actuals, now);
  learner.add(forecasts);
  return learner.model();
}

}  // namespace gridshift
