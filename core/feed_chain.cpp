#include "core/feed_chain.h"

#include <algorithm>

namespace gridshift {

std::string_view to_string(LinkStatus status) {
  switch (status) {
    case LinkStatus::fresh:
      return "fresh";
    case LinkStatus::stale:
      return "stale";
    case LinkStatus::missing:
      return "missing";
  }
  return "missing";
}

bool is_fresh(TimePoint observed_at, Seconds step, TimePoint now, Seconds max_staleness) {
  return now - observed_at <= std::max(max_staleness, step);
}

ChainResolution resolve_chain(const std::vector<ChainLink>& chain, TimePoint now,
                              Seconds max_staleness) {
  ChainResolution out;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const auto& link = chain[i];
    ChainLinkState state;
    state.feed = link.feed;
    state.observed_at = link.observed_at;
    if (link.observed_at) {
      state.age = std::max(Seconds{0}, now - *link.observed_at);
      state.status = is_fresh(*link.observed_at, link.step, now, max_staleness) ? LinkStatus::fresh
                                                                                : LinkStatus::stale;
    }
    if (state.status == LinkStatus::fresh && !out.winner) {
      out.winner = i;
      out.signal = link.signal;
    }
    out.links.push_back(std::move(state));
  }
  return out;
}

bool comparable(const ChainResolution& a, const ChainResolution& b) {
  return a.signal && b.signal && *a.signal == *b.signal;
}

}  // namespace gridshift
