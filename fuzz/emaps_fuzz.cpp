// Fuzz target: the Electricity Maps v3 response parsers (latest, history, forecast, power
// breakdown) on the same body, as the feed adapter hands them an untrusted HTTP body.
#include "daemon/feeds/electricitymaps/parser.h"
#include "fuzz_support.h"

namespace gf = gridshift::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gridshift;
  const auto body = gf::as_text(data, size);
  const ParseContext ctx{"emaps", "BE", TimePoint{Seconds{1'790'000'000}}};
  for (std::string_view zone : {std::string_view("BE"), std::string_view()}) {
    if (auto latest = parse_emaps_latest(body, zone, ctx)) {
      gf::require_plausible(*latest);
    } else {
      gf::require_error(latest.error(), kBadFeedData);
    }
    gf::require_feed_result(parse_emaps_history(body, zone, ctx));
    gf::require_feed_result(parse_emaps_forecast(body, zone, ctx));
    if (auto power = parse_emaps_power_breakdown(body, zone)) {
      for (const auto& percent : {power->renewable_percent, power->fossil_free_percent}) {
        gf::require(!percent || (*percent >= 0 && *percent <= 100), "percentage out of range");
      }
    } else {
      gf::require_error(power.error(), kBadFeedData);
    }
  }
  return 0;
}
