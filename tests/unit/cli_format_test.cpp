// The CLI's renderings on canned API JSON (docs/api.md shapes): ages, local times, grams, the
// tables and the forecast chart with its cleanest window.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "cli/commands.h"
#include "cli/format.h"

namespace gridshift {
namespace {

TimePoint at(int day, int hour, int minute = 0) {
  using namespace std::chrono;
  return sys_days{year{2026} / November / day} + hours{hour} + minutes{minute};
}

class CliFormat : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tz = std::getenv("TZ");
    if (tz != nullptr) saved_tz_ = tz;
    ::setenv("TZ", "CET-1", 1);  // fixed +0100, no DST rules
    ::tzset();
  }
  void TearDown() override {
    if (saved_tz_) {
      ::setenv("TZ", saved_tz_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  std::optional<std::string> saved_tz_;
};

TEST_F(CliFormat, AgesAreShortAndSayWhichWay) {
  EXPECT_EQ(format_age(Seconds(3)), "just now");
  EXPECT_EQ(format_age(Seconds(45)), "45 s ago");
  EXPECT_EQ(format_age(Seconds(4 * 60 + 20)), "4 min ago");
  EXPECT_EQ(format_age(Seconds(3 * 3600 + 5)), "3 h ago");
  EXPECT_EQ(format_age(Seconds(3 * 86400)), "3 d ago");
  EXPECT_EQ(format_age(Seconds(-600)), "in 10 min");
}

TEST_F(CliFormat, TimesAreLocalWithTheOffset) {
  EXPECT_EQ(format_local_time(at(26, 18)), "2026-11-26 19:00 +0100");
  EXPECT_EQ(format_time_field("2026-11-26T18:00:00Z", at(26, 18, 4)),
            "2026-11-26 19:00 +0100 (4 min ago)");
  EXPECT_EQ(format_time_field(nullptr, at(26, 18)), "-");
}

TEST_F(CliFormat, HealthSaysWhoLeadsOnlyWhenSeveralDaemonsShareTheStore) {
  const TimePoint now = at(26, 22);
  auto health = nlohmann::json::parse(R"({"status": "ok", "queue_depth": 3, "database": "ok",
      "problems": [], "feeds": [], "leadership": {"storage": "sqlite", "instance": "a:1",
      "leading": true, "leader": "a:1", "takeovers": 0}})");
  EXPECT_EQ(render_health(health, now, false).find("leadership"), std::string::npos);

  health["leadership"] = {
      {"storage", "postgres"}, {"instance", "db-a:42"},           {"leading", true},
      {"leader", "db-a:42"},   {"since", "2026-11-26T20:30:00Z"}, {"takeovers", 2}};
  EXPECT_NE(render_health(health, now, false)
                .find("leadership: this instance db-a:42 leads since 2026-11-26 21:30 +0100"),
            std::string::npos)
      << render_health(health, now, false);
  EXPECT_NE(render_health(health, now, false).find("(takeovers 2)"), std::string::npos);

  health["leadership"]["instance"] = "db-b:7";
  health["leadership"]["leading"] = false;
  EXPECT_NE(
      render_health(health, now, false).find("leadership: this instance db-b:7 follows db-a:42"),
      std::string::npos);
  health["leadership"]["leader"] = nullptr;
  EXPECT_NE(render_health(health, now, false).find("no instance leads now"), std::string::npos);
}

TEST_F(CliFormat, GramsSwitchToKilograms) {
  EXPECT_EQ(format_grams(412.4), "412 g");
  EXPECT_EQ(format_grams(1930.0), "1.93 kg");
  EXPECT_EQ(format_grams(nullptr), "-");
}

TEST_F(CliFormat, JobsTableShowsAgesAndTheNextCursor) {
  auto list = nlohmann::json::parse(R"({"jobs": [
    {"id": "j-abc", "name": "resnet", "state": "queued", "region": null,
     "submitted_at": "2026-11-26T17:56:00Z", "deadline": "2026-11-27T08:00:00Z"}],
    "next": "j-abc"})");
  const auto text = render_jobs(list, at(26, 18));
  EXPECT_NE(text.find("ID"), std::string::npos);
  EXPECT_NE(text.find("j-abc"), std::string::npos);
  EXPECT_NE(text.find("4 min ago"), std::string::npos);
  EXPECT_NE(text.find("2026-11-27 09:00 +0100"), std::string::npos);
  EXPECT_NE(text.find("--after j-abc"), std::string::npos);
  EXPECT_EQ(render_jobs(nlohmann::json::parse(R"({"jobs": [], "next": null})"), at(26, 18)),
            "no jobs\n");
}

