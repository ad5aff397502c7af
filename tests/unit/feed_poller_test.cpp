// The feed poller against the fake feed server on 127.0.0.1, with a ManualClock: readings of
// the five feed types land in SQLite; bad data, 429, 500, timeouts and TLS failures store
// nothing, are counted and logged once per episode; back-off, Retry-After, daily budget,
// no overlapping polls; a feed down for hours falls back along the chain and recovers.
#include "daemon/feeds/feed_poller.h"

#include <gtest/gtest.h>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "daemon/api/feed_routes.h"
#include "daemon/feeds/registry.h"
#include "daemon/feeds/source_support.h"
#include "fakes/feed_test_env.h"

namespace gridshift::testing {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

const std::string kSource = GRIDSHIFT_SOURCE_DIR;

std::string emaps_config(bool forecast = true, const std::string& extra = "") {
  return "feeds:\n"
         "  - {name: emaps, type: electricitymaps, base_url: \"{BASE}\", token_env: EM_TOKEN, "
         "poll_interval: 15m, timeout: 1s, forecast: " +
         std::string(forecast ? "true" : "false") + extra +
         "}\n"
         "  - {name: annual, type: gcp_region_dataset, file: " +
         kSource +
         "/data/gcp-regions.csv}\n"
         "regions:\n"
         "  - {name: europe-west9, feeds: [emaps, annual], location: FR, pue: 1.09}\n";
}

FakeZone zone(double intensity, std::optional<double> renewable = {},
              std::optional<double> fossil_free = {}, std::string answer_zone = "") {
  FakeZone z;
  z.intensity = intensity;
  z.renewable_percent = renewable;
  z.fossil_free_percent = fossil_free;
  z.answer_zone = std::move(answer_zone);
  return z;
}

TimePoint hour_of(TimePoint t) {
  return std::chrono::floor<hours>(t);
}

class FeedPollerTest : public ::testing::Test {
 protected:
  FeedTestEnv env;
};

TEST_F(FeedPollerTest, ElectricityMapsLatestHistoryForecastAndBreakdownLand) {
  env.fake_.set_emaps_zone("FR", zone(120, 33, 96));
  env.configure(emaps_config());
  ASSERT_TRUE(env.poll("emaps")) << env.health("emaps").last_error_message;

  auto latest = env.latest("emaps", "FR");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->gco2_per_kwh, 120);
  EXPECT_EQ(latest->timestamp, hour_of(kFeedTestStart));
  EXPECT_EQ(latest->renewable_percent, 33);
  EXPECT_EQ(latest->fossil_free_percent, 96);
  // The fake's powerConsumptionBreakdown: nuclear 41,230 + wind 7,410 + gas 2,310 = 50,950 MW.
  ASSERT_EQ(latest->consumption_mix.size(), 3u);
  EXPECT_NEAR(latest->consumption_mix.at("nuclear"), 41230.0 / 50950.0 * 100.0, 1e-9);
  EXPECT_NEAR(latest->consumption_mix.at("gas"), 2310.0 / 50950.0 * 100.0, 1e-9);
  EXPECT_EQ(latest->signal, SignalType::average);
  // 24 h history backfill at the first poll.
  auto history = env.store_->actuals("emaps", "FR", kFeedTestStart - hours(25), kFeedTestStart);
  ASSERT_TRUE(history);
  EXPECT_EQ(history->size(), 24u);
  auto forecast = env.store_->forecast("emaps", "FR", kFeedTestStart, kFeedTestStart + hours(48));
  ASSERT_TRUE(forecast);
  ASSERT_EQ(forecast->size(), 24u);
  EXPECT_EQ(forecast->front().issued_at, hour_of(kFeedTestStart) + minutes(33));
  EXPECT_EQ(forecast->front().gco2_per_kwh, 118);  // the fake's first forecast hour: 120 - 2

  const auto headers = env.fake_.last_headers("/v4/carbon-intensity/latest");
  ASSERT_TRUE(headers.count("auth-token"));
  EXPECT_EQ(headers.at("auth-token"), "emaps-token");
  const auto targets = env.fake_.targets();
  EXPECT_TRUE(std::any_of(targets.begin(), targets.end(), [](const std::string& t) {
    return t.find("emissionFactorType=lifecycle") != std::string::npos;
  }));

  // Later polls do not backfill again.
  env.advance(minutes(15));
  ASSERT_TRUE(env.poll("emaps"));
  EXPECT_EQ(env.fake_.requests("/v4/carbon-intensity/history"), 1);
  EXPECT_EQ(env.fake_.requests("/v4/carbon-intensity/latest"), 2);
  EXPECT_EQ(env.health("emaps").consecutive_failures, 0);
  EXPECT_EQ(env.health("emaps").last_success, kFeedTestStart + minutes(15));
}

