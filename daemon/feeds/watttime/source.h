// The WattTime feed: marginal emissions (v3 API: co2_moer historical and forecast) by region
// abbreviation or coordinates, logged in with a username and password.
#pragma once

#include "daemon/feeds/source_support.h"

namespace gridshift {

// Its schema (the config keys it takes) and its source factory, listed by the feed registry.
FeedType watttime_feed();

}  // namespace gridshift
