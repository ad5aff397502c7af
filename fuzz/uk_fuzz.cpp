// Fuzz target: the UK Carbon Intensity API parsers (national and regional bodies).
#include "daemon/feeds/carbon_intensity_uk/parser.h"
#include "fuzz_support.h"

namespace gf = gridshift::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gridshift;
  const auto body = gf::as_text(data, size);
  const TimePoint fetched{Seconds{1'790'000'000}};
  const ParseContext ctx{"uk", "GB", fetched};
  gf::require_feed_result(parse_uk_national(body, fetched, ctx));
  gf::require_feed_result(parse_uk_regional(body, fetched, ctx));
  return 0;
}