TEST_F(FeedPollerTest, ElectricityMapsV3IsKeptForLegacyKeys) {
  // api_version v3 asks the legacy paths; the default (v4, above) never does.
  env.fake_.set_emaps_zone("FR", zone(140, 30, 90));
  env.configure(emaps_config(false, ", api_version: v3"));
  ASSERT_TRUE(env.poll("emaps")) << env.health("emaps").last_error_message;
  EXPECT_EQ(env.fake_.requests("/v3/carbon-intensity/latest"), 1);
  EXPECT_EQ(env.fake_.requests("/v4/carbon-intensity/latest"), 0);
  auto latest = env.latest("emaps", "FR");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->gco2_per_kwh, 140);
}

TEST_F(FeedPollerTest, ElectricityMapsByCoordinatesAcceptsTheAnsweredZone) {
  env.fake_.set_emaps_zone("48.85,2.35", zone(77, {}, {}, "FR"));
  env.configure(
      "feeds:\n"
      "  - {name: emaps, type: electricitymaps, base_url: \"{BASE}\", token_env: EM_TOKEN}\n"
      "regions:\n"
      "  - {name: europe-west9, feeds: [emaps], location: \"48.85,2.35\"}\n");
  ASSERT_TRUE(env.poll("emaps")) << env.health("emaps").last_error_message;
  auto latest = env.latest("emaps", "48.85,2.35");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->gco2_per_kwh, 77);
  EXPECT_FALSE(latest->renewable_percent);  // the fake sent null percentages
}

TEST_F(FeedPollerTest, WattTimeLogsInConvertsAndRenewsTheToken) {
  env.fake_.set_watttime_region("CAISO_NORTH", 1000);
  env.fake_.set_watttime_region("BPA", 500);
  env.fake_.set_watttime_location("45.5946", "-121.1787", "BPA");
  env.configure(
      "feeds:\n"
      "  - {name: wt, type: watttime, base_url: \"{BASE}\", username_env: WT_USER, "
      "password_env: WT_PASS, poll_interval: 5m}\n"
      "regions:\n"
      "  - {name: us-west1, feeds: [wt], location: CAISO_NORTH}\n"
      "  - {name: us-west2, feeds: [wt], location: \"45.5946,-121.1787\"}\n");
  ASSERT_TRUE(env.poll("wt")) << env.health("wt").last_error_message;
  auto latest = env.latest("wt", "CAISO_NORTH");
  ASSERT_TRUE(latest);
  EXPECT_NEAR(latest->gco2_per_kwh, 453.592, 1e-6);  // 1000 lbs/MWh
  EXPECT_EQ(latest->signal, SignalType::marginal);
  EXPECT_EQ(latest->step, Seconds{300});
  auto bpa = env.latest("wt", "45.5946,-121.1787");
  ASSERT_TRUE(bpa);
  EXPECT_NEAR(bpa->gco2_per_kwh, 226.796, 1e-6);
  auto forecast =
      env.store_->forecast("wt", "CAISO_NORTH", kFeedTestStart, kFeedTestStart + hours(30));
  ASSERT_TRUE(forecast);
  EXPECT_GE(forecast->size(), 280u);
  EXPECT_EQ(env.fake_.watttime_logins(), 1);

  env.advance(minutes(5));
  ASSERT_TRUE(env.poll("wt"));
  EXPECT_EQ(env.fake_.watttime_logins(), 1);                // token reused
  EXPECT_EQ(env.fake_.requests("/v3/region-from-loc"), 1);  // region cached

  env.fake_.expire_watttime_tokens();  // 401 -> one re-login, then the call succeeds
  env.advance(minutes(5));
  ASSERT_TRUE(env.poll("wt")) << env.health("wt").last_error_message;
  EXPECT_EQ(env.fake_.watttime_logins(), 2);

  env.advance(minutes(26));  // past the renewal point: log in before calling
  ASSERT_TRUE(env.poll("wt"));
  EXPECT_EQ(env.fake_.watttime_logins(), 3);
}

TEST_F(FeedPollerTest, WattTimeBadCredentialsFailWithoutLeakingThem) {
  env.fake_.set_watttime_credentials("wt-user", "other");
  env.fake_.set_watttime_region("CAISO_NORTH", 1000);
  env.configure(
      "feeds:\n"
      "  - {name: wt, type: watttime, base_url: \"{BASE}\", username_env: WT_USER, "
      "password_env: WT_PASS}\n"
      "regions:\n"
      "  - {name: us-west1, feeds: [wt], location: CAISO_NORTH}\n");
  FeedLogCapture logs;
  auto status = env.poll("wt");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, "feed_http_status");
  EXPECT_EQ(logs.count("wt-pass"), 0);
  EXPECT_EQ(env.health("wt").last_error_message.find("wt-pass"), std::string::npos);
  EXPECT_FALSE(env.latest("wt", "CAISO_NORTH"));
}

