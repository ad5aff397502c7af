// The daemon's forecast-error figures (docs/scheduling.md): one ForecastErrorModel per (feed,
// location) of the configured regions, learned from the stored forecast snapshots and actuals
// of the last kForecastErrorWindow, refreshed at most once per kErrorRefresh. The scheduler
// corrects forecasts with them; GET /v1/regions and /metrics show them. Owned by the Daemon; used
// on its io_context thread only.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "common/config_slices.h"
#include "core/forecast_error.h"
#include "core/ports/reading_store.h"

namespace gridshift {

// How often the figures are learned again (over core's kForecastErrorWindow).
inline constexpr Seconds kErrorRefresh{3600};

class ForecastErrors {
 public:
  // Learns again when the figures are older than kErrorRefresh (or from the future: a clock
  // set back). A store error leaves the previous figures of that feed and location in place.
  void refresh(const ServiceConfig& config, ReadingStore& store, TimePoint now);

  // nullptr when nothing was learned for this feed and location.
  const ForecastErrorModel* find(const std::string& feed, const std::string& location) const;

  std::optional<TimePoint> learned_at() const { return learned_at_; }

 private:
  std::map<std::pair<std::string, std::string>, ForecastErrorModel> models_;
  std::optional<TimePoint> learned_at_;
};

// One feed and location's figures from the store: its actuals and the snapshots issued in the
// last kForecastErrorWindow, read a day of issue times at a time. What refresh() does for each.
Result<ForecastErrorModel> learn_forecast_errors(ReadingStore& store, const std::string& feed,
                                                 const std::string& location, TimePoint now);

// {"bias_g", "mae_g", "samples", "by_lead": [{"lead", "bias_g", "mae_g", "samples"}]} or null.
nlohmann::json forecast_error_json(const ForecastErrorModel* model);

}  // namespace gridshift
