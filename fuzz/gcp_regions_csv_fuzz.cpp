// Fuzz target: the gcp_region_dataset CSV parser (data/gcp-regions.csv, or any file the
// operator configures).
#include "daemon/feeds/gcp_region_dataset/parser.h"
#include "fuzz_support.h"

namespace gf = gridshift::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gridshift;
  auto rows = parse_gcp_regions_csv(gf::as_text(data, size));
  if (!rows) {
    gf::require_error(rows.error(), kBadFeedData);
    return 0;
  }
  for (const auto& row : *rows) {
    gf::require(!row.region.empty(), "row without a region");
    gf::require(row.cfe_percent >= 0 && row.cfe_percent <= 100, "CFE% out of range");
    gf::require(std::isfinite(row.grid_gco2_per_kwh) && row.grid_gco2_per_kwh >= 0 &&
                    row.grid_gco2_per_kwh <= kMaxPlausibleGco2PerKwh,
                "implausible grid intensity");
  }
  return 0;
}
