// The Google Cloud per-region dataset feed: a local CSV of Google's yearly grid intensity
// per Cloud region (data/gcp-regions.csv), the always-fresh last resort of a region's chain.
#pragma once

#include "daemon/feeds/source_support.h"

namespace gridshift {

// Its schema (the config keys it takes) and its source factory, listed by the feed registry.
FeedType gcp_region_dataset_feed();

}  // namespace gridshift
