// Pure parsers of WattTime v3 responses (docs/feeds.md): text in, values or an Error naming
// the offending JSON field out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/reading.h"
#include "core/result.h"
#include "daemon/feeds/parse_support.h"

namespace gridshift {

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

}  // namespace gridshift
