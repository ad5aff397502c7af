// Tests for RFC 3339 and duration parsing/formatting (core/time.h). Expected epoch values were
// computed independently with `date -u -d ... +%s`.
#include "core/time.h"

#include <gtest/gtest.h>

#include <string>

namespace gridshift {
namespace {

TimePoint at(long long epoch_seconds) {
  return TimePoint{Seconds{epoch_seconds}};
}

TEST(ParseRfc3339, UtcWithSeconds) {
  auto t = parse_rfc3339("2026-11-27T08:00:00Z");
  ASSERT_TRUE(t) << to_string(t.error());
  EXPECT_EQ(*t, at(1795766400));
}

TEST(ParseRfc3339, UkApiFormWithoutSeconds) {
  auto t = parse_rfc3339("2023-03-14T03:30Z");
  ASSERT_TRUE(t) << to_string(t.error());
  EXPECT_EQ(*t, at(1678764600));
}

TEST(ParseRfc3339, PositiveOffsetIsSubtracted) {
  // 09:00 at +01:00 is 08:00 UTC.
  auto t = parse_rfc3339("2026-11-27T09:00:00+01:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, at(1795766400));
}

TEST(ParseRfc3339, NegativeOffsetIsAdded) {
  // 02:30 at -05:30 is 08:00 UTC.
  auto t = parse_rfc3339("2026-11-27T02:30:00-05:30");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, at(1795766400));
}

TEST(ParseRfc3339, OffsetCrossesMidnightBackwards) {
  // 00:30 on 14 March at +02:30 is 22:00 on 13 March UTC.
  auto t = parse_rfc3339("2023-03-14T00:30:00+02:30");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, at(1678744800));
}

TEST(ParseRfc3339, LowerCaseSeparatorsAndZ) {
  auto t = parse_rfc3339("2026-11-27t08:00:00z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, at(1795766400));
}

TEST(ParseRfc3339, FractionalSecondsAreTruncated) {
  auto t = parse_rfc3339("1999-12-31T23:59:59.999999Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, at(946684799));
}

TEST(ParseRfc3339, LeapDay) {
  auto t = parse_rfc3339("2024-02-29T12:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, at(1709208000));
  EXPECT_EQ(format_rfc3339(*t), "2024-02-29T12:00:00Z");
}

TEST(ParseRfc3339, ExtremeYears) {
  auto late = parse_rfc3339("9999-12-31T23:59:59Z");
  ASSERT_TRUE(late);
  EXPECT_EQ(*late, at(253402300799));
  auto early = parse_rfc3339("0001-01-01T00:00:00Z");
  ASSERT_TRUE(early);
  EXPECT_EQ(*early, at(-62135596800));
}

TEST(ParseRfc3339, RejectsInvalidInputs) {
  const char* bad[] = {
      "",                           // empty
      "2026-11-27",                 // date only
      "2026-11-27T08:00:00",        // no offset
      "2026-02-30T08:00:00Z",       // no such day
      "2023-02-29T08:00:00Z",       // not a leap year
      "2026-13-01T08:00:00Z",       // month 13
      "2026-00-10T08:00:00Z",       // month 0
      "2026-11-00T08:00:00Z",       // day 0
      "2026-11-27T24:00:00Z",       // hour 24
      "2026-11-27T08:60:00Z",       // minute 60
      "2026-11-27T08:00:61Z",       // second 61
      "2026-11-27T08:00:00Zjunk",   // trailing garbage
      "2026-11-27T08:00:00Z ",      // trailing space
      " 2026-11-27T08:00:00Z",      // leading space
      "2026-11-27 08:00:00Z",       // space separator
      "2026-11-27T8:00:00Z",        // one-digit hour
      "26-11-27T08:00:00Z",         // two-digit year
      "2026-11-27T08:00:00+0100",   // offset without colon
      "2026-11-27T08:00:00+24:00",  // offset hour out of range
      "2026-11-27T08:00:00+01:60",  // offset minute out of range
      "2026-11-27T08:00:00.Z",      // dot without digits
      "2026/11/27T08:00:00Z",       // wrong date separator
      "tomorrow",
  };
  for (const char* text : bad) {
    auto t = parse_rfc3339(text);
    EXPECT_FALSE(t) << "accepted: \"" << text << "\"";
    if (!t) {
      EXPECT_EQ(t.error().code, "invalid_time") << text;
      EXPECT_FALSE(t.error().message.empty()) << text;
    }
  }
}

TEST(FormatRfc3339, Examples) {
  EXPECT_EQ(format_rfc3339(at(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(at(951868800)), "2000-03-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(at(1795723200)), "2026-11-26T20:00:00Z");
  EXPECT_EQ(format_rfc3339(at(946684799)), "1999-12-31T23:59:59Z");
  EXPECT_EQ(format_rfc3339(at(-62135596800)), "0001-01-01T00:00:00Z");
}

TEST(FormatRfc3339, RoundTripsThroughParse) {
  for (long long s : {0LL, 1678764600LL, 1709208000LL, 1795766400LL + 59, 253402300799LL}) {
    auto back = parse_rfc3339(format_rfc3339(at(s)));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, at(s));
  }
}

TEST(ParseDuration, SingleUnits) {
  EXPECT_EQ(parse_duration("90s").value(), Seconds{90});
  EXPECT_EQ(parse_duration("15m").value(), Seconds{900});
  EXPECT_EQ(parse_duration("4h").value(), Seconds{14400});
  EXPECT_EQ(parse_duration("2d").value(), Seconds{172800});
  EXPECT_EQ(parse_duration("0s").value(), Seconds{0});
}

TEST(ParseDuration, Combinations) {
  EXPECT_EQ(parse_duration("1h30m").value(), Seconds{5400});
  EXPECT_EQ(parse_duration("1d2h3m4s").value(), Seconds{86400 + 7200 + 180 + 4});
  EXPECT_EQ(parse_duration("2h0m").value(), Seconds{7200});
  EXPECT_EQ(parse_duration("90m").value(), Seconds{5400});
}

TEST(ParseDuration, RejectsInvalidInputs) {
  const char* bad[] = {"", "4", "h", "-1h", "4x", "1h 30m", " 4h", "4h ", "4H", "1.5h", "30m1h",
                       "1h1h", "+4h", "4hh", "1w", "m30",
                       // overflow of the digits and of the sum
                       "99999999999999999999s", "9223372036854775807s", "3650001d", "3650000d1s"};
  for (const char* text : bad) {
    auto d = parse_duration(text);
    EXPECT_FALSE(d) << "accepted: \"" << text << "\"";
    if (!d) {
      EXPECT_EQ(d.error().code, "invalid_duration") << text;
    }
  }
}

TEST(ParseDuration, AcceptsTheLargestValue) {
  EXPECT_EQ(parse_duration("3650000d").value(), Seconds{3650000LL * 86400});
}

TEST(FormatDuration, ShortestExactForm) {
  EXPECT_EQ(format_duration(Seconds{0}), "0s");
  EXPECT_EQ(format_duration(Seconds{5400}), "1h30m");
  EXPECT_EQ(format_duration(Seconds{90}), "1m30s");
  EXPECT_EQ(format_duration(Seconds{14400}), "4h");
  EXPECT_EQ(format_duration(Seconds{172800}), "2d");
  EXPECT_EQ(format_duration(Seconds{93784}), "1d2h3m4s");
  EXPECT_EQ(format_duration(Seconds{86401}), "1d1s");
}

TEST(FormatDuration, IsTheInverseOfParse) {
  for (long long s : {0LL, 1LL, 59LL, 60LL, 3599LL, 3601LL, 86399LL, 90061LL, 31536000LL}) {
    auto back = parse_duration(format_duration(Seconds{s}));
    ASSERT_TRUE(back) << s;
    EXPECT_EQ(*back, Seconds{s});
  }
}

}  // namespace
}  // namespace gridshift
