// What the feed parsers share (pure: text in, readings or an Error naming the offending
// field out; no I/O, no clock, the caller passes the fetch time): a bounded JSON reader, typed
// member access whose errors name the JSON path, reading construction, series checks, a small
// CSV reader and the plausibility bound every value must pass so that one bad response stores
// nothing. Each feed folder's parser builds on these; the helpers live in namespace `wire`.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/reading.h"
#include "core/result.h"

namespace gridshift {

// Above this a value is treated as garbage (the dirtiest grids average ~1,000 g/kWh).
inline constexpr double kMaxPlausibleGco2PerKwh = 2000.0;

// What the caller knows about the response being parsed; copied into every Reading.
struct ParseContext {
  std::string feed;
  std::string location;  // the gridshift location key the readings are stored under
  TimePoint fetched_at{};
};

// Error code of every parser failure: "bad_feed_data"; details[0].field names the JSON path
// ("carbonIntensity", "history[3].datetime", "data[0].intensity.actual", "zone", ...).
inline constexpr std::string_view kBadFeedData = "bad_feed_data";

// Checks one normalised value: finite and within [0, kMaxPlausibleGco2PerKwh].
Status check_plausible(double gco2_per_kwh, std::string_view field);

namespace wire {

using nlohmann::json;

// A bad_feed_data error naming `field`.
Error bad(std::string_view field, std::string message);
// The body as a JSON object (bounded depth); errors say what the body looked like instead.
Result<json> parse_json(std::string_view body);
// The member `key` of object `obj`, or null when absent.
const json& member(const json& obj, std::string_view key);
Result<std::string> get_string(const json& obj, std::string_view key, const std::string& field);
Result<TimePoint> get_time(const json& obj, std::string_view key, const std::string& field);
// A nullable number: nullopt when null or absent, error when of another type.
Result<std::optional<double>> get_number(const json& obj, std::string_view key,
                                         const std::string& field);
// A nullable number within 0..100.
Result<std::optional<double>> get_percent(const json& obj, std::string_view key);

Reading make_reading(const ParseContext& ctx, SignalType signal, ReadingKind kind, TimePoint t,
                     Seconds step, double value, TimePoint issued_at);
// Steps of a series: the gap to the next point; the last point repeats the previous gap.
void assign_steps(std::vector<Reading>& readings, Seconds fallback);
Status check_sorted(const std::vector<Reading>& readings, std::string_view array);

// True when the body holds only whitespace.
bool blank(std::string_view body);
// Splits one CSV line; double quotes may wrap a field and "" inside is a quote.
std::vector<std::string> split_csv_line(std::string_view line);
// Lines without their CR LF or LF.
std::vector<std::string_view> split_lines(std::string_view text);
std::optional<double> to_double(std::string_view text);
// A bad_feed_data error at a 1-based CSV line.
Error csv_error(int line, std::string field, std::string message);

}  // namespace wire
}  // namespace gridshift
