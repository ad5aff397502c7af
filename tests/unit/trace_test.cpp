#include "core/trace.h"

#include <gtest/gtest.h>

namespace gridshift {
namespace {

TimePoint at(const char* text) {
  return *parse_rfc3339(text);
}

TEST(Trace, ParsesRegionsInOrderAndValuesHoldUntilTheNextTimestamp) {
  const auto trace = parse_trace_csv(
      "region,timestamp,gco2_per_kwh\r\n"
      "DE,2021-07-01T00:00:00Z,300.5\r\n"
      "SE,2021-07-01T00:00:00Z,20\n"
      "DE,2021-07-01T00:30:00Z,280\n"
      "\n"
      "DE,2021-07-01T01:00:00Z,250\n",
      "t.csv");
  ASSERT_TRUE(trace) << to_string(trace.error());
  EXPECT_EQ(trace->regions, (std::vector<std::string>{"DE", "SE"}));
  const auto& de = *trace->find("DE");
  ASSERT_EQ(de.size(), 3u);
  EXPECT_EQ(de[0], (Point{at("2021-07-01T00:00:00Z"), at("2021-07-01T00:30:00Z"), 300.5}));
  EXPECT_EQ(de[1].end, at("2021-07-01T01:00:00Z"));
  // The last value lasts as long as the step before it.
  EXPECT_EQ(de[2].end, at("2021-07-01T01:30:00Z"));
  // A single row lasts one hour.
  EXPECT_EQ(trace->find("SE")->front().end, at("2021-07-01T01:00:00Z"));
  EXPECT_EQ(trace->find("FR"), nullptr);
}

void expect_error(const std::string& text, const std::string& field, int line) {
  auto trace = parse_trace_csv(text, "bad.csv");
  ASSERT_FALSE(trace) << text;
  EXPECT_EQ(trace.error().code, "invalid_trace");
  ASSERT_FALSE(trace.error().details.empty());
  EXPECT_EQ(trace.error().details[0].field, field) << text;
  EXPECT_EQ(trace.error().details[0].line, line) << text;
}

TEST(Trace, BadInputNamesFieldAndLine) {
  const std::string h = "region,timestamp,gco2_per_kwh\n";
  expect_error("zone,time,value\nDE,2021-07-01T00:00:00Z,1\n", "header", 1);
  expect_error("", "header", 1);
  expect_error(h + "DE,2021-07-01T00:00:00Z,1\nDE,yesterday,2\n", "timestamp", 3);
  expect_error(h + "DE,2021-07-01T00:00:00Z,abc\n", "gco2_per_kwh", 2);
  expect_error(h + "DE,2021-07-01T00:00:00Z,12x\n", "gco2_per_kwh", 2);
  expect_error(h + "DE,2021-07-01T00:00:00Z,-1\n", "gco2_per_kwh", 2);
  expect_error(h + "DE,2021-07-01T00:00:00Z\n", "line", 2);
  expect_error(h + "DE,2021-07-01T00:00:00Z,1,2\n", "line", 2);
  expect_error(h + ",2021-07-01T00:00:00Z,1\n", "region", 2);
  expect_error(h + "DE,2021-07-01T01:00:00Z,1\nDE,2021-07-01T01:00:00Z,2\n", "timestamp", 3);
  expect_error(h + "DE,2021-07-01T01:00:00Z,1\nDE,2021-07-01T00:00:00Z,2\n", "timestamp", 3);
}

TEST(Trace, ReportsEveryBadLine) {
  auto trace = parse_trace_csv("region,timestamp,gco2_per_kwh\nDE,x,1\nDE,2021-07-01T00:00:00Z,y\n",
                               "bad.csv");
  ASSERT_FALSE(trace);
  ASSERT_EQ(trace.error().details.size(), 2u);
  EXPECT_EQ(trace.error().details[1].field, "gco2_per_kwh");
  EXPECT_EQ(trace.error().details[1].line, 3);
  EXPECT_NE(trace.error().message.find("bad.csv"), std::string::npos);
}

}  // namespace
}  // namespace gridshift