TEST_F(FeedPollerTest, UkNationalRegionalAndPostcode) {
  env.fake_.set_uk_national(180);
  env.fake_.set_uk_region(13, 150);
  env.fake_.set_uk_region(12, 90, "RG10");
  env.configure(
      "feeds:\n"
      "  - {name: uk, type: carbon_intensity_uk, base_url: \"{BASE}\", poll_interval: 30m}\n"
      "regions:\n"
      "  - {name: europe-west2, feeds: [uk], location: GB}\n"
      "  - {name: london, feeds: [uk], location: \"13\"}\n"
      "  - {name: reading, feeds: [uk], location: RG10}\n");
  ASSERT_TRUE(env.poll("uk")) << env.health("uk").last_error_message;
  auto national = env.latest("uk", "GB");
  ASSERT_TRUE(national);
  EXPECT_EQ(national->step, Seconds{1800});
  EXPECT_FALSE(national->estimated);  // a real actual from pt24h
  auto fc = env.store_->forecast("uk", "GB", kFeedTestStart, kFeedTestStart + hours(72));
  ASSERT_TRUE(fc);
  EXPECT_EQ(fc->size(), 96u);
  auto london = env.latest("uk", "13");
  ASSERT_TRUE(london);
  EXPECT_TRUE(london->estimated);  // regional: the current slot's forecast stands in
  EXPECT_EQ(london->gco2_per_kwh, 150);
  auto reading = env.latest("uk", "RG10");
  ASSERT_TRUE(reading);
  EXPECT_EQ(reading->gco2_per_kwh, 90);
  const auto targets = env.fake_.targets();
  EXPECT_TRUE(std::any_of(targets.begin(), targets.end(), [](const std::string& t) {
    return t == "/intensity/2026-11-26T18:00Z/fw48h";  // minute precision, snapped slot
  }));
}

TEST_F(FeedPollerTest, GcpDatasetIsAnAlwaysFreshAnnualAverage) {
  env.configure("feeds:\n  - {name: annual, type: gcp_region_dataset, file: " + kSource +
                "/data/gcp-regions.csv}\n"
                "regions:\n  - {name: asia-east1, feeds: [annual], location: TW}\n"
                "  - {name: nowhere-1, feeds: [annual]}\n");
  auto status = env.poll("annual");
  ASSERT_FALSE(status);  // nowhere-1 is not in the dataset
  EXPECT_EQ(status.error().code, "feed_unknown_location");
  auto latest = env.latest("annual", "asia-east1");  // keyed by region name, not location
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->gco2_per_kwh, 439.29);  // data/gcp-regions.csv, asia-east1
  EXPECT_EQ(latest->signal, SignalType::annual_average);
  env.advance(hours(24 * 30));
  auto chain = resolve_region(env.config_, env.config_.regions[0], *env.store_, env.clock_.now());
  ASSERT_TRUE(chain);
  EXPECT_TRUE(chain->winner);
}

// Traces are keyed like the live feeds: by the region's location (here GB).
TEST_F(FeedPollerTest, TraceFileReplaysActualsUpToNowAndForecastAfter) {
  const std::string csv =
      "region,timestamp,gco2_per_kwh\n"
      "GB,2026-11-26T16:00:00Z,100\n"
      "GB,2026-11-26T17:00:00Z,110\n"
      "GB,2026-11-26T18:00:00Z,120\n"
      "GB,2026-11-26T19:00:00Z,130\n"
      "GB,2026-11-26T20:00:00Z,140\n";
  write_file(env.dir_ / "trace.csv", csv);
  env.configure(
      "feeds:\n  - {name: replay, type: trace_file, actuals: " + (env.dir_ / "trace.csv").string() +
      "}\nregions:\n  - {name: europe-west2, feeds: [replay], location: GB}\n");
  ASSERT_TRUE(env.poll("replay")) << env.health("replay").last_error_message;
  auto latest = env.latest("replay", "GB");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->gco2_per_kwh, 120);  // 18:00 <= now (18:10) < 19:00
  auto fc = env.store_->forecast("replay", "GB", kFeedTestStart, kFeedTestStart + hours(5));
  ASSERT_TRUE(fc);
  // The forecast holds the slot covering now (18:00) and the ones after it.
  ASSERT_EQ(fc->size(), 3u);
  EXPECT_EQ((*fc)[0].gco2_per_kwh, 120);
  EXPECT_EQ((*fc)[1].gco2_per_kwh, 130);
  EXPECT_EQ((*fc)[1].issued_at, *parse_rfc3339("2026-11-26T18:00:00Z"));
  env.advance(hours(1));
  ASSERT_TRUE(env.poll("replay"));
  EXPECT_EQ(env.latest("replay", "GB")->gco2_per_kwh, 130);

  // A broken trace stores nothing and names the line.
  write_file(env.dir_ / "trace.csv", csv + "GB,later,1\n");
  env.advance(hours(1));
  auto broken = env.poll("replay");
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().details.at(0).line, 7);
  EXPECT_EQ(env.latest("replay", "GB")->gco2_per_kwh, 130);
}

// --- bad data: each case stores nothing from the response, counts, logs once ------------

struct BadCase {
  const char* name;
  FakeFault fault;
  FakeZone zone;
  const char* code;
};

class FeedBadDataTest : public ::testing::TestWithParam<BadCase> {
 protected:
  FeedTestEnv env;
};

