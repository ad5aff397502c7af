#include "daemon/scheduler/forecast_errors.h"

#include <nlohmann/json.hpp>

#include "common/config_slices.h"
#include "common/logging.h"

namespace gridshift {
namespace {

// Snapshots are read a day of issue times at a time: a week of them at once (some 12,000
// readings per feed and location for hourly 72-hour forecasts) would only raise the heap's peak.
constexpr Seconds kReadChunk{24 * 3600};

}  // namespace

Result<ForecastErrorModel> learn_forecast_errors(ReadingStore& store, const std::string& feed,
                                                 const std::string& location, TimePoint now) {
  // Forecasts issued in the window target up to a few days later: these actuals cover them.
  auto actuals = store.actuals(feed, location, now - kForecastErrorWindow, now);
  if (!actuals) return actuals.error();
  ForecastErrorLearner learner(*actuals, now);
  for (TimePoint from = now - kForecastErrorWindow; from < now; from += kReadChunk) {
    auto forecasts = store.forecasts_issued(feed, location, from, std::min(now, from + kReadChunk));
    if (!forecasts) return forecasts.error();
    learner.add(*forecasts);
  }
  return learner.model();
}

void ForecastErrors::refresh(const ServiceConfig& config, ReadingStore& store, TimePoint now) {
  if (learned_at_ && now >= *learned_at_ && now - *learned_at_ < kErrorRefresh) return;
  learned_at_ = now;
  auto log = subsystem_logger("scheduler");
  std::map<std::pair<std::string, std::string>, ForecastErrorModel> fresh;
  for (const auto& region : config.regions) {
    for (const auto& feed : region.feeds) {
      auto key = std::make_pair(feed, feed_location(config, feed, region));
      if (fresh.contains(key)) continue;
      auto learned = learn_forecast_errors(store, key.first, key.second, now);
      if (!learned) {
        log->warn("forecast errors of feed {} for {} not learned: cannot read the cache ({})",
                  key.first, key.second, learned.error().message);
        if (auto old = models_.find(key); old != models_.end()) fresh[key] = old->second;
        continue;
      }
      fresh[key] = *learned;
    }
  }
  models_ = std::move(fresh);
}

const ForecastErrorModel* ForecastErrors::find(const std::string& feed,
                                               const std::string& location) const {
  auto it = models_.find({feed, location});
  return it == models_.end() ? nullptr : &it->second;
}

nlohmann::json forecast_error_json(const ForecastErrorModel* model) {
  if (model == nullptr || model->overall.samples == 0) return nullptr;
  auto stats = [](const ErrorStats& s) {
    return nlohmann::json{{"bias_g", s.bias_g}, {"mae_g", s.mae_g}, {"samples", s.samples}};
  };
  auto out = stats(model->overall);
  auto by_lead = nlohmann::json::array();
  for (std::size_t i = 0; i < kLeadBuckets; ++i) {
    if (model->by_lead[i].samples == 0) continue;
    auto entry = stats(model->by_lead[i]);
    entry["lead"] = lead_bucket_label(i);
    by_lead.push_back(std::move(entry));
  }
  out["by_lead"] = std::move(by_lead);
  return out;
}

}  // namespace gridshift