TEST_F(CliFormat, JobShowsItsHistoryAndSavings) {
  auto job = nlohmann::json::parse(R"({"id": "j-1", "name": "n", "state": "succeeded",
    "owner_uid": 1000, "submitted_at": "2026-11-26T17:00:00Z", "deadline": "2026-11-27T08:00:00Z",
    "regions": ["europe-west2", "europe-west9"], "power_watts": 550, "region": "europe-west9",
    "planned_start": null, "started_at": null, "finished_at": null, "remote_name": null,
    "error": null, "accounting": {"actual_g": 412, "baseline_g": 1930, "savings": 0.787},
    "events": [{"seq": 1, "at": "2026-11-26T17:00:00Z", "type": "submitted",
                "message": "submitted by uid 1000"}]})");
  const auto text = render_job(job, at(26, 18));
  EXPECT_NE(text.find("europe-west2, europe-west9"), std::string::npos);
  EXPECT_NE(text.find("550 W"), std::string::npos);
  EXPECT_NE(text.find("412 g"), std::string::npos);
  EXPECT_NE(text.find("1.93 kg"), std::string::npos);
  EXPECT_NE(text.find("78.7 %"), std::string::npos);
  EXPECT_NE(text.find("submitted by uid 1000"), std::string::npos);
  EXPECT_NE(text.find("(1 h ago)"), std::string::npos);
}

TEST_F(CliFormat, AnInterruptibleJobListsItsSegmentsAndItsPlanThem) {
  auto job = nlohmann::json::parse(R"({"id": "j-2", "name": "split", "state": "queued",
    "segments": [
      {"n": 1, "region": "europe-west2", "start": "2026-11-26T01:00:00Z",
       "end": "2026-11-26T02:00:00Z", "finished_at": "2026-11-26T02:04:00Z", "state": "ended",
       "remote_name": "local/j-2/41"},
      {"n": 2, "region": "europe-west2", "start": "2026-11-26T04:00:00Z",
       "end": "2026-11-26T05:00:00Z", "finished_at": null, "state": "running",
       "remote_name": "local/j-2/77"}]})");
  const auto text = render_job(job, at(26, 18));
  EXPECT_NE(text.find("segment 1:"), std::string::npos) << text;
  EXPECT_NE(text.find("ended"), std::string::npos) << text;
  EXPECT_NE(text.find("(ran until"), std::string::npos) << text;
  EXPECT_NE(text.find("segment 2:"), std::string::npos) << text;
  EXPECT_NE(text.find("running"), std::string::npos) << text;
  EXPECT_NE(text.find("in europe-west2"), std::string::npos) << text;
  auto plan = nlohmann::json::parse(R"({"action": "hold", "region": "europe-west2",
    "start": "2026-11-27T01:00:00Z", "end": "2026-11-27T02:00:00Z", "emissions_g": 200,
    "baseline_g": 1000, "segments": [
      {"start": "2026-11-27T01:00:00Z", "end": "2026-11-27T02:00:00Z", "score": 100},
      {"start": "2026-11-27T04:00:00Z", "end": "2026-11-27T05:00:00Z", "score": 100}]})");
  const auto planned = render_plan(plan);
  EXPECT_NE(planned.find("segment 1: "), std::string::npos) << planned;
  EXPECT_NE(planned.find("segment 2: "), std::string::npos) << planned;
}

TEST_F(CliFormat, RegionsShowIntensityWithUnitsAndStaleness) {
  auto regions = nlohmann::json::parse(R"({"regions": [
    {"name": "europe-west2", "intensity": 182.0, "signal": "average", "feed": "uk",
     "observed_at": "2026-11-26T17:46:00Z", "stale": false, "forecast_horizon": null},
    {"name": "europe-west9", "intensity": null, "signal": null, "feed": null,
     "observed_at": null, "stale": true, "forecast_horizon": null}]})");
  const auto text = render_regions(regions, at(26, 18));
  EXPECT_NE(text.find("182 gCO2e/kWh"), std::string::npos);
  EXPECT_NE(text.find("14 min ago"), std::string::npos);
  EXPECT_NE(text.find("STALE"), std::string::npos);
}

TEST_F(CliFormat, ReportAndPlanShowGramsAndPercent) {
  auto report = nlohmann::json::parse(R"({"jobs": {"total": 3, "by_state": {"queued": 1,
    "succeeded": 2}}, "energy_kwh": 4.4, "emissions_g": 412, "baseline_g": 1930,
    "saved_g": 1518, "savings": 0.787})");
  const auto text = render_report(report);
  EXPECT_NE(text.find("jobs: 3"), std::string::npos);
  EXPECT_NE(text.find("4.40 kWh"), std::string::npos);
  EXPECT_NE(text.find("1.52 kg (78.7 %)"), std::string::npos);
  auto plan = nlohmann::json::parse(R"({"region": "europe-west9", "start": "2026-11-27T01:00:00Z",
    "end": "2026-11-27T05:00:00Z", "emissions_g": 412, "baseline_g": 1930, "saved_g": 1518,
    "savings": 0.787})");
  const auto planned = render_plan(plan);
  EXPECT_NE(planned.find("412 g instead of 1.93 kg"), std::string::npos);
  EXPECT_NE(planned.find("2026-11-27 02:00 +0100"), std::string::npos);
}

