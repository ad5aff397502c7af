// The search behind plan_segments (core/planner.h): the least-cost set of segments over one
// piecewise-constant series, by dynamic programming over the series' boundaries. Internal to
// core/ (planner.cpp feeds it from its region index). Pure; no state between calls.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace gridshift {

struct SegmentRules;

// The integral of the series (value x seconds) over [start, end), nullopt where any part of it
// has no data.
using SeriesIntegral = std::function<std::optional<double>(std::int64_t, std::int64_t)>;

struct SegmentSearchResult {
  std::vector<std::pair<std::int64_t, std::int64_t>> segments;  // [start, end) in time order
  double integral = 0;                                          // over all segments
};

// `bounds`: the series' breakpoints, increasing. Segments lie in [from, until); the run time
// of k segments is duration + (k - 1) x resume_overhead.
//
// One search answers many deadlines (`untils`, increasing): the dynamic programme does not
// depend on the deadline, only which finishes count does, so jobs that share the region, the
// start, the run time and the rules share it (the planner batches them).
std::vector<std::optional<SegmentSearchResult>> search_segments(
    std::span<const std::int64_t> bounds, const SeriesIntegral& integral, std::int64_t from,
    std::span<const std::int64_t> untils, std::int64_t duration, const SegmentRules& rules);
std::optional<SegmentSearchResult> search_segments(std::span<const std::int64_t> bounds,
                                                   const SeriesIntegral& integral,
                                                   std::int64_t from, std::int64_t until,
                                                   std::int64_t duration,
                                                   const SegmentRules& rules);

}  // namespace gridshift