TEST_P(FeedBadDataTest, StoresNothingCountsAndLogsOncePerEpisode) {
  const auto& c = GetParam();
  env.fake_.set_emaps_zone("FR", zone(120, 33, 96));
  env.configure(emaps_config(false));
  ASSERT_TRUE(env.poll("emaps"));  // a good first poll fills the cache
  const auto good = env.latest("emaps", "FR");
  ASSERT_TRUE(good);

  env.advance(hours(1));
  env.fake_.set_emaps_zone("FR", c.zone);
  env.fake_.inject("/v4/carbon-intensity/latest", c.fault);
  FeedLogCapture logs;
  for (int i = 0; i < 3; ++i) {
    auto status = env.poll("emaps");
    ASSERT_FALSE(status) << c.name;
    EXPECT_EQ(status.error().code, c.code) << c.name << ": " << status.error().message;
    env.advance(minutes(1));
  }
  // Nothing of the bad responses was stored: the newest actual is still the first one.
  EXPECT_EQ(env.latest("emaps", "FR"), good) << c.name;
  const auto& h = env.health("emaps");
  EXPECT_EQ(h.consecutive_failures, 3);
  EXPECT_EQ(h.errors_by_code.at(c.code), 3u);
  EXPECT_EQ(h.last_error_code, c.code);
  EXPECT_EQ(logs.count("feed emaps failing"), 1) << logs.text();

  // The episode ends when the feed answers properly again.
  env.fake_.clear_faults();
  env.fake_.set_emaps_zone("FR", zone(90, 40, 97));
  ASSERT_TRUE(env.poll("emaps"));
  EXPECT_EQ(env.latest("emaps", "FR")->gco2_per_kwh, 90);
  EXPECT_EQ(env.health("emaps").consecutive_failures, 0);
  EXPECT_EQ(logs.count("feed emaps recovered after 3 failed polls"), 1);
}

FakeFault body(std::string text, std::string type = "application/json") {
  FakeFault f;
  f.body = std::move(text);
  f.content_type = std::move(type);
  return f;
}
FakeFault status(int code) {
  FakeFault f;
  f.status = code;
  return f;
}

const FakeZone kNormal = zone(120, 33, 96);

INSTANTIATE_TEST_SUITE_P(
    Cases, FeedBadDataTest,
    ::testing::Values(
        BadCase{"malformed", body(R"({"zone": "FR", "carbonIntensity": 12)"), kNormal,
                "bad_feed_data"},
        BadCase{
            "null_field",
            body(
                R"({"zone": "FR", "carbonIntensity": null, "datetime": "2026-11-26T19:00:00.000Z"})"),
            kNormal, "bad_feed_data"},
        BadCase{"missing_field", body(R"({"zone": "FR", "datetime": "2026-11-26T19:00:00.000Z"})"),
                kNormal, "bad_feed_data"},
        BadCase{"negative", FakeFault{}, zone(-4, {}, {}), "bad_feed_data"},
        BadCase{"absurd", FakeFault{}, zone(2600, {}, {}), "bad_feed_data"},
        BadCase{"wrong_zone", FakeFault{}, zone(120, {}, {}, "DE"), "bad_feed_data"},
        BadCase{"html_200", body("<html><body>Maintenance</body></html>", "text/html"), kNormal,
                "bad_feed_data"},
        BadCase{"html_502",
                [] {
                  auto f = body("<html><h1>502 Bad Gateway</h1></html>", "text/html");
                  f.status = 502;
                  return f;
                }(),
                kNormal, "feed_http_status"},
        BadCase{"truncated",
                [] {
                  FakeFault f;
                  f.truncate = true;
                  return f;
                }(),
                kNormal, "http_protocol"},
        BadCase{"closed",
                [] {
                  FakeFault f;
                  f.close = true;
                  return f;
                }(),
                kNormal, "http_protocol"},
        BadCase{"slow",
                [] {
                  FakeFault f;
                  f.delay = std::chrono::milliseconds(1500);  // timeout: 1s
                  return f;
                }(),
                kNormal, "http_timeout"},
        BadCase{"http_500", status(500), kNormal, "feed_http_status"},
        BadCase{"http_429",
                [] {
                  auto f = status(429);
                  f.retry_after = 120;
                  return f;
                }(),
                kNormal, "feed_rate_limited"}),
    [](const ::testing::TestParamInfo<BadCase>& param) { return std::string(param.param.name); });

TEST_F(FeedPollerTest, TlsFailureIsAFeedErrorNotACrash) {
  env.fake_.set_emaps_zone("FR", zone(120, 33, 96));
  // https to a plain-http server: the handshake fails.
  auto config = emaps_config(false);
  config.replace(config.find("\"{BASE}\""), 8,
                 "\"https://127.0.0.1:" + std::to_string(env.fake_.port()) + "\"");
  env.configure(config);
  FeedLogCapture logs;
  auto status = env.poll("emaps");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, "http_tls_failed");
  EXPECT_FALSE(env.latest("emaps", "FR"));
  EXPECT_EQ(logs.count("feed emaps failing"), 1);
}