TEST_F(CliFormat, ExclusionsOutcomesForecastErrorsAndSmallGrams) {
  auto job = nlohmann::json::parse(R"({"id": "j-1", "state": "failed",
    "excluded": [{"region": "europe-north1", "reason": "not configured"}],
    "accounting": {"outcome": "failed", "actual_g": 0.4, "baseline_g": null, "savings": null}})");
  const auto text = render_job(job, at(26, 18));
  EXPECT_NE(text.find("not ranked:"), std::string::npos) << text;
  EXPECT_NE(text.find("europe-north1 (not configured)"), std::string::npos) << text;
  EXPECT_NE(text.find("failed (emissions count, savings do not)"), std::string::npos) << text;
  EXPECT_NE(text.find("0.4 g"), std::string::npos) << text;

  auto regions = nlohmann::json::parse(R"({"regions": [
    {"name": "europe-west2", "intensity": 182.0, "signal": "average", "feed": "uk",
     "observed_at": "2026-11-26T17:46:00Z", "stale": false, "forecast_horizon": null,
     "forecast_error": {"bias_g": 3.14, "mae_g": 11.42, "samples": 300, "by_lead": []}},
    {"name": "europe-west9", "intensity": null, "stale": true, "forecast_error": null}]})");
  const auto table = render_regions(regions, at(26, 18));
  EXPECT_NE(table.find("FORECAST ERROR"), std::string::npos);
  EXPECT_NE(table.find("MAE 11.4, bias +3.1"), std::string::npos) << table;

  auto report = nlohmann::json::parse(R"({"jobs": {"total": 1}, "emissions_g": null,
    "failed_or_cancelled": {"jobs_accounted": 1, "emissions_g": 2.6}})");
  EXPECT_NE(render_report(report).find("failed or cancelled: 1 jobs, 2.6 g emitted"),
            std::string::npos)
      << render_report(report);

  auto plan = nlohmann::json::parse(R"({"action": "dispatch", "region": "europe-west2",
    "reason": "no forecast: only the place can be chosen",
    "excluded": [{"region": "us-east1", "reason": "no fresh data"}]})");
  const auto planned = render_plan(plan);
  EXPECT_NE(planned.find("why: no forecast: only the place can be chosen"), std::string::npos);
  EXPECT_NE(planned.find("not ranked: us-east1 (no fresh data)"), std::string::npos) << planned;
}

TEST_F(CliFormat, ErrorsNameTheirFields) {
  const auto text = render_error(400, R"({"error": {"code": "invalid_job", "message": "bad",
    "details": [{"field": "duration", "message": "required", "line": 3}]}})");
  EXPECT_EQ(text, "error: bad (invalid_job)\n  line 3: duration: required\n");
  EXPECT_EQ(render_error(502, "<html>"), "error: HTTP 502: <html>\n");
}

nlohmann::json half_hour_points(const std::vector<double>& values, TimePoint start) {
  nlohmann::json points = nlohmann::json::array();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto s = start + std::chrono::minutes(30 * static_cast<int>(i));
    points.push_back({{"start", format_rfc3339(s)},
                      {"end", format_rfc3339(s + std::chrono::minutes(30))},
                      {"intensity", values[i]}});
  }
  return points;
}

TEST_F(CliFormat, HourlyMeansAverageTheHalfHours) {
  auto hourly = hourly_means(half_hour_points({100, 200, 50, 50, 300}, at(26, 18)));
  ASSERT_EQ(hourly.size(), 3u);
  EXPECT_EQ(hourly[0].start, at(26, 18));
  EXPECT_DOUBLE_EQ(hourly[0].intensity, 150);
  EXPECT_DOUBLE_EQ(hourly[1].intensity, 50);
  EXPECT_DOUBLE_EQ(hourly[2].intensity, 300);  // only the covered half counts
}

TEST_F(CliFormat, CleanestWindowIsTheLowestRunEarliestOnTies) {
  std::vector<HourlyIntensity> hourly;
  const std::vector<double> values = {300, 200, 100, 100, 200, 100, 100};
  for (std::size_t i = 0; i < values.size(); ++i)
    hourly.push_back({at(26, 18) + std::chrono::hours(i), values[i]});
  EXPECT_EQ(cleanest_window(hourly, 2), 2);
  EXPECT_EQ(cleanest_window(hourly, 1), 2);
  // 400 at 1, 2, 3 and 4 alike: the earliest wins.
  EXPECT_EQ(cleanest_window(hourly, 3), 1);
  EXPECT_EQ(cleanest_window(hourly, 8), -1);
}

