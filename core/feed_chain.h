// Pure resolution of a region's feed fallback chain (docs/configuration.md): given what each feed of
// the chain last delivered for the region's location, pick the first feed with fresh data.
// No clock reads: `now` is passed in. Values only; safe anywhere.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "core/units.h"

namespace gridshift {

// What the cache holds for one link of the chain: the newest actual, if any.
struct ChainLink {
  std::string feed;
  std::optional<TimePoint> observed_at;  // timestamp of the newest actual
  Seconds step{3600};                    // its interval length
  SignalType signal = SignalType::average;
};

enum class LinkStatus { fresh, stale, missing };
std::string_view to_string(LinkStatus status);

struct ChainLinkState {
  std::string feed;
  LinkStatus status = LinkStatus::missing;
  std::optional<TimePoint> observed_at;
  std::optional<Seconds> age;  // now - observed_at, when observed
};

struct ChainResolution {
  std::optional<std::size_t> winner;  // index into the chain of the feed whose data is used
  std::optional<SignalType> signal;   // the winner's signal type: the planner's ranking group
  std::vector<ChainLinkState> links;  // one per link, in chain order
};

// A reading is fresh while now - observed_at <= max(max_staleness, step): an hourly value
// stays usable for max_staleness, a yearly average for its year. Readings from the future
// (clock skew) count as fresh with age 0.
bool is_fresh(TimePoint observed_at, Seconds step, TimePoint now, Seconds max_staleness);

ChainResolution resolve_chain(const std::vector<ChainLink>& chain, TimePoint now,
                              Seconds max_staleness);

// Regions may only be ranked against each other when their resolved signals match.
bool comparable(const ChainResolution& a, const ChainResolution& b);

}  // namespace gridshift