TEST_F(FeedPollerTest, RetryAfterAndExponentialBackoffSetTheNextPoll) {
  env.fake_.set_emaps_zone("FR", zone(120, 33, 96));
  env.configure(emaps_config(false));
  FakeFault limited;
  limited.status = 429;
  limited.retry_after = 600;
  limited.times = 1;
  env.fake_.inject("/v4/carbon-intensity/latest", limited);
  ASSERT_FALSE(env.poll("emaps"));
  auto next = *env.health("emaps").next_poll;
  EXPECT_GE(next, kFeedTestStart + Seconds{600});  // Retry-After is a floor
  EXPECT_LE(next, kFeedTestStart + Seconds{660});  // plus at most 10 % jitter

  env.fake_.inject("/v4/carbon-intensity/latest", status(500));
  std::vector<Seconds> waits;
  for (int i = 0; i < 9; ++i) {
    env.advance(minutes(1));
    ASSERT_FALSE(env.poll("emaps"));
    waits.push_back(*env.health("emaps").next_poll - env.clock_.now());
  }
  // Failures 2..10: 60 s, 120 s, ... doubling, capped at 1 h, each plus <= 10 % jitter.
  for (std::size_t i = 0; i < waits.size(); ++i) {
    const auto base = std::min<long long>(30LL << (i + 1), 3600);
    EXPECT_GE(waits[i].count(), base) << i;
    EXPECT_LE(waits[i].count(), base + base / 10) << i;
  }
  env.fake_.clear_faults();
  env.advance(minutes(1));
  ASSERT_TRUE(env.poll("emaps"));
  const auto healthy_wait = *env.health("emaps").next_poll - env.clock_.now();
  EXPECT_GE(healthy_wait, Seconds{15 * 60});  // back to poll_interval
  EXPECT_LE(healthy_wait, Seconds{15 * 66});
}

TEST_F(FeedPollerTest, DailyBudgetStopsPollingUntilMidnight) {
  env.fake_.set_emaps_zone("FR", zone(120, 33, 96));
  env.configure(emaps_config(false, ", daily_budget: 5"));
  ASSERT_TRUE(env.poll("emaps"));  // latest + breakdown + history = 3 calls
  EXPECT_EQ(env.health("emaps").calls_today, 3);
  // The budget is spread over the day: 5 calls / 3 per poll -> one poll per day.
  EXPECT_GE(*env.health("emaps").next_poll, kFeedTestStart + hours(24));
  env.advance(minutes(15));
  ASSERT_TRUE(env.poll("emaps"));  // a manual poll still may use what is left: 2 calls
  EXPECT_EQ(env.health("emaps").calls_today, 5);
  env.advance(minutes(15));
  auto refused = env.poll("emaps");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "budget_exhausted");
  EXPECT_EQ(env.fake_.requests("/v4/carbon-intensity/latest"), 2);
  EXPECT_EQ(*env.health("emaps").next_poll,
            TimePoint{std::chrono::sys_days(std::chrono::year(2026) / 11 / 27)});
  env.advance(hours(6));  // the next UTC day
  ASSERT_TRUE(env.poll("emaps"));
  EXPECT_EQ(env.health("emaps").calls_today, 2);
}

boost::asio::awaitable<std::pair<Status, Status>> two_polls(FeedPoller& poller) {
  using namespace boost::asio::experimental::awaitable_operators;
  auto [a, b] = co_await (poller.poll_once("emaps") && poller.poll_once("emaps"));
  co_return std::pair<Status, Status>(a, b);
}

TEST_F(FeedPollerTest, PollsOfOneFeedNeverOverlap) {
  env.fake_.set_emaps_zone("FR", zone(120, 33, 96));
  env.configure(emaps_config(false));
  FakeFault slow;
  slow.delay = std::chrono::milliseconds(200);
  env.fake_.inject("/v4/carbon-intensity/latest", slow);
  auto [first, second] = run_on(env.io_, two_polls(*env.poller_));
  EXPECT_TRUE(first);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, "busy");
  EXPECT_EQ(env.fake_.requests("/v4/carbon-intensity/latest"), 1);
  EXPECT_FALSE(env.health("emaps").polling);
}

TEST_F(FeedPollerTest, ConnectionsPerHostAreBounded) {
  std::string regions;
  for (int i = 0; i < 8; ++i) {
    env.fake_.set_emaps_zone("Z" + std::to_string(i), zone(100.0 + i, {}, {}));
    regions += "  - {name: r" + std::to_string(i) + ", feeds: [emaps], location: Z" +
               std::to_string(i) + "}\n";
  }
  FakeFault slow;
  slow.delay = std::chrono::milliseconds(50);
  env.fake_.inject("/v4/", slow);
  HttpClientOptions options;
  options.max_connections_per_host = 3;
  env.configure(
      "feeds:\n  - {name: emaps, type: electricitymaps, base_url: \"{BASE}\", token_env: "
      "EM_TOKEN}\nregions:\n" +
          regions,
      options);
  ASSERT_TRUE(env.poll("emaps")) << env.health("emaps").last_error_message;
  EXPECT_LE(env.fake_.max_concurrent(), 3);
  EXPECT_GE(env.fake_.max_concurrent(), 2);  // the locations did run concurrently
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(env.latest("emaps", "Z" + std::to_string(i))->gco2_per_kwh, 100.0 + i);
  }
}

