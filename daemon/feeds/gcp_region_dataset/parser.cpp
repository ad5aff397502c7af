#include "daemon/feeds/gcp_region_dataset/parser.h"

#include <fmt/format.h>

#include "daemon/feeds/parse_support.h"

namespace gridshift {

using namespace wire;  // NOLINT(google-build-using-namespace): the parsers' own toolkit

Result<std::vector<GcpRegionRow>> parse_gcp_regions_csv(std::string_view text) {
  auto lines = split_lines(text);
  if (lines.empty()) return csv_error(1, "header", "empty file");
  auto header = split_csv_line(lines[0]);
  auto column = [&](std::string_view name) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    return std::nullopt;
  };
  auto c_region = column("region");
  auto c_cfe = column("cfe_percent");
  auto c_grid = column("grid_gco2_per_kwh");
  auto c_year = column("year");
  if (!c_region || !c_cfe || !c_grid || !c_year) {
    return csv_error(1, "header", "needs region, cfe_percent, grid_gco2_per_kwh and year");
  }
  std::vector<GcpRegionRow> out;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const int line = static_cast<int>(i + 1);
    if (lines[i].empty()) continue;
    auto f = split_csv_line(lines[i]);
    if (f.size() != header.size()) {
      return csv_error(line, "row", fmt::format("expected {} fields", header.size()));
    }
    GcpRegionRow row;
    row.region = f[*c_region];
    if (row.region.empty()) return csv_error(line, "region", "empty");
    auto cfe = to_double(f[*c_cfe]);
    if (!cfe || *cfe < 0 || *cfe > 100) return csv_error(line, "cfe_percent", "not a percentage");
    auto grid = to_double(f[*c_grid]);
    if (!grid) return csv_error(line, "grid_gco2_per_kwh", "not a number");
    if (auto ok = check_plausible(*grid, "grid_gco2_per_kwh"); !ok) {
      return csv_error(line, "grid_gco2_per_kwh", ok.error().details[0].message);
    }
    auto year = to_double(f[*c_year]);
    if (!year || *year < 1990 || *year > 2200) return csv_error(line, "year", "not a year");
    row.cfe_percent = *cfe;
    row.grid_gco2_per_kwh = *grid;
    row.year = static_cast<int>(*year);
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace gridshift
