// Fuzz target: the trace CSV parser (the trace_file feed and `gridshift simulate` read files a
// user supplies). Accepted traces must be what core/trace.h promises: per region, sorted,
// contiguous, non-empty intervals.
#include "core/trace.h"
#include "fuzz_support.h"

namespace gf = gridshift::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gridshift;
  auto trace = parse_trace_csv(gf::as_text(data, size), "fuzz.csv");
  if (!trace) {
    gf::require_error(trace.error(), "invalid_trace");
    return 0;
  }
  gf::require(trace->regions.size() == trace->series.size(), "regions and series disagree");
  for (const auto& region : trace->regions) {
    const auto* points = trace->find(region);
    gf::require(points != nullptr && !points->empty(), "listed region without points");
    for (std::size_t i = 0; i < points->size(); ++i) {
      const auto& p = (*points)[i];
      gf::require(p.start < p.end, "empty or reversed interval");
      gf::require(std::isfinite(p.gco2_per_kwh), "non-finite value");
      if (i > 0) gf::require((*points)[i - 1].end == p.start, "series not contiguous");
    }
  }
  return 0;
}
