// The subsystems' families of /metrics (docs/api.md): the feeds (intensity per region and feed,
// requests by outcome, last success), the scheduler (dispatches, re-plan durations) and the
// carbon accounting. Plain functions over the daemon's objects, called on its io_context thread
// at each scrape; the caller appends them to JobService::metrics_sections.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/config_slices.h"
#include "core/ports/reading_store.h"
#include "core/result.h"
#include "daemon/feeds/feed_poller.h"
#include "daemon/scheduler/forecast_errors.h"
#include "daemon/scheduler/scheduler.h"

namespace gridshift {

// gridshift_intensity_grams_per_kwh (the latest actual reading of every feed of every
// region's chain), gridshift_feed_requests_total, gridshift_feed_readings_stored_total and
// gridshift_feed_last_success_timestamp_seconds.
Result<std::string> feed_metrics(const ServiceConfig& config, ReadingStore& store,
                                 const FeedPoller& poller);

// gridshift_scheduler_cycles_total, gridshift_dispatches_total and
// gridshift_replan_duration_seconds.
std::string scheduler_metrics(const Scheduler& scheduler);

// gridshift_emitted_grams, gridshift_baseline_grams and gridshift_saved_grams by signal, from
// the document JobService::report() builds (its "by_signal" object).
std::string accounting_metrics(const nlohmann::json& report);

// gridshift_forecast_mae_gco2_per_kwh and gridshift_forecast_bias_gco2_per_kwh per region and
// feed of its chain, for the feeds whose forecasts have been scored.
std::string forecast_error_metrics(const ServiceConfig& config, const ForecastErrors& errors);

}  // namespace gridshift