TEST_F(FeedPollerTest, FeedDownForHoursFallsBackThenRecovers) {
  env.fake_.set_emaps_zone("FR", zone(120, 33, 96));
  env.configure(emaps_config());
  ASSERT_TRUE(env.poll("emaps"));
  ASSERT_TRUE(env.poll("annual"));
  const auto& region = env.config_.regions[0];
  auto chain = resolve_region(env.config_, region, *env.store_, env.clock_.now());
  ASSERT_TRUE(chain && chain->winner);
  EXPECT_EQ(*chain->winner, 0u);

  env.fake_.inject("/v4/", status(503));
  bool fell_back = false;
  for (int step = 0; step < 12; ++step) {  // six hours, polled as the timer would
    env.advance(minutes(30));
    ASSERT_FALSE(env.poll("emaps"));
    chain = resolve_region(env.config_, region, *env.store_, env.clock_.now());
    ASSERT_TRUE(chain && chain->winner);
    const auto age = env.clock_.now() - hour_of(kFeedTestStart);
    if (age <= Seconds{3 * 3600}) {
      EXPECT_EQ(*chain->winner, 0u) << "cached data serves while fresh, step " << step;
    } else {
      EXPECT_EQ(*chain->winner, 1u) << "falls back to the annual dataset, step " << step;
      EXPECT_EQ(chain->signal, SignalType::annual_average);
      fell_back = true;
    }
  }
  EXPECT_TRUE(fell_back);
  EXPECT_EQ(env.health("emaps").consecutive_failures, 12);
  auto health = feeds_health(env.config_, *env.store_, *env.poller_, env.clock_.now());
  EXPECT_TRUE(health.degraded);
  auto regions = regions_json(env.config_, *env.store_, env.clock_.now());
  ASSERT_TRUE(regions);
  EXPECT_EQ((*regions)["regions"][0]["feed"], "annual");
  EXPECT_EQ((*regions)["regions"][0]["chain"][0]["status"], "stale");

  env.fake_.clear_faults();
  env.advance(minutes(30));
  ASSERT_TRUE(env.poll("emaps"));
  chain = resolve_region(env.config_, region, *env.store_, env.clock_.now());
  EXPECT_EQ(*chain->winner, 0u);
  EXPECT_EQ(env.health("emaps").consecutive_failures, 0);
  EXPECT_FALSE(feeds_health(env.config_, *env.store_, *env.poller_, env.clock_.now()).degraded);
}

namespace reload {

// A reloaded configuration as the daemon builds it on SIGHUP, with its own secrets.
struct Reloaded {
  Config config;
  ResolvedSecrets secrets;
};

Reloaded reloaded(const FeedTestEnv& env, std::string feeds_and_regions,
                  const std::string& token = "emaps-token") {
  for (auto pos = feeds_and_regions.find("{BASE}"); pos != std::string::npos;
       pos = feeds_and_regions.find("{BASE}")) {
    feeds_and_regions.replace(pos, 6, env.fake_.base_url());
  }
  auto config = parse_config("state_dir: " + env.dir_.path().string() + "\n" + feeds_and_regions,
                             "reload.yaml", feed_schemas());
  if (!config) throw std::runtime_error(to_string(config.error()));
  auto secrets = resolve_secrets(
      *config,
      [&token](const std::string& name) -> std::optional<std::string> {
        if (name == "EM_TOKEN") return token;
        return std::nullopt;
      },
      "");
  if (!secrets) throw std::runtime_error(to_string(secrets.error()));
  return {std::move(*config), std::move(*secrets)};
}

}  // namespace reload

TEST_F(FeedPollerTest, ReloadKeepsAnUnchangedFeedAndItsHealth) {
  env.fake_.set_emaps_zone("FR", zone(120));
  env.configure(emaps_config(false));
  ASSERT_TRUE(env.poll("emaps"));
  const FeedHealth* before = env.poller_->find("emaps");
  ASSERT_EQ(before->polls, 1u);

  auto same = reload::reloaded(env, emaps_config(false));
  env.poller_->reconfigure(same.config, same.secrets);

  const FeedHealth* after = env.poller_->find("emaps");
  EXPECT_EQ(after, before);  // the very same feed state, not a copy
  EXPECT_EQ(after->polls, 1u);
  EXPECT_TRUE(after->backfilled);
}

