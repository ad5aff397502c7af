// The pure feed parsers: documented shapes in, readings out; every bad-data case of issue 4
// (malformed JSON, missing/null fields, absurd values, wrong zone, HTML, truncated bodies)
// gives an error naming the field and no readings.
#include <gtest/gtest.h>

#include "daemon/feeds/carbon_intensity_uk/parser.h"
#include "daemon/feeds/electricitymaps/parser.h"
#include "daemon/feeds/gcp_region_dataset/parser.h"
#include "daemon/feeds/watttime/parser.h"

namespace gridshift {
namespace {

const TimePoint kFetched = *parse_rfc3339("2025-03-04T10:20:00Z");
const ParseContext kCtx{"emaps", "BE", kFetched};

std::string field_of(const Error& e) {
  return e.details.empty() ? "" : e.details[0].field;
}

constexpr const char* kLatest = R"({
  "zone": "BE", "carbonIntensity": 142, "datetime": "2025-03-04T10:00:00.000Z",
  "updatedAt": "2025-03-04T09:51:12.402Z", "createdAt": "2025-03-01T10:04:55.117Z",
  "emissionFactorType": "lifecycle", "isEstimated": true,
  "estimationMethod": "TIME_SLICER_AVERAGE", "temporalGranularity": "hourly"})";

TEST(FeedParsersTest, EmapsLatestGivesOneEstimatedActual) {
  auto r = parse_emaps_latest(kLatest, "BE", kCtx);
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->gco2_per_kwh, 142);
  EXPECT_EQ(r->timestamp, *parse_rfc3339("2025-03-04T10:00:00Z"));
  EXPECT_EQ(r->issued_at, r->timestamp);
  EXPECT_EQ(r->kind, ReadingKind::actual);
  EXPECT_EQ(r->signal, SignalType::average);
  EXPECT_TRUE(r->estimated);
  EXPECT_EQ(r->feed, "emaps");
  EXPECT_EQ(r->location, "BE");
  EXPECT_EQ(r->fetched_at, kFetched);
}

TEST(FeedParsersTest, EmapsBadDataCasesNameTheField) {
  struct Case {
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"({"zone": "BE", "carbonIntensity": 142, "datetime": )", "body"},  // truncated
      {"<html><body>502 Bad Gateway</body></html>", "body"},
      {"", "body"},
      {R"([1, 2])", "body"},
      {R"({"zone": "BE", "carbonIntensity": null, "datetime": "2025-03-04T10:00:00.000Z"})",
       "carbonIntensity"},
      {R"({"zone": "BE", "datetime": "2025-03-04T10:00:00.000Z"})", "carbonIntensity"},
      {R"({"zone": "BE", "carbonIntensity": 142})", "datetime"},
      {R"({"zone": "BE", "carbonIntensity": "142", "datetime": "2025-03-04T10:00:00.000Z"})",
       "carbonIntensity"},
      {R"({"zone": "BE", "carbonIntensity": -5, "datetime": "2025-03-04T10:00:00.000Z"})",
       "carbonIntensity"},
      {R"({"zone": "BE", "carbonIntensity": 2500, "datetime": "2025-03-04T10:00:00.000Z"})",
       "carbonIntensity"},
      {R"({"zone": "DE", "carbonIntensity": 142, "datetime": "2025-03-04T10:00:00.000Z"})", "zone"},
      {R"({"carbonIntensity": 142, "datetime": "2025-03-04T10:00:00.000Z"})", "zone"},
      {R"({"zone": "BE", "carbonIntensity": 142, "datetime": "yesterday"})", "datetime"},
  };
  for (const auto& c : cases) {
    auto r = parse_emaps_latest(c.body, "BE", kCtx);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().code, kBadFeedData) << c.body;
    EXPECT_EQ(field_of(r.error()), c.field) << c.body;
    EXPECT_NE(r.error().message.find(c.field), std::string::npos) << r.error().message;
  }
  auto html = parse_emaps_latest("<html>oops</html>", "BE", kCtx);
  EXPECT_EQ(html.error().message, "bad feed response: body: HTML or XML instead of JSON");
}

TEST(FeedParsersTest, DeepJsonIsRefused) {
  std::string body = std::string(100, '[') + std::string(100, ']');
  auto r = parse_emaps_latest("{\"a\":" + body + "}", "BE", kCtx);
  ASSERT_FALSE(r);
  EXPECT_EQ(field_of(r.error()), "body");
}