namespace {
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (auto end = text.find('\n'); end != std::string::npos; end = text.find('\n', start)) {
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}
}  // namespace

TEST_F(CliFormat, ForecastChartKeepsTheDataResolutionAndMarksTheCleanestWindow) {
  nlohmann::json forecast = {{"region", "europe-west2"},
                             {"feed", "uk"},
                             {"signal", "average"},
                             {"unit", "gCO2e/kWh"},
                             {"issued_at", "2026-11-26T17:30:00Z"}};
  // Half-hourly from 18:00 UTC: the cleanest 2 h (four rows: 50, 50, 60, 60) start at 20:00.
  forecast["points"] = half_hour_points({200, 200, 100, 100, 50, 50, 60, 60, 220, 220}, at(26, 18));
  const auto lines = lines_of(render_forecast(forecast, std::chrono::hours(2), std::nullopt, 20));
  ASSERT_EQ(lines.size(), 1u + 1u + 10u + 1u);  // title, resolution, ten rows, summary
  EXPECT_NE(lines[0].find("europe-west2"), std::string::npos);
  EXPECT_EQ(lines[1], "one row per 30m");
  EXPECT_NE(lines[2].find("2026-11-26 19:00 +0100"), std::string::npos);
  EXPECT_NE(lines[3].find("2026-11-26 19:30 +0100"), std::string::npos);
  EXPECT_NE(lines[2].find("|" + std::string(18, '=')), std::string::npos);  // 200/220*20
  EXPECT_EQ(lines[5].find('#'), std::string::npos);
  EXPECT_NE(lines[6].find("|#####"), std::string::npos);  // 50/220*20 = 4.5 -> 5
  EXPECT_NE(lines[6].find("cleanest 2h"), std::string::npos);
  EXPECT_NE(lines[9].find('#'), std::string::npos);
  EXPECT_EQ(lines[10].find('#'), std::string::npos);
  EXPECT_NE(lines[12].find("21:00 +0100 to 2026-11-26 23:00 +0100, mean 55"), std::string::npos);
}

TEST_F(CliFormat, ForecastChartStopsAtUntilAndCoarsensLongSpans) {
  nlohmann::json forecast = {{"region", "europe-west2"}, {"feed", "uk"}, {"signal", "average"}};
  forecast["points"] = half_hour_points({200, 200, 100, 100, 50, 50, 60, 60, 220, 220}, at(26, 18));
  const auto lines = lines_of(render_forecast(forecast, std::chrono::hours(1), at(26, 19), 20));
  ASSERT_EQ(lines.size(), 1u + 1u + 2u + 1u) << lines.size();  // 18:00 and 18:30 only
  EXPECT_NE(lines[3].find("2026-11-26 19:30 +0100"), std::string::npos);
  // 96 rows at most: two days of 5-minute points become 30-minute rows.
  nlohmann::json points = nlohmann::json::array();
  for (int i = 0; i < 576; ++i) {
    points.push_back({{"start", format_rfc3339(at(26, 0) + std::chrono::minutes(5 * i))},
                      {"end", format_rfc3339(at(26, 0) + std::chrono::minutes(5 * i + 5))},
                      {"intensity", 100.0 + i % 7}});
  }
  EXPECT_EQ(chart_step(points, std::nullopt), std::chrono::minutes(30));
  EXPECT_EQ(chart_step(points, at(26, 6)), std::chrono::minutes(5));
}

TEST_F(CliFormat, ForecastWithoutPointsSaysSo) {
  auto forecast = nlohmann::json::parse(R"({"region": "europe-west9", "feed": null,
    "signal": null, "points": []})");
  EXPECT_NE(render_forecast(forecast, std::chrono::hours(4)).find("no forecast available"),
            std::string::npos);
}

TEST(CliExitCodes, FollowDesignSection7) {
  EXPECT_EQ(exit_code_for_status(200), 0);
  EXPECT_EQ(exit_code_for_status(201), 0);
  EXPECT_EQ(exit_code_for_status(400), 2);
  EXPECT_EQ(exit_code_for_status(404), 2);
  EXPECT_EQ(exit_code_for_status(409), 2);
  EXPECT_EQ(exit_code_for_status(403), 1);
  EXPECT_EQ(exit_code_for_status(503), 1);
  EXPECT_EQ(exit_code_for_status(500), 1);
}

}  // namespace
}  // namespace gridshift
