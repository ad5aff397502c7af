// Region fallback chains: the first feed with fresh data wins; staleness per max_staleness
// (a yearly figure stays fresh for its year); signal types are exposed for grouping.
#include "core/feed_chain.h"

#include <gtest/gtest.h>

namespace gridshift {
namespace {

const TimePoint kNow = *parse_rfc3339("2026-11-26T18:00:00Z");
const Seconds kStaleness{3 * 3600};

ChainLink link(std::string feed, std::optional<TimePoint> at, Seconds step = Seconds{3600},
               SignalType signal = SignalType::average) {
  return ChainLink{std::move(feed), at, step, signal};
}

TEST(FeedChainTest, FirstFreshFeedWins) {
  auto r = resolve_chain({link("uk", kNow - Seconds{840}), link("annual", kNow - Seconds{86400})},
                         kNow, kStaleness);
  ASSERT_TRUE(r.winner);
  EXPECT_EQ(*r.winner, 0u);
  EXPECT_EQ(r.links[0].status, LinkStatus::fresh);
  EXPECT_EQ(r.links[0].age, Seconds{840});
  EXPECT_EQ(r.links[1].status, LinkStatus::stale);  // a day-old hourly value
}

TEST(FeedChainTest, StaleAndMissingFallThroughToTheNextFeed) {
  const TimePoint year = *parse_rfc3339("2026-01-01T00:00:00Z");
  auto r = resolve_chain({link("emaps", kNow - Seconds{3 * 3600 + 1}), link("wt", std::nullopt),
                          link("annual", year, Seconds{365 * 86400}, SignalType::annual_average)},
                         kNow, kStaleness);
  ASSERT_TRUE(r.winner);
  EXPECT_EQ(*r.winner, 2u);
  EXPECT_EQ(r.signal, SignalType::annual_average);
  EXPECT_EQ(r.links[0].status, LinkStatus::stale);
  EXPECT_EQ(r.links[1].status, LinkStatus::missing);
  EXPECT_FALSE(r.links[1].age);
}

TEST(FeedChainTest, ExactlyMaxStalenessIsStillFresh) {
  auto r = resolve_chain({link("uk", kNow - kStaleness)}, kNow, kStaleness);
  EXPECT_EQ(r.links[0].status, LinkStatus::fresh);
  auto none = resolve_chain({link("uk", kNow - kStaleness - Seconds{1})}, kNow, kStaleness);
  EXPECT_FALSE(none.winner);
  EXPECT_FALSE(none.signal);
}

TEST(FeedChainTest, FutureReadingsHaveAgeZero) {
  auto r = resolve_chain({link("uk", kNow + Seconds{60})}, kNow, kStaleness);
  EXPECT_EQ(r.links[0].status, LinkStatus::fresh);
  EXPECT_EQ(r.links[0].age, Seconds{0});
}

TEST(FeedChainTest, OnlySameSignalRegionsAreComparable) {
  auto average = resolve_chain({link("uk", kNow)}, kNow, kStaleness);
  auto marginal =
      resolve_chain({link("wt", kNow, Seconds{300}, SignalType::marginal)}, kNow, kStaleness);
  auto none = resolve_chain({link("x", std::nullopt)}, kNow, kStaleness);
  EXPECT_TRUE(comparable(average, average));
  EXPECT_FALSE(comparable(average, marginal));
  EXPECT_FALSE(comparable(none, none));
}

}  // namespace
}  // namespace gridshift