TEST_F(FeedPollerTest, ReloadRebuildsAChangedFeedAndUsesARotatedToken) {
  env.fake_.set_emaps_zone("FR", zone(120));
  env.configure(emaps_config(false));
  ASSERT_TRUE(env.poll("emaps"));
  EXPECT_EQ(env.fake_.last_headers("/v4/carbon-intensity/latest").at("auth-token"), "emaps-token");

  // The operator rotates the token: the fake now only accepts the new one.
  env.fake_.set_emaps_token("rotated-token");
  auto rotated = reload::reloaded(env, emaps_config(false), "rotated-token");
  env.poller_->reconfigure(rotated.config, rotated.secrets);
  EXPECT_EQ(env.poller_->find("emaps")->polls, 0u);  // a fresh feed state
  ASSERT_TRUE(env.poll("emaps")) << env.health("emaps").last_error_message;
  EXPECT_EQ(env.fake_.last_headers("/v4/carbon-intensity/latest").at("auth-token"),
            "rotated-token");
}

TEST_F(FeedPollerTest, ReloadAddsAndRemovesFeeds) {
  env.fake_.set_emaps_zone("FR", zone(120));
  env.fake_.set_uk_region(13, 150);
  env.configure(emaps_config(false));
  ASSERT_NE(env.poller_->find("annual"), nullptr);

  auto changed = reload::reloaded(
      env,
      "feeds:\n"
      "  - {name: emaps, type: electricitymaps, base_url: \"{BASE}\", token_env: EM_TOKEN, "
      "poll_interval: 15m, timeout: 1s, forecast: false}\n"
      "  - {name: uk, type: carbon_intensity_uk, base_url: \"{BASE}\", poll_interval: 30m}\n"
      "regions:\n"
      "  - {name: europe-west9, feeds: [emaps], location: FR, pue: 1.09}\n"
      "  - {name: europe-west2, feeds: [uk], location: \"13\", pue: 1.09}\n");
  env.poller_->reconfigure(changed.config, changed.secrets);

  EXPECT_EQ(env.poller_->find("annual"), nullptr);
  ASSERT_NE(env.poller_->find("uk"), nullptr);
  EXPECT_EQ(env.poller_->find("uk")->locations, std::vector<std::string>{"13"});
  ASSERT_TRUE(env.poll("uk")) << env.health("uk").last_error_message;
  EXPECT_EQ(env.latest("uk", "13")->gco2_per_kwh, 150);
  EXPECT_FALSE(env.poll("annual"));
}

