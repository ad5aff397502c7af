// The UK Carbon Intensity API feed: national actuals and forecasts for GB, regional forecasts
// by region id or postcode; no credentials.
#pragma once

#include "daemon/feeds/source_support.h"

namespace gridshift {

// Its schema (the config keys it takes) and its source factory, listed by the feed registry.
FeedType carbon_intensity_uk_feed();

}  // namespace gridshift
