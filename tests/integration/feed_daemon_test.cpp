// The real gridshiftd polling the fake feed server on 127.0.0.1: readings land in SQLite, and
// `gridshift regions --json`, the forecast and /v1/health (raw HTTP over the socket) show fresh
// values, forecasts and the power breakdown; a feed serving garbage leaves the daemon serving
// from the fallback chain.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "fakes/fake_feed_server.h"
#include "storage/sqlite/sqlite_store.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

using nlohmann::json;

const std::string kDaemon = GRIDSHIFTD_PATH;
const std::string kCli = GRIDSHIFT_CLI_PATH;
const std::string kSource = GRIDSHIFT_SOURCE_DIR;

// One raw HTTP/1.1 GET over the Unix socket; returns the body ("" on failure).
std::string socket_get(const std::string& socket_path, const std::string& target) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path.c_str());
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        "GET " + target + " HTTP/1.1\r\nHost: gridshift\r\nConnection: close\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = ::read(fd, buffer, sizeof(buffer))) > 0;) {
        response.append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

class FeedDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeZone fr;
    fr.intensity = 56;
    fr.renewable_percent = 33;
    fr.fossil_free_percent = 96;
    fake_.set_emaps_zone("FR", fr);
    fake_.set_uk_national(180);
    fake_.set_watttime_region("CAISO_NORTH", 900);
    // The daemon runs on the wall clock: the fake answers around the real now.
    fake_.set_now(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
    write_file(dir_ / "config.yaml",
               "state_dir: " + (dir_ / "state").string() + "\n" +
                   "socket: {path: " + socket_path() +
                   "}\n"
                   "feeds:\n"
                   "  - {name: emaps, type: electricitymaps, base_url: \"" +
                   fake_.base_url() +
                   "\", token_env: EM_TOKEN, forecast: true, timeout: 2s}\n"
                   "  - {name: uk, type: carbon_intensity_uk, base_url: \"" +
                   fake_.base_url() +
                   "\"}\n"
                   "  - {name: wt, type: watttime, base_url: \"" +
                   fake_.base_url() +
                   "\", username_env: WT_USER, password_env: WT_PASS}\n"
                   "  - {name: annual, type: gcp_region_dataset, file: " +
                   kSource +
                   "/data/gcp-regions.csv}\n"
                   "regions:\n"
                   "  - {name: europe-west9, feeds: [emaps, annual], location: FR, pue: 1.09}\n"
                   "  - {name: europe-west2, feeds: [uk, annual], location: GB}\n"
                   "  - {name: us-west1, feeds: [wt, annual], location: CAISO_NORTH}\n"
                   "dispatch: {type: dry_run}\n");
  }

  std::string socket_path() const { return (dir_ / "gridshift.sock").string(); }

  std::unique_ptr<ChildProcess> start() {
    ProcessOptions options;
    options.argv = {kDaemon, "--config", (dir_ / "config.yaml").string()};
    options.cwd = dir_.path();
    options.set_env = {{"EM_TOKEN", "emaps-token"}, {"WT_USER", "wt-user"}, {"WT_PASS", "wt-pass"}};
    options.unset_env = {"JOURNAL_STREAM", "HTTPS_PROXY", "HTTP_PROXY", "https_proxy",
                         "http_proxy"};
    options.stdout_path = dir_ / "daemon.out";
    options.stderr_path = dir_ / "daemon.err";
    return std::make_unique<ChildProcess>(options);
  }

  json regions_cli() {
    auto r = run_command({kCli, "--socket", socket_path(), "regions", "--json"}, dir_.path());
    if (r.exit_code != 0) return json();
    return json::parse(r.out, nullptr, false);
  }

  bool all_fresh(const json& regions, const std::vector<std::string>& feeds) {
    if (!regions.is_object() || !regions.contains("regions")) return false;
    for (std::size_t i = 0; i < feeds.size(); ++i) {
      if (regions["regions"][i]["feed"] != feeds[i]) return false;
    }
    return true;
  }

  TempDir dir_;
  FakeFeedServer fake_;
};

