// Fuzz target: the WattTime v3 response parsers (login token, region lookup, forecast and
// historical MOER data) on the same body.
#include "daemon/feeds/watttime/parser.h"
#include "fuzz_support.h"

namespace gf = gridshift::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gridshift;
  const auto body = gf::as_text(data, size);
  const ParseContext ctx{"wt", "CAISO_NORTH", TimePoint{Seconds{1'790'000'000}}};
  if (auto token = parse_watttime_login(body)) {
    gf::require(!token->empty(), "empty token accepted");
  } else {
    gf::require_error(token.error(), kBadFeedData);
  }
  if (auto region = parse_watttime_region(body)) {
    gf::require(!region->empty(), "empty region accepted");
  } else {
    gf::require_error(region.error(), kBadFeedData);
  }
  for (auto kind : {ReadingKind::forecast, ReadingKind::actual}) {
    auto readings = parse_watttime_data(body, "CAISO_NORTH", kind, ctx);
    gf::require_feed_result(readings);
    if (readings) {
      for (const auto& r : *readings) {
        gf::require(r.kind == kind, "reading of the wrong kind");
        gf::require(r.signal == SignalType::marginal, "WattTime reading not marginal");
      }
    }
  }
  return 0;
}
