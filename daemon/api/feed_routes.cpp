#include "daemon/api/feed_routes.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/config_slices.h"

namespace gridshift {
namespace {

using nlohmann::json;

constexpr const char* kUnit = "gCO2e/kWh";

json time_or_null(const std::optional<TimePoint>& t) {
  return t ? json(format_rfc3339(*t)) : json();
}

json optional_number(const std::optional<double>& v) {
  return v ? json(*v) : json();
}

// The newest forecast points of `feed` for `location` that end after `now`.
Result<std::vector<Reading>> upcoming_forecast(ReadingStore& store, const std::string& feed,
                                               const std::string& location, TimePoint now) {
  auto points = store.forecast(feed, location, now - Seconds{24 * 3600}, now + kForecastLookahead);
  if (!points) return points;
  std::erase_if(*points, [&](const Reading& r) { return r.timestamp + r.step <= now; });
  return points;
}

int status_for_store(const Error& error) {
  return error.is(errc::kNotFound) ? 404 : 503;
}

}  // namespace

Result<nlohmann::json> regions_json(const ServiceConfig& config, ReadingStore& store, TimePoint now,
                                    const ForecastErrors* errors) {
  json regions = json::array();
  for (const auto& region : config.regions) {
    auto chain = resolve_region(config, region, store, now);
    if (!chain) return chain.error();
    json entry = {{"name", region.name},
                  {"location", region.location},
                  {"pue", region.pue},
                  {"intensity", nullptr},
                  {"unit", kUnit},
                  {"signal", nullptr},
                  {"feed", nullptr},
                  {"observed_at", nullptr},
                  {"age_seconds", nullptr},
                  {"stale", true},
                  {"estimated", nullptr},
                  {"renewable_percent", nullptr},
                  {"fossil_free_percent", nullptr},
                  {"mix", nullptr},
                  {"forecast_horizon", nullptr},
                  {"forecast_error", nullptr}};
    if (chain->winner) {
      const auto& feed = region.feeds[*chain->winner];
      const auto location = feed_location(config, feed, region);
      auto latest = store.latest_actual(feed, location);
      if (!latest) return latest.error();
      const Reading& r = **latest;
      entry["intensity"] = r.gco2_per_kwh;
      entry["signal"] = to_string(r.signal);
      entry["feed"] = feed;
      entry["observed_at"] = format_rfc3339(r.timestamp);
      entry["age_seconds"] = std::max(Seconds{0}, now - r.timestamp).count();
      entry["stale"] = false;
      entry["estimated"] = r.estimated;
      entry["renewable_percent"] = optional_number(r.renewable_percent);
      entry["fossil_free_percent"] = optional_number(r.fossil_free_percent);
      // Each source's share of consumption (percent), where the feed gives a breakdown.
      if (!r.consumption_mix.empty()) entry["mix"] = r.consumption_mix;
      if (errors) entry["forecast_error"] = forecast_error_json(errors->find(feed, location));
      auto forecast = upcoming_forecast(store, feed, location, now);
      if (!forecast) return forecast.error();
      if (!forecast->empty()) {
        entry["forecast_horizon"] =
            format_rfc3339(forecast->back().timestamp + forecast->back().step);
      }
    }
    json chain_json = json::array();
    for (const auto& link : chain->links) {
      chain_json.push_back({{"feed", link.feed},
                            {"status", to_string(link.status)},
                            {"observed_at", time_or_null(link.observed_at)}});
    }
    entry["chain"] = std::move(chain_json);
    regions.push_back(std::move(entry));
  }
  return json{{"regions", std::move(regions)}};
}

namespace {

// A series' feed, signal and points, as the forecast and history answers show them.
void put_points(json& out, const std::string& feed, const std::vector<Reading>& points) {
  out["feed"] = feed;
  out["signal"] = to_string(points.front().signal);
  for (const auto& p : points) {
    out["points"].push_back({{"start", format_rfc3339(p.timestamp)},
                             {"end", format_rfc3339(p.timestamp + p.step)},
                             {"intensity", p.gco2_per_kwh}});
  }
}

}  // namespace

Result<nlohmann::json> region_forecast_json(const ServiceConfig& config, ReadingStore& store,
                                            const std::string& region_name, TimePoint now) {
  const auto* region = config.find_region(region_name);
  if (region == nullptr) {
    return make_error(errc::kNotFound, fmt::format("no region '{}' is configured", region_name),
                      {FieldError{"name", "unknown region"}});
  }
  json out = {{"region", region->name}, {"feed", nullptr},      {"signal", nullptr},
              {"unit", kUnit},          {"issued_at", nullptr}, {"points", json::array()}};
  for (const auto& feed : region->feeds) {
    auto points = upcoming_forecast(store, feed, feed_location(config, feed, *region), now);
    if (!points) return points.error();
    if (points->empty()) continue;
    TimePoint issued = points->front().issued_at;
    for (const auto& p : *points)
      issued = std::max(issued, p.issued_at);
    // A forecast is fresh while its newest snapshot is younger than max_staleness.
    if (!is_fresh(issued, Seconds{0}, now, config.scheduler.max_staleness)) continue;
    out["issued_at"] = format_rfc3339(issued);
    put_points(out, feed, *points);
    break;
  }
  return out;
}

Result<nlohmann::json> region_history_json(const ServiceConfig& config, ReadingStore& store,
                                           const std::string& region_name, TimePoint from,
                                           TimePoint to) {
  const auto* region = config.find_region(region_name);
  if (region == nullptr) {
    return make_error(errc::kNotFound, fmt::format("no region '{}' is configured", region_name),
                      {FieldError{"name", "unknown region"}});
  }
  json out = {{"region", region->name},
              {"feed", nullptr},
              {"signal", nullptr},
              {"unit", kUnit},
              {"from", format_rfc3339(from)},
              {"to", format_rfc3339(to)},
              {"points", json::array()}};
  // The first feed of the chain with readings in the range: what the scheduler preferred.
  for (const auto& feed : region->feeds) {
    auto points = store.actuals(feed, feed_location(config, feed, *region), from, to);
    if (!points) return points.error();
    if (points->empty()) continue;
    put_points(out, feed, *points);
    break;
  }
  return out;
}

FeedsHealth feeds_health(const ServiceConfig& config, ReadingStore& store, const FeedPoller& poller,
                         TimePoint now) {
  FeedsHealth out;
  for (const auto& h : poller.health()) {
    const bool polled = !h.locations.empty();
    std::string status = !polled          ? "unused"
                         : h.failing()    ? "failing"
                         : h.last_success ? "ok"
                                          : "pending";
    if (h.failing()) {
      out.degraded = true;
      out.problems.push_back(fmt::format("feed {} is failing: {}", h.name, h.last_error_message));
    }
    json errors = json::object();
    for (const auto& [code, count] : h.errors_by_code)
      errors[code] = count;
    out.feeds.push_back(
        {{"name", h.name},
         {"type", h.type},
         {"signal", to_string(h.signal)},
         {"status", status},
         {"last_success", time_or_null(h.last_success)},
         {"last_error", time_or_null(h.last_error)},
         {"last_error_message", h.last_error_message.empty() ? json() : json(h.last_error_message)},
         {"consecutive_failures", h.consecutive_failures},
         {"next_poll", time_or_null(h.next_poll)},
         {"calls_today", h.calls_today},
         {"readings_stored", h.readings_stored},
         {"errors", std::move(errors)}});
  }
  for (const auto& region : config.regions) {
    auto chain = resolve_region(config, region, store, now);
    if (!chain || !chain->winner) {
      out.degraded = true;
      out.problems.push_back(
          !chain
              ? fmt::format("region {}: {}", region.name, chain.error().message)
              : fmt::format("region {} has no fresh reading from any of its feeds", region.name));
    }
  }
  return out;
}

namespace {

// GET /v1/regions/{name}/history?from=T&to=T: observed intensity, at most 62 days.
ApiResponse history_route(const ServiceConfig& config, ReadingStore& store,
                          const ApiRequest& request) {
  constexpr Seconds kMaxSpan = std::chrono::days(62);
  std::vector<FieldError> errors;
  TimePoint range[2];
  const char* names[2] = {"from", "to"};
  for (int i = 0; i < 2; ++i) {
    const auto it = request.query.find(names[i]);
    if (it == request.query.end()) {
      errors.push_back({names[i], "required (RFC 3339)"});
      continue;
    }
    auto t = parse_rfc3339(it->second);
    if (!t) {
      errors.push_back({names[i], t.error().message});
    } else {
      range[i] = *t;
    }
  }
  if (errors.empty() && (range[1] <= range[0] || range[1] - range[0] > kMaxSpan)) {
    errors.push_back({"to", "must be after from and at most 62 days later"});
  }
  if (!errors.empty()) {
    return ApiResponse::error(400, make_error("invalid_query", "invalid history range", errors));
  }
  const auto it = request.path_params.find("name");
  auto body = region_history_json(config, store, it == request.path_params.end() ? "" : it->second,
                                  range[0], range[1]);
  return body ? ApiResponse::json(200, *body)
              : ApiResponse::error(status_for_store(body.error()), body.error());
}

}  // namespace

void register_feed_routes(ApiRouter& router, const ServiceConfig& config, ReadingStore& store,
                          const Clock& clock, const ForecastErrors* errors) {
  router.add("GET", "/v1/regions", [&config, &store, &clock, errors](const ApiRequest&) {
    auto body = regions_json(config, store, clock.now(), errors);
    return body ? ApiResponse::json(200, *body)
                : ApiResponse::error(status_for_store(body.error()), body.error());
  });
  router.add("GET", "/v1/regions/{name}/history", [&config, &store](const ApiRequest& request) {
    return history_route(config, store, request);
  });
  router.add("GET", "/v1/regions/{name}/forecast",
             [&config, &store, &clock](const ApiRequest& request) {
               auto it = request.path_params.find("name");
               const std::string name = it == request.path_params.end() ? "" : it->second;
               auto body = region_forecast_json(config, store, name, clock.now());
               return body ? ApiResponse::json(200, *body)
                           : ApiResponse::error(status_for_store(body.error()), body.error());
             });
}

}  // namespace gridshift
