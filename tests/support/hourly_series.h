// Test helper: a region's series of hourly values from a start time (planner, accounting and
// simulator tests). Header-only, plain values.
#pragma once

#include <string>
#include <vector>

#include "core/planner.h"

namespace gridshift::testing {

inline std::vector<Point> hourly_points(TimePoint start, const std::vector<double>& values) {
  std::vector<Point> points;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto h = static_cast<std::int64_t>(i);
    points.push_back(Point{start + Seconds{h * 3600}, start + Seconds{(h + 1) * 3600}, values[i]});
  }
  return points;
}

inline RegionSeries hourly_series(std::string region, TimePoint start,
                                  const std::vector<double>& values, double pue = 1.0,
                                  SignalType signal = SignalType::average) {
  RegionSeries s;
  s.region = std::move(region);
  s.signal = signal;
  s.pue = pue;
  s.feed = "test";
  s.points = hourly_points(start, values);
  return s;
}

}  // namespace gridshift::testing
