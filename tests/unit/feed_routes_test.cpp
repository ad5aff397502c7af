// GET /v1/regions, GET /v1/regions/{name}/forecast and the health "feeds" array, built from a
// real poll of the fake feed server into SQLite, called directly and through the ApiRouter.
#include "daemon/api/feed_routes.h"

#include <gtest/gtest.h>

#include "fakes/feed_test_env.h"

namespace gridshift::testing {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;

const std::string kSource = GRIDSHIFT_SOURCE_DIR;

class FeedRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeZone fr;
    fr.intensity = 56;
    fr.renewable_percent = 33;
    fr.fossil_free_percent = 96;
    fr.estimated = true;
    env.fake_.set_emaps_zone("FR", fr);
    env.fake_.set_uk_national(180);
    env.fake_.set_watttime_region("CAISO_NORTH", 800);
    env.configure(
        "scheduler: {max_staleness: 3h}\n"
        "feeds:\n"
        "  - {name: emaps, type: electricitymaps, base_url: \"{BASE}\", token_env: EM_TOKEN, "
        "forecast: true}\n"
        "  - {name: uk, type: carbon_intensity_uk, base_url: \"{BASE}\"}\n"
        "  - {name: wt, type: watttime, base_url: \"{BASE}\", username_env: WT_USER, "
        "password_env: WT_PASS}\n"
        "  - {name: annual, type: gcp_region_dataset, file: " +
        kSource +
        "/data/gcp-regions.csv}\n"
        "regions:\n"
        "  - {name: europe-west9, feeds: [emaps, annual], location: FR, pue: 1.09}\n"
        "  - {name: europe-west2, feeds: [uk, annual], location: GB}\n"
        "  - {name: us-west1, feeds: [wt], location: CAISO_NORTH}\n"
        "  - {name: asia-east1, feeds: [emaps, annual], location: TW}\n");
    for (const char* feed : {"emaps", "uk", "wt", "annual"})
      (void)env.poll(feed);
  }

  json regions() {
    auto r = regions_json(env.config_, *env.store_, env.clock_.now());
    if (!r) throw std::runtime_error(to_string(r.error()));
    return *r;
  }

  FeedTestEnv env;
};

TEST_F(FeedRoutesTest, RegionsShowFreshValuesForecastHorizonAndPowerBreakdown) {
  auto body = regions();
  ASSERT_EQ(body["regions"].size(), 4u);
  const auto& fr = body["regions"][0];
  EXPECT_EQ(fr["name"], "europe-west9");
  EXPECT_EQ(fr["location"], "FR");
  EXPECT_EQ(fr["pue"], 1.09);
  EXPECT_EQ(fr["intensity"], 56.0);
  EXPECT_EQ(fr["unit"], "gCO2e/kWh");
  EXPECT_EQ(fr["signal"], "average");
  EXPECT_EQ(fr["feed"], "emaps");
  EXPECT_EQ(fr["observed_at"], "2026-11-26T18:00:00Z");
  EXPECT_EQ(fr["age_seconds"], 600);
  EXPECT_EQ(fr["stale"], false);
  EXPECT_EQ(fr["estimated"], true);
  EXPECT_EQ(fr["renewable_percent"], 33.0);
  EXPECT_EQ(fr["fossil_free_percent"], 96.0);
  EXPECT_EQ(fr["forecast_horizon"], "2026-11-27T19:00:00Z");  // 24 hourly points after 18:00
  ASSERT_EQ(fr["chain"].size(), 2u);
  EXPECT_EQ(fr["chain"][0]["feed"], "emaps");
  EXPECT_EQ(fr["chain"][0]["status"], "fresh");
  EXPECT_EQ(fr["chain"][1]["status"], "fresh");

  const auto& gb = body["regions"][1];
  EXPECT_EQ(gb["feed"], "uk");
  EXPECT_EQ(gb["forecast_horizon"], "2026-11-28T18:00:00Z");  // 96 half-hours from 18:00

  const auto& us = body["regions"][2];
  EXPECT_EQ(us["signal"], "marginal");
  EXPECT_NEAR(us["intensity"].get<double>(), 800 * 0.453592, 1e-6);

  // TW is unknown to the fake: the chain falls through to the annual dataset.
  const auto& tw = body["regions"][3];
  EXPECT_EQ(tw["feed"], "annual");
  EXPECT_EQ(tw["signal"], "annual_average");
  EXPECT_EQ(tw["intensity"], 439.29);
  EXPECT_EQ(tw["chain"][0]["status"], "missing");
  EXPECT_TRUE(tw["chain"][0]["observed_at"].is_null());
}

TEST_F(FeedRoutesTest, RegionWithoutFreshDataIsNullAndStale) {
  env.advance(hours(4));
  auto us = regions()["regions"][2];  // only WattTime, now 4 h old
  EXPECT_TRUE(us["intensity"].is_null());
  EXPECT_TRUE(us["feed"].is_null());
  EXPECT_EQ(us["stale"], true);
  EXPECT_EQ(us["chain"][0]["status"], "stale");
}

