// The feeds' part of the socket API (docs/api.md): GET /v1/regions, GET
// /v1/regions/{name}/forecast and the "feeds" array and degradation of /v1/health. Builders are
// plain functions over the config, the ReadingStore, the poller's health and `now`, so tests
// call them directly. Single-threaded: called on the daemon's io_context thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/config_slices.h"
#include "core/feed_chain.h"
#include "core/ports/clock.h"
#include "core/ports/reading_store.h"
#include "daemon/api/api_router.h"
#include "daemon/api/job_service.h"
#include "daemon/feeds/feed_poller.h"
#include "daemon/scheduler/forecast_errors.h"
#include "daemon/scheduler/region_resolver.h"

namespace gridshift {

// How far ahead the forecast endpoints look.
inline constexpr Seconds kForecastLookahead{7 * 24 * 3600};

// {"regions": [...]} as docs/api.md shows it; with `errors`, each region's "forecast_error"
// (of the feed that supplies it) is filled in.
Result<nlohmann::json> regions_json(const ServiceConfig& config, ReadingStore& store, TimePoint now,
                                    const ForecastErrors* errors = nullptr);

// {"region", "feed", "signal", "unit", "issued_at", "points": [...]}; error "not_found" for
// an unknown region.
// GET /v1/regions/{name}/history: the observed intensity of the region's preferred feed with
// readings in [from, to). Error "not_found" for an unknown region.
Result<nlohmann::json> region_history_json(const ServiceConfig& config, ReadingStore& store,
                                           const std::string& region_name, TimePoint from,
                                           TimePoint to);
Result<nlohmann::json> region_forecast_json(const ServiceConfig& config, ReadingStore& store,
                                            const std::string& region, TimePoint now);

// The "feeds" array of /v1/health; degraded when a feed is failing or a region has no fresh
// data.
FeedsHealth feeds_health(const ServiceConfig& config, ReadingStore& store, const FeedPoller& poller,
                         TimePoint now);

// Registers GET /v1/regions and GET /v1/regions/{name}/forecast. All references must outlive
// the router.
void register_feed_routes(ApiRouter& router, const ServiceConfig& config, ReadingStore& store,
                          const Clock& clock, const ForecastErrors* errors = nullptr);

}  // namespace gridshift