TEST(FeedParsersTest, EmapsHistorySkipsNullPointsAndSetsSteps) {
  auto r = parse_emaps_history(R"({"zone": "BE", "history": [
      {"zone": "BE", "carbonIntensity": 151, "datetime": "2025-03-03T11:00:00.000Z", "isEstimated": false},
      {"zone": "BE", "carbonIntensity": null, "datetime": "2025-03-03T12:00:00.000Z"},
      {"zone": "BE", "carbonIntensity": 149, "datetime": "2025-03-03T13:00:00.000Z"}]})",
                               "BE", kCtx);
  ASSERT_TRUE(r) << to_string(r.error());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].gco2_per_kwh, 151);
  EXPECT_EQ((*r)[0].step, Seconds{7200});  // holds until the next known point
  EXPECT_EQ((*r)[1].step, Seconds{7200});
}

TEST(FeedParsersTest, EmapsHistoryRejectsOnePointOfAnotherZoneOrAbsurdValue) {
  auto wrong = parse_emaps_history(R"({"zone": "BE", "history": [
      {"zone": "FR", "carbonIntensity": 151, "datetime": "2025-03-03T11:00:00.000Z"}]})",
                                   "BE", kCtx);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(field_of(wrong.error()), "history[0].zone");
  auto absurd = parse_emaps_history(R"({"zone": "BE", "history": [
      {"zone": "BE", "carbonIntensity": 151, "datetime": "2025-03-03T11:00:00.000Z"},
      {"zone": "BE", "carbonIntensity": 1e9, "datetime": "2025-03-03T12:00:00.000Z"}]})",
                                    "BE", kCtx);
  ASSERT_FALSE(absurd);
  EXPECT_EQ(field_of(absurd.error()), "history[1].carbonIntensity");
}

TEST(FeedParsersTest, EmapsForecastKeepsIssueTime) {
  auto r = parse_emaps_forecast(R"({"zone": "US-MIDW-MISO", "forecast": [
      {"carbonIntensity": 512, "datetime": "2025-03-04T11:00:00.000Z"},
      {"carbonIntensity": 498, "datetime": "2025-03-04T12:00:00.000Z"}],
      "updatedAt": "2025-03-04T10:33:41.905Z"})",
                                "US-MIDW-MISO", kCtx);
  ASSERT_TRUE(r) << to_string(r.error());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].kind, ReadingKind::forecast);
  EXPECT_EQ((*r)[1].issued_at, *parse_rfc3339("2025-03-04T10:33:41Z"));
  EXPECT_EQ((*r)[1].gco2_per_kwh, 498);
}

TEST(FeedParsersTest, EmapsPowerBreakdownPercentages) {
  auto r = parse_emaps_power_breakdown(
      R"({"zone": "FR", "datetime": "2025-03-04T10:00:00.000Z", "fossilFreePercentage": 96,
          "renewablePercentage": 33, "powerConsumptionBreakdown": {"hydro discharge": 1210}})",
      "FR");
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->renewable_percent, 33);
  EXPECT_EQ(r->fossil_free_percent, 96);
  auto bad = parse_emaps_power_breakdown(
      R"({"zone": "FR", "datetime": "2025-03-04T10:00:00.000Z", "renewablePercentage": 140})",
      "FR");
  ASSERT_FALSE(bad);
  EXPECT_EQ(field_of(bad.error()), "renewablePercentage");
}

TEST(FeedParsersTest, WattTimeConvertsLbsPerMwhToGramsAsMarginal) {
  const ParseContext ctx{"wt", "CAISO_NORTH", kFetched};
  auto r = parse_watttime_data(R"({"data": [
      {"point_time": "2025-03-04T10:05:00+00:00", "value": 1000.0},
      {"point_time": "2025-03-04T10:10:00+00:00", "value": 425.7}],
      "meta": {"data_point_period_seconds": 300, "region": "CAISO_NORTH", "warnings": [],
               "signal_type": "co2_moer", "units": "lbs_co2_per_mwh",
               "generated_at": "2025-03-04T10:00:00+00:00"}})",
                               "CAISO_NORTH", ReadingKind::forecast, ctx);
  ASSERT_TRUE(r) << to_string(r.error());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_NEAR((*r)[0].gco2_per_kwh, 453.592, 1e-9);  // 1000 lbs/MWh
  EXPECT_EQ((*r)[0].signal, SignalType::marginal);
  EXPECT_EQ((*r)[0].step, Seconds{300});
  EXPECT_EQ((*r)[0].issued_at, *parse_rfc3339("2025-03-04T10:00:00Z"));
}

