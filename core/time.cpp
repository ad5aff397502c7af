#include "core/time.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <limits>

namespace gridshift {
namespace {

// Reads exactly `count` digits at `pos`; advances `pos` on success.
bool read_digits(std::string_view text, std::size_t& pos, std::size_t count, int& out) {
  if (text.size() - pos < count) return false;
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  pos += count;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

Error time_error(std::string message) {
  return make_error("invalid_time", std::move(message));
}
Error duration_error(std::string message) {
  return make_error("invalid_duration", std::move(message));
}

}  // namespace

Result<TimePoint> parse_rfc3339(std::string_view text) {
  if (text.empty()) return time_error("empty time; expected RFC 3339 like 2026-11-27T08:00:00Z");
  std::size_t pos = 0;
  int year = 0;
  int month = 0;
  int day = 0;
  if (!read_digits(text, pos, 4, year) || !expect(text, pos, '-') ||
      !read_digits(text, pos, 2, month) || !expect(text, pos, '-') ||
      !read_digits(text, pos, 2, day)) {
    return time_error("expected a date YYYY-MM-DD");
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't')) {
    return time_error("expected 'T' between date and time");
  }
  ++pos;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!read_digits(text, pos, 2, hour) || !expect(text, pos, ':') ||
      !read_digits(text, pos, 2, minute)) {
    return time_error("expected a time HH:MM or HH:MM:SS");
  }
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!read_digits(text, pos, 2, second)) return time_error("expected seconds after ':'");
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      const std::size_t start = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
      if (pos == start) return time_error("expected digits after '.'");
    }
  }
  const std::chrono::year_month_day date{std::chrono::year{year},
                                         std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return time_error("no such date: " + std::string(text.substr(0, 10)));
  if (hour > 23) return time_error("hour out of range (00-23)");
  if (minute > 59) return time_error("minute out of range (00-59)");
  if (second > 59) return time_error("second out of range (00-59)");

  std::int64_t offset_seconds = 0;
  if (pos >= text.size()) return time_error("missing UTC offset ('Z' or +HH:MM)");
  const char zone = text[pos];
  if (zone == 'Z' || zone == 'z') {
    ++pos;
  } else if (zone == '+' || zone == '-') {
    ++pos;
    int offset_hours = 0;
    int offset_minutes = 0;
    if (!read_digits(text, pos, 2, offset_hours) || !expect(text, pos, ':') ||
        !read_digits(text, pos, 2, offset_minutes)) {
      return time_error("expected a UTC offset +HH:MM or -HH:MM");
    }
    if (offset_hours > 23 || offset_minutes > 59) return time_error("UTC offset out of range");
    offset_seconds = (offset_hours * 3600 + offset_minutes * 60) * (zone == '-' ? -1 : 1);
  } else {
    return time_error("expected 'Z' or a UTC offset after the time");
  }
  if (pos != text.size()) return time_error("unexpected text after the time");

  const auto local = std::chrono::sys_days{date} + std::chrono::hours{hour} +
                     std::chrono::minutes{minute} + Seconds{second};
  return TimePoint{local - Seconds{offset_seconds}};
}

std::string format_rfc3339(TimePoint t) {
  const auto days = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day date{days};
  const std::chrono::hh_mm_ss clock{t - days};
  char buffer[40];
  const int written = std::snprintf(
      buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
      static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
      static_cast<int>(clock.seconds().count()));
  return std::string(buffer, static_cast<std::size_t>(written > 0 ? written : 0));
}

