// Pure parser of Google's per-region carbon data as shipped in data/gcp-regions.csv
// (columns found by header name; extra columns ignored; quoted fields allowed).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "daemon/feeds/parse_support.h"

namespace gridshift {

struct GcpRegionRow {
  std::string region;
  double cfe_percent = 0;
  double grid_gco2_per_kwh = 0;
  int year = 0;
};
Result<std::vector<GcpRegionRow>> parse_gcp_regions_csv(std::string_view text);

}  // namespace gridshift