TEST_F(FeedDaemonTest, PolledReadingsLandInSqliteAndShowInRegions) {
  auto daemon = start();
  json regions;
  ASSERT_TRUE(wait_until([&] {
    regions = regions_cli();
    return all_fresh(regions, {"emaps", "uk", "wt"});
  })) << daemon->stderr_text()
      << regions.dump();

  const auto& fr = regions["regions"][0];
  EXPECT_EQ(fr["intensity"], 56.0);
  EXPECT_EQ(fr["signal"], "average");
  EXPECT_EQ(fr["stale"], false);
  EXPECT_EQ(fr["renewable_percent"], 33.0);
  EXPECT_EQ(fr["fossil_free_percent"], 96.0);
  // The consumption by source from the power breakdown (the fake's 41,230 MW nuclear, 7,410
  // wind and 2,310 gas of 50,950), stored with the reading and shown by `regions --mix`.
  ASSERT_TRUE(fr["mix"].is_object()) << fr.dump(2);
  EXPECT_NEAR(fr["mix"]["nuclear"].get<double>(), 41230.0 / 50950.0 * 100.0, 1e-9);
  EXPECT_NEAR(fr["mix"]["wind"].get<double>(), 7410.0 / 50950.0 * 100.0, 1e-9);
  EXPECT_TRUE(regions["regions"][1]["mix"].is_null());  // the UK feed gives no breakdown
  const auto mix = run_command({kCli, "--socket", socket_path(), "regions", "--mix"}, dir_.path());
  EXPECT_EQ(mix.exit_code, 0) << mix.err;
  EXPECT_NE(mix.out.find("nuclear 80.9 %, wind 14.5 %, gas 4.5 %"), std::string::npos) << mix.out;
  EXPECT_TRUE(fr["forecast_horizon"].is_string());
  EXPECT_EQ(regions["regions"][2]["signal"], "marginal");
  EXPECT_NEAR(regions["regions"][2]["intensity"].get<double>(), 900 * 0.453592, 1e-6);

  // The readings are in the database (a second connection, as an operator would look).
  auto store = SqliteStore::open((dir_ / "state" / "gridshift.db").string());
  ASSERT_TRUE(store) << to_string(store.error());
  auto latest = (*store)->latest_actual("emaps", "FR");
  ASSERT_TRUE(latest && *latest);
  EXPECT_EQ((**latest).gco2_per_kwh, 56);
  EXPECT_EQ((**latest).renewable_percent, 33);
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto history = (*store)->actuals("emaps", "FR", now - std::chrono::hours(26), now);
  ASSERT_TRUE(history);
  EXPECT_GE(history->size(), 24u);  // 24 h backfill at start
  auto annual = (*store)->latest_actual("annual", "europe-west9");
  ASSERT_TRUE(annual && *annual);
  EXPECT_EQ((**annual).signal, SignalType::annual_average);

  auto forecast =
      json::parse(socket_get(socket_path(), "/v1/regions/europe-west2/forecast"), nullptr, false);
  ASSERT_TRUE(forecast.is_object()) << daemon->stderr_text();
  EXPECT_EQ(forecast["feed"], "uk");
  EXPECT_EQ(forecast["points"].size(), 96u);
  auto health = json::parse(socket_get(socket_path(), "/v1/health"), nullptr, false);
  ASSERT_TRUE(health.is_object());
  ASSERT_EQ(health["feeds"].size(), 4u);
  EXPECT_EQ(health["feeds"][0]["name"], "emaps");
  EXPECT_EQ(health["feeds"][0]["status"], "ok");
  EXPECT_EQ(health["status"], "ok");

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
  // The WattTime password never reaches the log.
  EXPECT_EQ(daemon->stderr_text().find("wt-pass"), std::string::npos);
}

TEST_F(FeedDaemonTest, GarbageFromAFeedLeavesTheDaemonServingFromTheChain) {
  FakeFault html;
  html.status = 200;
  html.body = "<html><body>Service unavailable</body></html>";
  html.content_type = "text/html";
  fake_.inject("/v4/", html);  // Electricity Maps
  fake_.inject("/v3/", html);  // WattTime
  auto daemon = start();
  json regions;
  ASSERT_TRUE(wait_until([&] {
    regions = regions_cli();
    return all_fresh(regions, {"annual", "uk"});
  })) << daemon->stderr_text()
      << regions.dump();
  EXPECT_EQ(regions["regions"][0]["signal"], "annual_average");
  EXPECT_EQ(regions["regions"][0]["chain"][0]["status"], "missing");
  auto health = json::parse(socket_get(socket_path(), "/v1/health"), nullptr, false);
  ASSERT_TRUE(health.is_object());
  EXPECT_EQ(health["status"], "degraded");
  EXPECT_EQ(health["feeds"][0]["status"], "failing");
  EXPECT_NE(health["feeds"][0]["last_error_message"].get<std::string>().find("HTML"),
            std::string::npos)
      << health.dump();
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
  const auto log = daemon->stderr_text();
  EXPECT_NE(log.find("feed emaps failing"), std::string::npos);
}

TEST_F(FeedDaemonTest, ASighupAddsAFeedAndARegionWithoutARestart) {
  auto daemon = start();
  ASSERT_TRUE(wait_until([&] {
    return all_fresh(regions_cli(), {"emaps", "uk", "wt"});
  })) << daemon->stderr_text();

  // The operator adds a region polled by a new feed (the UK feed for a regional id).
  fake_.set_uk_region(13, 150);
  auto config = read_file(dir_ / "config.yaml");
  const std::string anchor = "regions:\n";
  config.insert(
      config.find(anchor),
      "  - {name: uk-london, type: carbon_intensity_uk, base_url: \"" + fake_.base_url() + "\"}\n");
  config.insert(config.find(anchor) + anchor.size(),
                "  - {name: europe-west1, feeds: [uk-london], location: \"13\"}\n");
  write_file(dir_ / "config.yaml", config);
  daemon->signal(SIGHUP);

  json regions;
  ASSERT_TRUE(wait_until([&] {
    regions = regions_cli();
    return all_fresh(regions, {"uk-london", "emaps", "uk", "wt"});
  })) << daemon->stderr_text()
      << regions.dump(2);
  EXPECT_EQ(regions["regions"][0]["name"], "europe-west1");
  EXPECT_EQ(regions["regions"][0]["intensity"], 150.0);
  EXPECT_NE(daemon->stderr_text().find("feed uk-london: added by the reload"), std::string::npos);
  // The unchanged feeds kept polling on their schedule: no second history backfill.
  EXPECT_EQ(fake_.requests("/v4/carbon-intensity/history"), 1);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
}

}  // namespace
}  // namespace gridshift::testing
