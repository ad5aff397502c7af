// Google Cloud Carbon Footprint beside gridshift's own accounting (docs/levers.md, "Google's
// own report"): the export's rows (a CSV export of the BigQuery table, or rows a query
// returned), Vertex AI's kg CO2e per month and region, and the comparison with the jobs
// gridshift ran there. Pure: text and jobs in, plain values out.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.h"
#include "core/result.h"

namespace gridshift {

// One row of the export as gridshift reads it.
struct FootprintRow {
  std::string month;         // "2026-11" (from usage_month, the first day of the month)
  std::string region;        // location.region ("" when the export has none)
  std::string service;       // service.description, e.g. "Vertex AI"
  std::optional<double> kg;  // carbon_footprint_total_kgCO2e.location_based
  bool operator==(const FootprintRow&) const = default;
};

inline constexpr std::string_view kVertexAiService = "Vertex AI";

// Reads a CSV export of the carbon footprint table (header row with the BigQuery column names:
// usage_month, service.description, location.region,
// carbon_footprint_total_kgCO2e.location_based; other columns ignored; RFC 4180 quoting).
// Error "invalid_footprint" naming the missing column or the bad line.
Result<std::vector<FootprintRow>> parse_footprint_csv(std::string_view text);

// "2026-11" from "2026-11-01" (a DATE) or "2026-11"; nullopt for anything else.
std::optional<std::string> footprint_month(std::string_view usage_month);

// One line of the comparison: a month and region where Google reports Vertex AI emissions or
// gridshift ran jobs.
struct FootprintLine {
  std::string month;
  std::string region;
  std::optional<double> google_kg;     // Vertex AI, location-based total (scopes 1-3)
  std::optional<double> gridshift_kg;  // operational (scope 2) grams of the jobs / 1000
  std::optional<double> embodied_kg;   // the jobs' accelerators' embodied share, when known
  int jobs = 0;                        // jobs with accounting that ended there that month
  std::optional<double> ratio;         // google_kg / gridshift_kg
  bool operator==(const FootprintLine&) const = default;
};

// Google's Vertex AI rows summed per (month, region) beside the jobs' accounting summed per
// (month their run ended, UTC; region they ran in). Sorted by month, then region.
std::vector<FootprintLine> compare_footprint(const std::vector<FootprintRow>& rows,
                                             const std::vector<Job>& jobs);

}  // namespace gridshift
