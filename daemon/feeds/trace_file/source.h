// The trace replay feed: a recorded trace (region,timestamp,gco2_per_kwh CSV) replayed as live
// actuals and forecasts, for demos and tests.
#pragma once

#include "daemon/feeds/source_support.h"

namespace gridshift {

// Its schema (the config keys it takes) and its source factory, listed by the feed registry.
FeedType trace_file_feed();

}  // namespace gridshift
