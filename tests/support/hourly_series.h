// Test helpers: a region's series of hourly values from a start time (planner, accounting and
// simulator tests) and the same as a trace CSV (daemon tests). Header-only, plain values.
#pragma once

#include <functional>
#include <sstream>
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

// An hourly reading of feed "f" for location "x", issued (and fetched) at `issued`.
inline Reading hourly_reading(ReadingKind kind, TimePoint timestamp, double value,
                              TimePoint issued) {
  Reading r;
  r.feed = "f";
  r.location = "x";
  r.kind = kind;
  r.timestamp = timestamp;
  r.step = Seconds{3600};
  r.gco2_per_kwh = value;
  r.issued_at = issued;
  r.fetched_at = issued;
  return r;
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
  s.has_forecast = values.size() > 1;  // the hours after the first stand for a forecast
  return s;
}

// A canonical trace CSV (region,timestamp,gco2_per_kwh) as the trace_file feed reads it:
// `hours` hourly rows from `start` for every location, valued by value(location index, hour).
inline std::string trace_csv(const std::vector<std::string>& locations, TimePoint start, int hours,
                             const std::function<double(std::size_t, int)>& value) {
  std::ostringstream trace;
  trace << "region,timestamp,gco2_per_kwh\n";
  for (int h = 0; h < hours; ++h) {
    const auto t = format_rfc3339(start + Seconds{std::int64_t{h} * 3600});
    for (std::size_t i = 0; i < locations.size(); ++i)
      trace << locations[i] << "," << t << "," << value(i, h) << "\n";
  }
  return trace.str();
}

}  // namespace gridshift::testing
