// Time and duration values of the domain, and their text forms (RFC 3339 UTC, "90s 15m 4h 2d").
// Pure functions: nothing here reads a clock; callers pass `now` in.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace gridshift {

using Seconds = std::chrono::seconds;
using TimePoint = std::chrono::sys_seconds;

// Accepts "2026-11-27T08:00:00Z", "2026-11-27T08:00Z" (the UK API's form), fractional seconds
// (truncated), lower-case 't'/'z', and numeric offsets "+01:00"; the result is UTC.
// Error code "invalid_time"; the message says what is wrong, the caller names the field.
Result<TimePoint> parse_rfc3339(std::string_view text);

// Always "YYYY-MM-DDTHH:MM:SSZ".
std::string format_rfc3339(TimePoint t);

// Accepts a positive sequence of number+unit parts: "90s", "15m", "4h", "2d", "1h30m".
// Zero ("0s") is accepted; callers that need a positive value check it. Units go from largest
// to smallest, each at most once ("30m1h" and "1h1h" are errors). Error code "invalid_duration".
// Values above kMaxDurationSeconds are rejected so that time arithmetic cannot overflow.
inline constexpr std::int64_t kMaxDurationSeconds = 3650000LL * 86400;  // 10 000 years

Result<Seconds> parse_duration(std::string_view text);

// The shortest exact form, largest units first: 5400s -> "1h30m", 0 -> "0s".
std::string format_duration(Seconds d);

}  // namespace gridshift
