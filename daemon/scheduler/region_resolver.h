// Which feed speaks for a region now: the one resolver of a region's fallback chain against
// the store, used by the scheduler to plan and by the API to show regions. Reads the newest
// actual of each feed in the chain (ReadingStore port) and applies core's pure rule
// (core/feed_chain.h). Call on the daemon's thread.
#pragma once

#include "common/config_slices.h"
#include "core/feed_chain.h"
#include "core/ports/reading_store.h"
#include "core/result.h"

namespace gridshift {

// A store error is returned, never taken for a missing reading: a failing disk must not make a
// region fall back to a worse feed.
Result<ChainResolution> resolve_region(const ServiceConfig& config, const RegionConfig& region,
                                       ReadingStore& store, TimePoint now);

}  // namespace gridshift
