// Pure parsers of Electricity Maps v3 responses (docs/feeds.md): text in, readings or an
// Error naming the offending JSON field out. `expected_zone` empty = any (lat/lon queries).
#pragma once

#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "core/reading.h"
#include "core/result.h"
#include "daemon/feeds/parse_support.h"

namespace gridshift {

// /v3/carbon-intensity/latest: one actual.
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
  // Each source's share of the zone's consumption (powerConsumptionBreakdown, imports traced
  // to their sources), in percent of the breakdown's total; empty when it has none.
  std::map<std::string, double> consumption_mix;
};
// /v4 (or /v3) power-breakdown/latest: the two percentages (0..100 or null) and the
// per-source consumption shares.
Result<PowerBreakdown> parse_emaps_power_breakdown(std::string_view body,
                                                   std::string_view expected_zone);

}  // namespace gridshift
