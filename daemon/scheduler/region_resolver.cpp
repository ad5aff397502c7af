#include "daemon/scheduler/region_resolver.h"

namespace gridshift {

Result<ChainResolution> resolve_region(const ServiceConfig& config, const RegionConfig& region,
                                       ReadingStore& store, TimePoint now) {
  std::vector<ChainLink> links;
  for (const auto& feed : region.feeds) {
    ChainLink link;
    link.feed = feed;
    if (const auto* configured = config.find_feed(feed)) link.signal = feed_signal(*configured);
    auto latest = store.latest_actual(feed, feed_location(config, feed, region));
    if (!latest) return latest.error();
    if (*latest) {
      link.observed_at = (*latest)->timestamp;
      link.step = (*latest)->step;
      link.signal = (*latest)->signal;
    }
    links.push_back(std::move(link));
  }
  return resolve_chain(links, now, config.scheduler.max_staleness);
}

}  // namespace gridshift
