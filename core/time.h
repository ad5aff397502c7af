// Time and duration values of the domain, and their text forms (RFC 3339 UTC, "90s 15m 4h 2d").
// Pure functions: nothing here reads a clock; callers pass `now` in.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
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
// Zero ("0s", or a bare "0") is accepted; callers that need a positive value check it. Units go
// from largest to smallest, each at most once ("30m1h" and "1h1h" are errors). Error code
// "invalid_duration". Values above kMaxDurationSeconds are rejected so that time arithmetic cannot
// overflow.
inline constexpr std::int64_t kMaxDurationSeconds = 3650000LL * 86400;  // 10 000 years

Result<Seconds> parse_duration(std::string_view text);

// The shortest exact form, largest units first: 5400s -> "1h30m", 0 -> "0s".
std::string format_duration(Seconds d);

// A wall-clock time as people write it: "08:00" (the next 08:00), "today 08:00",
// "tomorrow 08:00". Which instant it is depends on a time zone, which core does not know: the
// CLI resolves it (cli/local_time.h); the daemon refuses it.
struct LocalClockTime {
  enum class Day { next, today, tomorrow };
  Day day = Day::next;
  int hour = 0;
  int minute = 0;
  bool operator==(const LocalClockTime&) const = default;
};
std::optional<LocalClockTime> parse_local_clock_time(std::string_view text);
std::string format_local_clock_time(const LocalClockTime& t);

// A job spec's `deadline` or `not_before` as written: an instant (RFC 3339), an offset from
// submission ("+14h"), or a local wall-clock time. Error code "invalid_time".
struct SpecTime {
  enum class Kind { absolute, after_submit, local_clock };
  Kind kind = Kind::absolute;
  TimePoint at{};
  Seconds after{0};
  LocalClockTime clock{};
  bool operator==(const SpecTime&) const = default;
};
Result<SpecTime> parse_spec_time(std::string_view text);
// The form it was written in: RFC 3339, "+14h", "tomorrow 08:00".
std::string format_spec_time(const SpecTime& t);

}  // namespace gridshift
