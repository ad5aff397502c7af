// Pure parsers of the carbon-intensity feed responses (docs/feeds.md) and of the
// local CSV feeds: text in, readings or an Error naming the offending field out. No I/O, no clock:
// the caller passes the fetch time. Every value is validated (finite, 0..kMaxPlausibleGco2PerKwh
// after conversion to g/kWh) so that one bad response stores nothing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/reading.h"
#include "core/result.h"

namespace gridshift {

// Above this a value is treated as garbage (the dirtiest grids average ~1,000 g/kWh).
inline constexpr double kMaxPlausibleGco2PerKwh = 2000.0;

// What the caller knows about the response being parsed; copied into every Reading.
struct ParseContext {
  std::string feed;
  std::string location;  // the gridshift location key the readings are stored under
  TimePoint fetched_at{};
};

// Error code of every parser failure: "bad_feed_data"; details[0].field names the JSON path
// ("carbonIntensity", "history[3].datetime", "data[0].intensity.actual", "zone", ...).
inline constexpr std::string_view kBadFeedData = "bad_feed_data";

// --- Electricity Maps v3 ---------------------------------------------------------------
// /v3/carbon-intensity/latest: one actual. `expected_zone` empty = any (lat/lon queries).
Result<Reading> parse_emaps_latest(std::string_view body, std::string_view expected_zone,
                                   const ParseContext& ctx);
// /v3/carbon-intensity/history: actuals, oldest first; null points are skipped.
Result<std::vector<Reading>> parse_emaps_history(std::string_view body,
                                                 std::string_view expected_zone,
                                                 const ParseContext& ctx);
// /v3/carbon-intensity/forecast: one snapshot, issued_at = updatedAt (fetched_at if absent).
Result<std::vector<Reading>> parse_emaps_forecast(std::string_view body,
                                                  std::string_view expected_zone,
                                                  const ParseContext& ctx);

struct PowerBreakdown {
  TimePoint datetime{};
  std::optional<double> renewable_percent;
  std::optional<double> fossil_free_percent;
};
// /v3/power-breakdown/latest: only the two percentages are kept (0..100 or null).
Result<PowerBreakdown> parse_emaps_power_breakdown(std::string_view body,
                                                   std::string_view expected_zone);

// --- WattTime v3 ------------------------------------------------------------------------
// /login: the bearer token.
Result<std::string> parse_watttime_login(std::string_view body);
// /v3/region-from-loc: the region abbreviation.
Result<std::string> parse_watttime_region(std::string_view body);
// /v3/forecast and /v3/historical of co2_moer: lbs/MWh converted to g/kWh, signal marginal.
// kind forecast: issued_at = meta.generated_at (fetched_at if absent). meta.region must equal
// `expected_region` and meta.units must be lbs_co2_per_mwh.
Result<std::vector<Reading>> parse_watttime_data(std::string_view body,
                                                 std::string_view expected_region, ReadingKind kind,
                                                 const ParseContext& ctx);

// --- UK Carbon Intensity API ------------------------------------------------------------
// National /intensity/... bodies: `actual` values become actuals, `forecast` values one
// forecast snapshot issued at `forecast_issued_at`. Regional /regional/intensity/{from}/fw48h/
// regionid/{id} and .../postcode/{pc} bodies (`data` an object or a one-element array holding
// `data: [...]`) give forecasts only. Empty or data-less bodies give no readings.
Result<std::vector<Reading>> parse_uk_national(std::string_view body, TimePoint forecast_issued_at,
                                               const ParseContext& ctx);
Result<std::vector<Reading>> parse_uk_regional(std::string_view body, TimePoint forecast_issued_at,
                                               const ParseContext& ctx);

// --- Local CSV feeds (trace CSVs: core/trace.h) ---------------------------------------------
struct GcpRegionRow {
  std::string region;
  double cfe_percent = 0;
  double grid_gco2_per_kwh = 0;
  int year = 0;
};
// data/gcp-regions.csv (columns by header name; extra columns ignored; quoted fields allowed).
Result<std::vector<GcpRegionRow>> parse_gcp_regions_csv(std::string_view text);

// Checks one normalised value: finite and within [0, kMaxPlausibleGco2PerKwh].
Status check_plausible(double gco2_per_kwh, std::string_view field);

}  // namespace gridshift
