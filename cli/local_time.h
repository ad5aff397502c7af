// Local wall-clock times for the CLI: "08:00", "today 08:00", "tomorrow 08:00" resolved to an
// instant in a job spec's `timezone`, else $TZ, else the system zone (like date(1)). Uses the
// C library's zone database (/usr/share/zoneinfo) and sets TZ for the duration of a call:
// single-threaded use only, as in the CLI process.
#pragma once

#include <optional>
#include <string>

#include "core/job_spec.h"
#include "core/time.h"

namespace gridshift {

// The instant `clock` names after `now`: the next such time for a bare HH:MM, that day's for
// today/tomorrow. Error code "invalid_time" (an unknown zone, a time skipped by a DST change).
Result<TimePoint> resolve_local_clock_time(const LocalClockTime& clock,
                                           const std::optional<std::string>& timezone,
                                           TimePoint now);

// A resolver for job specs (core/job_spec.h) bound to `now`.
LocalTimeResolver local_time_resolver(TimePoint now);

// A time as a user gives it on the command line: RFC 3339, +DURATION or a local clock time.
Result<TimePoint> parse_user_time(const std::string& text, TimePoint now);

}  // namespace gridshift
