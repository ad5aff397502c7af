// Fuzz target: the configuration parser (YAML, docs/configuration.md) with its validation; secrets are
// only named by the text, never resolved here.
#include "daemon/config/config.h"
#include "daemon/feeds/registry.h"
#include "fuzz_support.h"

namespace gf = gridshift::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gridshift;
  auto config = parse_config(gf::as_text(data, size), "fuzz.yaml", feed_schemas());
  if (!config) {
    gf::require_error(config.error(), "invalid_config");
    return 0;
  }
  for (const auto& region : config->regions) {
    gf::require(std::isfinite(region.pue) && region.pue >= 1.0,
                "accepted a PUE below 1 or not finite");
    for (const auto& feed : region.feeds)
      gf::require(config->find_feed(feed) != nullptr, "region names an undefined feed");
  }
  gf::require(config->scheduler.tick.count() > 0, "accepted a non-positive tick");
  return 0;
}
