// Canonical carbon-intensity trace CSV (`region,timestamp,gco2_per_kwh`, docs/cli.md): parsed
// from text into per-region series. Pure; the caller reads the file. Values are plain and
// immutable once parsed.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/planner.h"
#include "core/result.h"

namespace gridshift {

struct TraceSet {
  std::vector<std::string> regions;                  // in order of first appearance
  std::map<std::string, std::vector<Point>> series;  // per region, sorted, contiguous ends

  const std::vector<Point>* find(std::string_view region) const;
};

// A value holds until the region's next timestamp; the last one for as long as the step before
// it (one hour when a region has a single row). Timestamps must increase within a region.
// Error code "invalid_trace"; details name the field ("header", "region", "timestamp",
// "gco2_per_kwh") and the 1-based line; `source_name` prefixes the message.
Result<TraceSet> parse_trace_csv(std::string_view text, std::string_view source_name);

}  // namespace gridshift
