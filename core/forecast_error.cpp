#include "core/forecast_error.h"

#include <algorithm>
#include <vector>

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

double correct_forecast(double forecast, const ErrorStats& errors,
                        const PersistenceModel& persistence, Seconds since_present,
                        std::optional<double> present_error) {
  double value = forecast - errors.bias_g;
  if (present_error) {
    value -= persistence.expected(since_present, *present_error - errors.bias_g);
  }
  return std::max(0.0, value);
}

ForecastErrorModel learn_forecast_error(std::span<const Reading> forecasts,
                                        std::span<const Reading> actuals, TimePoint now) {
  // Actuals as sorted, non-overlapping intervals (the newest fetch wins a duplicate start).
  std::vector<const Reading*> sorted;
  sorted.reserve(actuals.size());
  for (const auto& r : actuals) {
    if (r.kind == ReadingKind::actual && r.step > Seconds{0}) sorted.push_back(&r);
  }
  std::sort(sorted.begin(), sorted.end(), [](const Reading* a, const Reading* b) {
    return a->timestamp != b->timestamp ? a->timestamp < b->timestamp
                                        : a->fetched_at < b->fetched_at;
  });
  std::vector<const Reading*> intervals;
  for (const Reading* r : sorted) {
    if (!intervals.empty() && intervals.back()->timestamp == r->timestamp) {
      intervals.back() = r;
    } else {
      intervals.push_back(r);
    }
  }
  // Mean of the actuals over [from, to), when they cover all of it.
  auto observed = [&](TimePoint from, TimePoint to) -> std::optional<double> {
    auto it = std::upper_bound(intervals.begin(), intervals.end(), from,
                               [](TimePoint t, const Reading* r) { return t < r->timestamp; });
    if (it != intervals.begin()) --it;
    double sum = 0;
    std::int64_t covered = 0;
    for (; it != intervals.end() && (*it)->timestamp < to; ++it) {
      const TimePoint a = std::max(from, (*it)->timestamp);
      const TimePoint b = std::min(to, (*it)->timestamp + (*it)->step);
      if (b <= a) continue;
      sum += (*it)->gco2_per_kwh * static_cast<double>((b - a).count());
      covered += (b - a).count();
    }
    if (covered != (to - from).count() || covered <= 0) return std::nullopt;
    return sum / static_cast<double>(covered);
  };

  struct Scored {
    TimePoint issued;
    TimePoint timestamp;
    Seconds lead;
    double error;
  };
  std::vector<Scored> scored;
  std::array<ErrorAccumulator, kLeadBuckets> buckets;
  ErrorAccumulator all;
  for (const auto& f : forecasts) {
    if (f.kind != ReadingKind::forecast || f.step <= Seconds{0}) continue;
    const TimePoint end = f.timestamp + f.step;
    if (end > now) continue;  // its target has not passed yet
    const auto actual = observed(f.timestamp, end);
    if (!actual) continue;
    const Seconds lead = std::max(Seconds{0}, f.timestamp - f.issued_at);
    buckets[lead_bucket(lead)].add(f.gco2_per_kwh, *actual);
    all.add(f.gco2_per_kwh, *actual);
    scored.push_back(Scored{f.issued_at, f.timestamp, lead, f.gco2_per_kwh - *actual});
  }
  ForecastErrorModel model;
  for (std::size_t i = 0; i < kLeadBuckets; ++i)
    model.by_lead[i] = buckets[i].stats();
  model.overall = all.stats();

  // Persistence, within each snapshot: an early point's error against each later point's.
  std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    return a.issued != b.issued ? a.issued < b.issued : a.timestamp < b.timestamp;
  });
  constexpr Seconds kPresentLead{3 * 3600};
  const double bias = model.overall.bias_g;
  PersistenceAccumulator persistence;
  for (std::size_t i = 0; i < scored.size();) {
    std::size_t end = i;
    while (end < scored.size() && scored[end].issued == scored[i].issued)
      ++end;
    for (std::size_t c = i; c < end && scored[c].lead < kPresentLead; ++c) {
      for (std::size_t k = c + 1; k < end; ++k) {
        persistence.add(scored[k].timestamp - scored[c].timestamp, scored[c].error - bias,
                        scored[k].error - bias);
      }
    }
    i = end;
  }
  model.persistence = persistence.model();
  return model;
}

}  // namespace gridshift
