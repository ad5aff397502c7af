// The Electricity Maps feed: carbon intensity (v3 API: latest, history,
// forecast, power breakdown) by zone or coordinates, with an auth-token.
#pragma once

#include "daemon/feeds/source_support.h"

namespace gridshift {

// Its schema (the config keys it takes) and its source factory, listed by the feed registry.
FeedType electricitymaps_feed();

}  // namespace gridshift
