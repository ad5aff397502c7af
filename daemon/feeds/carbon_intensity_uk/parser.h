// Pure parsers of the UK Carbon Intensity API's responses (docs/feeds.md). National
// /intensity/... bodies: `actual` values become actuals, `forecast` values one forecast
// snapshot issued at `forecast_issued_at`. Regional /regional/intensity/{from}/fw48h/
// regionid/{id} and .../postcode/{pc} bodies (`data` an object or a one-element array holding
// `data: [...]`) give forecasts only. Empty or data-less bodies give no readings.
#pragma once

#include <string_view>
#include <vector>

#include "core/reading.h"
#include "core/result.h"
#include "daemon/feeds/parse_support.h"

namespace gridshift {

Result<std::vector<Reading>> parse_uk_national(std::string_view body, TimePoint forecast_issued_at,
                                               const ParseContext& ctx);
Result<std::vector<Reading>> parse_uk_regional(std::string_view body, TimePoint forecast_issued_at,
                                               const ParseContext& ctx);

}  // namespace gridshift