TEST(FeedParsersTest, WattTimeBadData) {
  const ParseContext ctx{"wt", "CAISO_NORTH", kFetched};
  auto meta = [](const std::string& region, const std::string& units) {
    return R"("meta": {"region": ")" + region + R"(", "units": ")" + units + "\"}";
  };
  struct Case {
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"({"data": [], )" + meta("PJM", "lbs_co2_per_mwh") + "}", "meta.region"},
      {R"({"data": [], )" + meta("CAISO_NORTH", "percentile") + "}", "meta.units"},
      {R"({"data": [{"point_time": "2025-03-04T10:05:00+00:00", "value": 5000}], )" +
           meta("CAISO_NORTH", "lbs_co2_per_mwh") + "}",
       "data[0].value"},  // 5000 lbs/MWh = 2268 g/kWh: absurd
      {R"({"data": [{"value": 5}], )" + meta("CAISO_NORTH", "lbs_co2_per_mwh") + "}",
       "data[0].point_time"},
      {R"({"data": {}, )" + meta("CAISO_NORTH", "lbs_co2_per_mwh") + "}", "data"},
      {R"({"data": []})", "meta"},
  };
  for (const auto& c : cases) {
    auto r = parse_watttime_data(c.body, "CAISO_NORTH", ReadingKind::actual, ctx);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(field_of(r.error()), c.field) << c.body;
  }
  EXPECT_EQ(*parse_watttime_login(R"({"token": "abc"})"), "abc");
  EXPECT_EQ(field_of(parse_watttime_login(R"({"token": null})").error()), "token");
  EXPECT_EQ(*parse_watttime_region(R"({"region": "BPA", "signal_type": "co2_moer"})"), "BPA");
}

TEST(FeedParsersTest, UkNationalSplitsActualsAndForecast) {
  const ParseContext ctx{"uk", "GB", kFetched};
  const TimePoint issued = *parse_rfc3339("2023-03-15T03:00Z");
  auto r = parse_uk_national(R"({"data": [
      {"from": "2023-03-15T02:30Z", "to": "2023-03-15T03:00Z",
       "intensity": {"forecast": 72, "actual": 78, "index": "low"}},
      {"from": "2023-03-15T03:00Z", "to": "2023-03-15T03:30Z",
       "intensity": {"forecast": 191, "actual": null, "index": "moderate"}}]})",
                             issued, ctx);
  ASSERT_TRUE(r) << to_string(r.error());
  ASSERT_EQ(r->size(), 2u);  // one actual (78), one forecast from the issue slot on (191)
  EXPECT_EQ((*r)[0].kind, ReadingKind::actual);
  EXPECT_EQ((*r)[0].gco2_per_kwh, 78);
  EXPECT_EQ((*r)[0].step, Seconds{1800});
  EXPECT_EQ((*r)[1].kind, ReadingKind::forecast);
  EXPECT_EQ((*r)[1].gco2_per_kwh, 191);
  EXPECT_EQ((*r)[1].issued_at, issued);
  // Empty and data-less bodies are "no data", not errors.
  EXPECT_TRUE(parse_uk_national("", issued, ctx)->empty());
  EXPECT_TRUE(parse_uk_national("{}", issued, ctx)->empty());
  auto absurd = parse_uk_national(R"({"data": [{"from": "2023-03-15T02:30Z",
      "to": "2023-03-15T03:00Z", "intensity": {"forecast": -1, "actual": 78}}]})",
                                  issued, ctx);
  ASSERT_FALSE(absurd);
  EXPECT_EQ(field_of(absurd.error()), "data[0].intensity.forecast");
}

TEST(FeedParsersTest, UkRegionalAcceptsObjectOrArrayData) {
  const ParseContext ctx{"uk", "13", kFetched};
  const TimePoint issued = *parse_rfc3339("2023-03-15T20:00Z");
  const std::string inner = R"({"regionid": 13, "shortname": "London", "data": [
      {"from": "2023-03-15T20:00Z", "to": "2023-03-15T20:30Z",
       "intensity": {"forecast": 127, "index": "moderate"}, "generationmix": []}]})";
  for (const auto& body : {R"({"data": )" + inner + "}", R"({"data": [)" + inner + "]}"}) {
    auto r = parse_uk_regional(body, issued, ctx);
    ASSERT_TRUE(r) << to_string(r.error());
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].gco2_per_kwh, 127);
    EXPECT_EQ((*r)[0].kind, ReadingKind::forecast);
  }
  auto bad = parse_uk_regional(R"({"data": {"regionid": 13}})", issued, ctx);
  ASSERT_FALSE(bad);
  EXPECT_EQ(field_of(bad.error()), "data.data");
}

TEST(FeedParsersTest, ShippedGcpRegionsCsvParses) {
  auto rows = parse_gcp_regions_csv(
      "region,location_name,cfe_percent,grid_gco2_per_kwh,year,note\n"
      "europe-west2,London,57,\"110.5\",2024,\"a, quoted note\"\n");
  ASSERT_TRUE(rows) << to_string(rows.error());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].grid_gco2_per_kwh, 110.5);
  EXPECT_EQ((*rows)[0].year, 2024);
  auto bad = parse_gcp_regions_csv("region,cfe_percent,grid_gco2_per_kwh,year\nx,50,abc,2024\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().details[0].field, "grid_gco2_per_kwh");
  EXPECT_EQ(bad.error().details[0].line, 2);
}

}  // namespace
}  // namespace gridshift