namespace {

struct DurationUnit {
  char symbol;
  std::int64_t seconds;
};
constexpr DurationUnit kUnits[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

}  // namespace

Result<Seconds> parse_duration(std::string_view text) {
  if (text.empty()) return duration_error("empty duration; expected e.g. 90s, 15m, 4h, 2d, 1h30m");
  if (text == "0") return Seconds{0};  // zero needs no unit
  std::int64_t total = 0;
  std::size_t pos = 0;
  std::size_t next_unit = 0;  // units must appear largest first, each at most once
  while (pos < text.size()) {
    const std::size_t start = pos;
    std::int64_t number = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      const int digit = text[pos] - '0';
      if (number > (kMaxDurationSeconds - digit) / 10) {
        return duration_error("duration too large");
      }
      number = number * 10 + digit;
      ++pos;
    }
    if (pos == start) {
      return duration_error("expected a number before the unit, e.g. 90s, 15m, 4h, 2d");
    }
    if (pos == text.size()) return duration_error("missing unit (s, m, h or d) after the number");
    const char symbol = text[pos++];
    std::size_t unit = next_unit;
    while (unit < std::size(kUnits) && kUnits[unit].symbol != symbol)
      ++unit;
    if (unit == std::size(kUnits)) {
      for (const auto& known : kUnits) {
        if (known.symbol == symbol) {
          return duration_error("units must go from largest to smallest, each once (e.g. 1h30m)");
        }
      }
      return duration_error(std::string("unknown unit '") + symbol + "'; use s, m, h or d");
    }
    next_unit = unit + 1;
    if (number > (kMaxDurationSeconds - total) / kUnits[unit].seconds) {
      return duration_error("duration too large");
    }
    total += number * kUnits[unit].seconds;
  }
  return Seconds{total};
}

std::string format_duration(Seconds d) {
  std::int64_t remaining = d.count();
  if (remaining == 0) return "0s";
  std::string out;
  if (remaining < 0) {
    out = "-";
    // Durations are bounded far below the int64 limits, so negating is safe here.
    remaining = remaining == std::numeric_limits<std::int64_t>::min()
                    ? std::numeric_limits<std::int64_t>::max()
                    : -remaining;
  }
  for (const auto& unit : kUnits) {
    const std::int64_t count = remaining / unit.seconds;
    if (count == 0) continue;
    out += std::to_string(count);
    out += unit.symbol;
    remaining -= count * unit.seconds;
  }
  return out;
}

Result<SpecTime> parse_spec_time(std::string_view text) {
  if (!text.empty() && text.front() == '+') {
    auto offset = parse_duration(text.substr(1));
    if (!offset) {
      return make_error("invalid_time", offset.error().message +
                                            " after '+'; expected +DURATION from submission "
                                            "like +14h or +1h30m");
    }
    return SpecTime{SpecTime::Kind::after_submit, {}, *offset, {}};
  }
  auto clock = parse_local_clock_time(text);
  if (clock) return SpecTime{SpecTime::Kind::local_clock, {}, {}, *clock};
  auto absolute = parse_rfc3339(text);
  if (!absolute) {
    return make_error("invalid_time",
                      absolute.error().message +
                          "; expected RFC 3339 (2026-11-27T08:00:00Z), +DURATION from "
                          "submission (+14h), HH:MM, today HH:MM or tomorrow HH:MM");
  }
  return SpecTime{SpecTime::Kind::absolute, *absolute, {}, {}};
}

std::optional<LocalClockTime> parse_local_clock_time(std::string_view text) {
  LocalClockTime out;
  const auto starts = [&](std::string_view word) {
    if (text.substr(0, word.size()) != word) return false;
    text.remove_prefix(word.size());
    return true;
  };
  if (starts("today ")) {
    out.day = LocalClockTime::Day::today;
  } else if (starts("tomorrow ")) {
    out.day = LocalClockTime::Day::tomorrow;
  }
  // HH:MM, H:MM
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || text.size() != colon + 3) {
    return std::nullopt;
  }
  int hour = 0;
  for (char c : text.substr(0, colon)) {
    if (c < '0' || c > '9') return std::nullopt;
    hour = hour * 10 + (c - '0');
  }
  const char m1 = text[colon + 1];
  const char m2 = text[colon + 2];
  if (m1 < '0' || m1 > '5' || m2 < '0' || m2 > '9' || hour > 23) return std::nullopt;
  out.hour = hour;
  out.minute = (m1 - '0') * 10 + (m2 - '0');
  return out;
}

std::string format_local_clock_time(const LocalClockTime& t) {
  const char* day = t.day == LocalClockTime::Day::today      ? "today "
                    : t.day == LocalClockTime::Day::tomorrow ? "tomorrow "
                                                             : "";
  return fmt::format("{}{:02}:{:02}", day, t.hour, t.minute);
}

std::string format_spec_time(const SpecTime& t) {
  switch (t.kind) {
    case SpecTime::Kind::after_submit:
      return "+" + format_duration(t.after);
    case SpecTime::Kind::local_clock:
      return format_local_clock_time(t.clock);
    case SpecTime::Kind::absolute:
      break;
  }
  return format_rfc3339(t.at);
}

}  // namespace gridshift
