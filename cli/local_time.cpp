#include "cli/local_time.h"

#include <fmt/format.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>

namespace gridshift {
namespace {

// Sets TZ for its lifetime and restores the previous value.
class ScopedZone {
 public:
  explicit ScopedZone(const std::optional<std::string>& zone) {
    if (!zone) return;
    if (const char* old = std::getenv("TZ")) previous_ = old;
    ::setenv("TZ", (":" + *zone).c_str(), 1);
    ::tzset();
    active_ = true;
  }
  ~ScopedZone() {
    if (!active_) return;
    if (previous_) {
      ::setenv("TZ", previous_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  ScopedZone(const ScopedZone&) = delete;
  ScopedZone& operator=(const ScopedZone&) = delete;

 private:
  bool active_ = false;
  std::optional<std::string> previous_;
};

// The instant of `hour:minute` on the local day `days` after the one holding `now`.
std::optional<TimePoint> on_local_day(TimePoint now, int days, int hour, int minute) {
  const std::time_t seconds = static_cast<std::time_t>(now.time_since_epoch().count());
  std::tm local{};
  ::localtime_r(&seconds, &local);
  local.tm_mday += days;
  local.tm_hour = hour;
  local.tm_min = minute;
  local.tm_sec = 0;
  local.tm_isdst = -1;
  const std::time_t t = std::mktime(&local);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  // A time a DST change skips comes back normalised to another hour: refuse it.
  if (local.tm_hour != hour || local.tm_min != minute) return std::nullopt;
  return TimePoint{Seconds{t}};
}

}  // namespace

Result<TimePoint> resolve_local_clock_time(const LocalClockTime& clock,
                                           const std::optional<std::string>& timezone,
                                           TimePoint now) {
  if (timezone && !std::filesystem::is_regular_file("/usr/share/zoneinfo/" + *timezone)) {
    return make_error(
        "invalid_time",
        fmt::format("unknown time zone '{}' (not in /usr/share/zoneinfo)", *timezone));
  }
  ScopedZone zone(timezone);
  const int first_day = clock.day == LocalClockTime::Day::tomorrow ? 1 : 0;
  auto t = on_local_day(now, first_day, clock.hour, clock.minute);
  if (t && clock.day == LocalClockTime::Day::next && *t <= now) {
    t = on_local_day(now, 1, clock.hour, clock.minute);
  }
  if (!t) {
    return make_error("invalid_time", fmt::format("{} does not exist in that time zone (a DST "
                                                  "change skips it)",
                                                  format_local_clock_time(clock)));
  }
  return *t;
}

LocalTimeResolver local_time_resolver(TimePoint now) {
  return [now](const LocalClockTime& clock, const std::optional<std::string>& timezone) {
    return resolve_local_clock_time(clock, timezone, now);
  };
}

Result<TimePoint> parse_user_time(const std::string& text, TimePoint now) {
  auto t = parse_spec_time(text);
  if (!t) return t.error();
  switch (t->kind) {
    case SpecTime::Kind::after_submit:
      return now + t->after;
    case SpecTime::Kind::local_clock:
      return resolve_local_clock_time(t->clock, std::nullopt, now);
    case SpecTime::Kind::absolute:
      break;
  }
  return t->at;
}

}  // namespace gridshift