TEST_F(FeedRoutesTest, ForecastComesFromTheFirstFeedWithAFreshForecast) {
  auto fc = region_forecast_json(env.config_, *env.store_, "europe-west2", env.clock_.now());
  ASSERT_TRUE(fc);
  EXPECT_EQ((*fc)["feed"], "uk");
  EXPECT_EQ((*fc)["signal"], "average");
  EXPECT_EQ((*fc)["issued_at"], "2026-11-26T18:00:00Z");
  ASSERT_EQ((*fc)["points"].size(), 96u);
  EXPECT_EQ((*fc)["points"][0]["start"], "2026-11-26T18:00:00Z");
  EXPECT_EQ((*fc)["points"][0]["end"], "2026-11-26T18:30:00Z");
  EXPECT_EQ((*fc)["points"][0]["intensity"], 180.0);

  // The annual dataset has no forecast: a region with none answers an empty list.
  auto tw = region_forecast_json(env.config_, *env.store_, "asia-east1", env.clock_.now());
  ASSERT_TRUE(tw);
  EXPECT_TRUE((*tw)["feed"].is_null());
  EXPECT_TRUE((*tw)["points"].empty());

  auto missing = region_forecast_json(env.config_, *env.store_, "mars-1", env.clock_.now());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "not_found");
  EXPECT_EQ(missing.error().details[0].field, "name");
}

TEST_F(FeedRoutesTest, RoutesAnswerThroughTheRouter) {
  ApiRouter router;
  register_feed_routes(router, env.config_, *env.store_, env.clock_);
  ApiRequest request;
  request.method = "GET";
  request.path = "/v1/regions";
  auto response = router.dispatch(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(json::parse(response.body)["regions"][0]["intensity"], 56.0);
  request.path = "/v1/regions/europe-west9/forecast";
  response = router.dispatch(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(json::parse(response.body)["points"].size(), 24u);
  request.path = "/v1/regions/nowhere/forecast";
  response = router.dispatch(request);
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(json::parse(response.body)["error"]["code"], "not_found");

  // The observed history comes from the UK feed, first in europe-west2's chain, and ends with
  // the reading /v1/regions shows as the latest.
  request.path = "/v1/regions/europe-west2/history";
  request.query = {{"from", "2026-11-26T12:00:00Z"}, {"to", "2026-11-26T19:00:00Z"}};
  response = router.dispatch(request);
  ASSERT_EQ(response.status, 200) << response.body;
  auto history = json::parse(response.body);
  EXPECT_EQ(history["feed"], "uk");
  ASSERT_FALSE(history["points"].empty()) << response.body;
  EXPECT_EQ(history["points"].back()["intensity"], regions()["regions"][1]["intensity"]);
  EXPECT_EQ(history["points"].back()["start"], regions()["regions"][1]["observed_at"]);
  for (const auto& [query, field] :
       std::vector<std::pair<std::map<std::string, std::string>, std::string>>{
           {{{"to", "2026-11-26T19:00:00Z"}}, "from"},
           {{{"from", "soon"}, {"to", "2026-11-26T19:00:00Z"}}, "from"},
           {{{"from", "2026-11-26T19:00:00Z"}, {"to", "2026-11-26T12:00:00Z"}}, "to"},
           {{{"from", "2026-01-01T00:00:00Z"}, {"to", "2026-11-26T12:00:00Z"}}, "to"}}) {
    request.query = query;
    response = router.dispatch(request);
    EXPECT_EQ(response.status, 400) << response.body;
    EXPECT_EQ(json::parse(response.body)["error"]["details"][0]["field"], field) << response.body;
  }
}

TEST_F(FeedRoutesTest, HealthListsEveryFeedAndDegradesOnFailure) {
  auto health = feeds_health(env.config_, *env.store_, *env.poller_, env.clock_.now());
  ASSERT_EQ(health.feeds.size(), 4u);
  // asia-east1's emaps link fails (unknown zone), so emaps is failing and health degraded.
  EXPECT_TRUE(health.degraded);
  const auto& emaps = health.feeds[0];
  EXPECT_EQ(emaps["name"], "emaps");
  EXPECT_EQ(emaps["type"], "electricitymaps");
  EXPECT_EQ(emaps["status"], "failing");
  EXPECT_EQ(emaps["consecutive_failures"], 1);
  EXPECT_EQ(emaps["last_error"], "2026-11-26T18:10:00Z");
  EXPECT_NE(emaps["last_error_message"].get<std::string>().find("TW"), std::string::npos);
  EXPECT_EQ(emaps["next_poll"].is_string(), true);
  EXPECT_GE(emaps["calls_today"].get<int>(), 4);
  const auto& uk = health.feeds[1];
  EXPECT_EQ(uk["status"], "ok");
  EXPECT_EQ(uk["last_success"], "2026-11-26T18:10:00Z");
  EXPECT_TRUE(uk["last_error"].is_null());
  EXPECT_EQ(uk["consecutive_failures"], 0);
  // Why, in words: the failing feed (the regions still have fresh data from their chains).
  ASSERT_EQ(health.problems.size(), 1u) << ::testing::PrintToString(health.problems);
  EXPECT_TRUE(health.problems[0].starts_with("feed emaps is failing: ")) << health.problems[0];
}

}  // namespace
}  // namespace gridshift::testing
