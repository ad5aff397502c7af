// Readable renderings of the socket API's JSON for the `gridshift` CLI: tables, a job's
// history, the forecast chart. Pure functions (JSON and `now` in, text out); local times use
// the process's time zone (TZ), like date(1).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "core/units.h"

namespace gridshift {

// "just now", "45 s ago", "4 min ago", "3 h ago", "2 d ago"; "in 4 min" for the future.
std::string format_age(Seconds age);
// "2026-11-26 19:00 +0100" in the local time zone.
std::string format_local_time(TimePoint t);
// An RFC 3339 JSON string as local time with the age: "2026-11-26 19:00 +0100 (4 min ago)";
// "-" for null.
std::string format_time_field(const nlohmann::json& value, TimePoint now, bool with_age = true);
// "412 g" below a kilogram, "1.93 kg" above; "-" for null.
// A JSON figure as format_grams(double) shows it (core/units.h); "-" when not a number.
std::string format_grams(const nlohmann::json& grams);

// A job state, coloured when `colour` (green succeeded, red failed, yellow cancelled, cyan
// running): ANSI escapes that table() does not count in widths.
std::string paint_state(const std::string& state, bool colour);
// Every RFC 3339 UTC time inside `text` (a daemon's message) as format_local_time shows it, so
// that one line never mixes UTC and local times.
std::string localize_times(const std::string& text);

std::string render_jobs(const nlohmann::json& list, TimePoint now, bool colour = false);
std::string render_job(const nlohmann::json& job, TimePoint now, bool colour = false);
std::string render_regions(const nlohmann::json& regions, TimePoint now);
// REGION FEED MIX: each source's share of consumption, largest first ("-" without one).
std::string render_region_mix(const nlohmann::json& regions);
std::string render_report(const nlohmann::json& report);
std::string render_plan(const nlohmann::json& plan);
// MONTH REGION GOOGLE GRIDSHIFT RATIO rows of POST /v1/footprint.
std::string render_footprint(const nlohmann::json& footprint);
std::string render_health(const nlohmann::json& health, TimePoint now, bool colour = false);
// The API error body as "error: message" plus one "  field: message" line per detail.
std::string render_error(int status, const std::string& body);

// Mean intensity per slot of `step` aligned to the epoch (time-weighted over the points
// overlapping it), in order.
struct HourlyIntensity {
  TimePoint start;
  double intensity = 0;
};
std::vector<HourlyIntensity> slot_means(const nlohmann::json& points, Seconds step);
inline std::vector<HourlyIntensity> hourly_means(const nlohmann::json& points) {
  return slot_means(points, std::chrono::hours(1));
}

// Index of the first slot of the cleanest run of `count` consecutive slots of `step` (lowest
// mean; the earliest on ties); -1 when there are fewer slots than that.
int cleanest_window(const std::vector<HourlyIntensity>& slots, int count,
                    Seconds step = std::chrono::hours(1));

// The chart's row length: the forecast's own resolution (its shortest point, at least 5 min),
// coarsened to 10, 15, 30 min or whole hours until the rows number at most `max_rows`.
Seconds chart_step(const nlohmann::json& points, std::optional<TimePoint> until, int max_rows = 96);

// The forecast as a chart: one bar per chart_step row (up to `until` when given), scaled to
// `width` columns, the cleanest window of `duration` drawn with '#' and marked; others '='.
std::string render_forecast(const nlohmann::json& forecast, Seconds duration,
                            std::optional<TimePoint> until = std::nullopt, int width = 50);

}  // namespace gridshift
