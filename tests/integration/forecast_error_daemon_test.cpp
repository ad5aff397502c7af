// The forecast-error model end to end (docs/scheduling.md): gridshiftd on a trace_file feed whose
// forecast file runs 40 g/kWh above the actuals, on a fast clock. The daemon scores its stored
// forecast snapshots as their hours pass, shows the bias in GET /v1/regions, and the corrected
// forecast turns "start now" into "wait for the cleaner hours".
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>
#include <string>

#include "promise_env.h"
#include "support/grafana.h"
#include "support/hourly_series.h"

namespace gridshift::testing {
namespace {

using std::chrono::hours;

constexpr int kRate = 1800;  // simulated seconds per real second: an hour every 2 s
constexpr double kBias = 40;

TEST(ForecastErrorDaemon, ABiasInTheForecastIsLearnedShownAndChangesADecision) {
  TempDir dir;
  const TimePoint start = std::chrono::floor<hours>(std::chrono::system_clock::now());
  // Actuals 150 until start + 14 h, then 140; the forecast says 40 more, hour by hour.
  auto actual = [&](int h) { return h < 6 + 14 ? 150.0 : 140.0; };  // the trace starts at -6 h
  write_file(dir / "actuals.csv", trace_csv({"GB"}, start - hours(6), 60,
                                            [&](std::size_t, int h) { return actual(h); }));
  write_file(dir / "forecast.csv", trace_csv({"GB"}, start - hours(6), 60, [&](std::size_t, int h) {
               return actual(h) + kBias;
             }));
  const std::string socket = (dir / "gridshift.sock").string();
  write_file(dir / "config.yaml",
             "state_dir: " + (dir / "state").string() + "\nsocket: {path: " + socket +
                 ", mode: \"0660\"}\nscheduler: {tick: 1h}\nfeeds:\n"
                 "  - {name: replay, type: trace_file, actuals: " +
                 (dir / "actuals.csv").string() + ", forecast: " + (dir / "forecast.csv").string() +
                 "}\nregions:\n  - {name: europe-west2, feeds: [replay], location: GB}\n"
                 "dispatch: {type: dry_run}\n");
  auto daemon = start_logged_daemon(dir.path(), dir / "config.yaml", 0,
                                    {{"GRIDSHIFT_TEST_CLOCK_RATE", std::to_string(kRate)},
                                     {"GRIDSHIFT_TEST_CLOCK_START", format_rfc3339(start)}});
  ASSERT_TRUE(wait_serving(*daemon)) << daemon->stderr_text();

  // A 1-hour job due at start + 16 h: on the raw forecast the present (150) beats every later
  // hour (190, then 180 from start + 14 h), so it would start now.
  const nlohmann::json spec = {{"name", "biased"},
                               {"duration", "1h"},
                               {"deadline", format_rfc3339(start + hours(16))},
                               {"power_watts", 1000}};
  const auto early = call(socket, "POST", "/v1/plan", spec.dump());
  ASSERT_EQ(early.status, 200) << early.body;
  EXPECT_EQ(early.json()["action"], "dispatch") << early.body;
  EXPECT_EQ(early.json()["reason_code"], "best_starts_now") << early.body;

  // Each hourly snapshot adds a scored point per hour that passed: after 7 hours, 28 points,
  // enough (24) to act on. Every one of them ran exactly 40 high: bias 40, MAE 40.
  nlohmann::json error;
  ASSERT_TRUE(wait_until(
      [&] {
        const auto regions = call(socket, "GET", "/v1/regions");
        if (regions.status != 200) return false;
        error = regions.json()["regions"][0]["forecast_error"];
        return error.is_object() && error["samples"].get<int>() >= 24;
      },
      std::chrono::seconds(40)))
      << error.dump() << daemon->stderr_text();
  EXPECT_DOUBLE_EQ(error["bias_g"].get<double>(), kBias);
  EXPECT_DOUBLE_EQ(error["mae_g"].get<double>(), kBias);
  ASSERT_FALSE(error["by_lead"].empty());
  EXPECT_EQ(error["by_lead"][0]["lead"], "0-1h");
  EXPECT_DOUBLE_EQ(error["by_lead"][0]["bias_g"].get<double>(), kBias);

  // Corrected, the hours from start + 14 h read 140 < 150: the job waits for them.
  const auto late = call(socket, "POST", "/v1/plan", spec.dump());
  ASSERT_EQ(late.status, 200) << late.body;
  EXPECT_EQ(late.json()["action"], "hold") << late.body;
  EXPECT_EQ(late.json()["start"], format_rfc3339(start + hours(14))) << late.body;
  EXPECT_DOUBLE_EQ(late.json()["score"].get<double>(), 140) << late.body;

  const auto metrics = call(socket, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find(
                "gridshift_forecast_mae_gco2_per_kwh{region=\"europe-west2\",feed=\"replay\"} 40"),
            std::string::npos)
      << metrics.body;
  // The Grafana dashboard's forecast-error panel selects labels these series really have.
  const auto problems = dashboard_problems(shipped_dashboard(), metrics.body);
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
}

}  // namespace
}  // namespace gridshift::testing