// A simulated day with every feed failing in turn (issue 8): errors, timeouts, garbage and a
// 429 storm, then all at once, then none. Polled as the timers would, every feed's health says
// after each poll exactly whether that poll failed, each region falls back to the annual data
// only once its feed's cached data is stale and returns to it after recovery, and the daemon's
// health is degraded exactly while some feed is failing.
TEST_F(FeedPollerTest, ADayOfEveryFeedFailingInTurnFallsBackRecoversAndTellsTheTruth) {
  env.fake_.set_emaps_zone("FR", zone(120, 33, 96));
  env.fake_.set_uk_national(180);
  env.fake_.set_watttime_region("CAISO_NORTH", 900);
  env.configure(
      "feeds:\n"
      "  - {name: emaps, type: electricitymaps, base_url: \"{BASE}\", token_env: EM_TOKEN, "
      "poll_interval: 15m, timeout: 1s}\n"
      "  - {name: uk, type: carbon_intensity_uk, base_url: \"{BASE}\", poll_interval: 30m, "
      "timeout: 1s}\n"
      "  - {name: wt, type: watttime, base_url: \"{BASE}\", username_env: WT_USER, "
      "password_env: WT_PASS, poll_interval: 15m, timeout: 1s}\n"
      "  - {name: annual, type: gcp_region_dataset, file: " +
      kSource +
      "/data/gcp-regions.csv}\n"
      "regions:\n"
      "  - {name: europe-west9, feeds: [emaps, annual], location: FR}\n"
      "  - {name: europe-west2, feeds: [uk, annual], location: GB}\n"
      "  - {name: us-west1, feeds: [wt, annual], location: CAISO_NORTH}\n");
  ASSERT_TRUE(env.poll("annual"));
  for (const char* feed : {"emaps", "uk", "wt"}) {
    ASSERT_TRUE(env.poll(feed)) << feed << ": " << env.health(feed).last_error_message;
  }
  env.advance(minutes(15));

  struct Primary {
    std::string feed;
    std::vector<std::string> prefixes;  // the fake's paths of this feed
    std::size_t region;
  };
  const std::vector<Primary> primaries = {
      {"emaps", {"/v4/carbon-intensity", "/v4/power-breakdown"}, 0},
      {"uk", {"/intensity", "/regional"}, 1},
      {"wt", {"/v3/signal-index", "/v3/forecast", "/v3/historical"}, 2}};
  FakeFault timeout;
  timeout.delay = std::chrono::milliseconds(1300);
  FakeFault garbage = body("<html><body>502 Bad Gateway</body></html>", "text/html");
  FakeFault storm = status(429);
  storm.retry_after = 3600;
  // Four-hour windows: which feeds fail and how.
  const std::vector<std::map<std::string, FakeFault>> windows = {
      {{"emaps", status(500)}},
      {{"uk", timeout}},
      {{"wt", garbage}},
      {{"emaps", storm}},
      {{"emaps", status(503)}, {"uk", status(500)}, {"wt", status(500)}},
      {}};

  std::map<std::string, TimePoint> last_success;
  for (const auto& p : primaries)
    last_success[p.feed] = env.clock_.now() - minutes(15);
  std::map<std::string, bool> failed_last;
  int checks = 0;
  int fallbacks = 0;
  int storm_polls = 0;
  for (int step = 0; step < 24 * 4; ++step) {  // 15-minute steps through the day
    const auto& window = windows[static_cast<std::size_t>(step / 16)];
    if (step % 16 == 0) {
      env.fake_.clear_faults();
      for (const auto& [feed, fault] : window) {
        for (const auto& p : primaries) {
          if (p.feed != feed) continue;
          for (const auto& prefix : p.prefixes)
            env.fake_.inject(prefix, fault);
        }
      }
    }
    for (const auto& p : primaries) {
      const auto& h = env.health(p.feed);
      if (h.next_poll && *h.next_poll > env.clock_.now()) continue;  // its timer is not due
      const bool ok = static_cast<bool>(env.poll(p.feed));
      if (p.feed == "emaps" && step / 16 == 3) ++storm_polls;
      const bool faulty = window.count(p.feed) > 0;
      EXPECT_EQ(ok, !faulty) << p.feed << " at step " << step;
      // Health tells the truth about the poll just made.
      EXPECT_EQ(env.health(p.feed).failing(), !ok) << p.feed << " at step " << step;
      if (!ok) {
        EXPECT_FALSE(env.health(p.feed).last_error_code.empty());
      }
      if (ok) last_success[p.feed] = env.clock_.now();
      failed_last[p.feed] = !ok;
      ++checks;
    }
    bool any_failing = false;
    for (const auto& [feed, failed] : failed_last)
      any_failing = any_failing || failed;
    EXPECT_EQ(feeds_health(env.config_, *env.store_, *env.poller_, env.clock_.now()).degraded,
              any_failing)
        << "step " << step;
    for (const auto& p : primaries) {
      auto chain =
          resolve_region(env.config_, env.config_.regions[p.region], *env.store_, env.clock_.now());
      ASSERT_TRUE(chain && chain->winner);
      const auto since = env.clock_.now() - last_success[p.feed];
      // Fresh cached data keeps serving; stale data gives way to the annual dataset (the
      // boundary itself depends on how old the feed's latest slot was, so it is not asserted).
      if (since <= Seconds{90 * 60}) {
        EXPECT_EQ(*chain->winner, 0u) << p.feed << " at step " << step;
      }
      if (since >= Seconds{5 * 3600}) {
        EXPECT_EQ(*chain->winner, 1u) << p.feed << " at step " << step;
        ++fallbacks;
      }
    }
    env.advance(minutes(15));
  }
  EXPECT_GT(checks, 100);
  // The 429 storm (window 3) was honoured: about one poll per Retry-After hour, not one per
  // 15-minute interval.
  EXPECT_LE(storm_polls, 5);
  EXPECT_GE(storm_polls, 3);
  EXPECT_GT(fallbacks, 0) << "no feed was down long enough to fall back";
  // After the day every feed is healthy and every region is served by its own feed again.
  for (const auto& p : primaries) {
    EXPECT_EQ(env.health(p.feed).consecutive_failures, 0) << p.feed;
    auto chain =
        resolve_region(env.config_, env.config_.regions[p.region], *env.store_, env.clock_.now());
    ASSERT_TRUE(chain && chain->winner);
    EXPECT_EQ(*chain->winner, 0u) << p.feed;
  }
  EXPECT_FALSE(feeds_health(env.config_, *env.store_, *env.poller_, env.clock_.now()).degraded);
}

}  // namespace
}  // namespace gridshift::testing

namespace gridshift {
namespace {

// A 429's Retry-After in either form sets the poll's floor: seconds, or an HTTP date judged
// against the poll's time; more than a day is capped at a day, and a malformed value is none.
TEST(FeedRetryAfter, SecondsOrAnHttpDateCappedAtADay) {
  auto floor_for = [](const std::string& header) {
    FetchResult result;
    result.polled_at = *parse_rfc3339("2026-11-26T18:00:00Z");
    HttpResponse response;
    response.status = 429;
    response.headers["retry-after"] = header;
    EXPECT_FALSE(wire::body_or_error(Result<HttpResponse>(response), "feed x", result));
    EXPECT_EQ(result.errors.size(), 1u);
    return result.retry_after;
  };
  EXPECT_EQ(floor_for("120"), Seconds{120});
  EXPECT_EQ(floor_for("Thu, 26 Nov 2026 18:05:00 GMT"), Seconds{300});
  EXPECT_EQ(floor_for("Thu, 26 Nov 2026 17:00:00 GMT"), Seconds{0});  // already past
  EXPECT_EQ(floor_for("999999"), Seconds{86400});
  EXPECT_EQ(floor_for("soon"), Seconds{0});
}

}  // namespace
}  // namespace gridshift
