// `gridshift simulate` end to end through its run function, on files in a temp directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "cli/simulate.h"

namespace gridshift {
namespace {

namespace fs = std::filesystem;

class SimulateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("gridshift-simulate-" + std::to_string(rd()));
    fs::create_directories(dir_);
    // A: the clean hours are 06:00-08:00; B is flat at 250.
    std::string actuals = "region,timestamp,gco2_per_kwh\n";
    std::string forecast = actuals;
    const double a[] = {400, 400, 400, 300, 300, 400, 100, 100, 400, 400, 400, 400};
    const double fa[] = {400, 400, 400, 50, 50, 400, 150, 150, 400, 400, 400, 400};
    for (int h = 0; h < 12; ++h) {
      const std::string ts =
          "2026-01-01T" + std::string(h < 10 ? "0" : "") + std::to_string(h) + ":00:00Z";
      actuals += "A," + ts + "," + std::to_string(a[h]) + "\n";
      actuals += "B," + ts + ",250\n";
      forecast += "A," + ts + "," + std::to_string(fa[h]) + "\n";
      forecast += "B," + ts + ",250\n";
    }
    write("actuals.csv", actuals);
    write("forecast.csv", forecast);
    write("jobs.yaml",
          "- name: train-a\n"
          "  submit_at: 2026-01-01T00:00:00Z\n"
          "  regions: [A]\n"
          "  duration: 2h\n"
          "  deadline: 2026-01-01T10:00:00Z\n"
          "  power_watts: 1000\n"
          "- name: train-ba\n"
          "  submit_at: 2026-01-01T00:00:00Z\n"
          "  regions: [B, A]\n"
          "  duration: 1h\n"
          "  deadline: 2026-01-01T02:00:00Z\n"
          "  power_watts: 2000\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  SimulateArgs args() const {
    SimulateArgs a;
    a.actuals = path("actuals.csv");
    a.jobs = path("jobs.yaml");
    a.tick = "1h";
    a.dispatch_slack = "0s";
    return a;
  }

  int run(const SimulateArgs& a) {
    out_.str("");
    err_.str("");
    return run_simulate(a, out_, err_);
  }

  fs::path dir_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(SimulateCli, AnInterruptibleJobRunsInTheCleanestHoursApart) {
  // 3 h in A by 10:00 in up to two segments of at least 1 h: 06-08 (100, 100) and one hour at
  // 300 (03 or 04) emit 500 g at 1 kW; the best single block (05-08 or 06-09) 600 g.
  write("jobs.yaml",
        "- name: split\n"
        "  submit_at: 2026-01-01T00:00:00Z\n"
        "  regions: [A]\n"
        "  duration: 3h\n"
        "  deadline: 2026-01-01T10:00:00Z\n"
        "  power_watts: 1000\n"
        "  interruptible: {max_segments: 2, min_segment: 1h}\n");
  auto a = args();
  a.json = true;
  ASSERT_EQ(run(a), 0) << err_.str();
  const auto job = nlohmann::json::parse(out_.str())["jobs"][0];
  ASSERT_EQ(job["segments"].size(), 2U) << job.dump(2);
  EXPECT_EQ(job["segments"][1]["start"], "2026-01-01T06:00:00Z");
  EXPECT_EQ(job["segments"][1]["end"], "2026-01-01T08:00:00Z");
  const std::string first = job["segments"][0]["start"];
  EXPECT_TRUE(first == "2026-01-01T03:00:00Z" || first == "2026-01-01T04:00:00Z") << first;
  EXPECT_DOUBLE_EQ(job["emissions_g"].get<double>(), 500);
  EXPECT_DOUBLE_EQ(job["oracle_g"].get<double>(), 600);     // the best single block, as usual
  EXPECT_DOUBLE_EQ(job["baseline_g"].get<double>(), 1200);  // 00-03 at 400
}

TEST_F(SimulateCli, JsonOutputHasExactlyTheDesignedShape) {
  auto a = args();
  a.json = true;
  a.forecast = path("forecast.csv");
  ASSERT_EQ(run(a), 0) << err_.str();
  const auto doc = nlohmann::json::parse(out_.str());
  ASSERT_EQ(doc.size(), 2u);
  ASSERT_EQ(doc["jobs"].size(), 2u);
  const std::vector<std::string> job_keys = {"alternative", "baseline_g", "emissions_g", "end",
                                             "name",        "oracle_g",   "region",      "segments",
                                             "start",       "submit_at"};
  for (const auto& job : doc["jobs"]) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : job.items())
      keys.push_back(k);
    EXPECT_EQ(keys, job_keys);
  }
  std::vector<std::string> total_keys;
  for (const auto& [k, v] : doc["totals"].items())
    total_keys.push_back(k);
  EXPECT_EQ(total_keys, (std::vector<std::string>{"baseline_g", "emissions_g", "oracle_g", "regret",
                                                  "savings"}));
  const auto& j0 = doc["jobs"][0];
  EXPECT_EQ(j0["name"], "train-a");
  EXPECT_EQ(j0["submit_at"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(j0["region"], "A");
  EXPECT_EQ(j0["start"], "2026-01-01T06:00:00Z");
  EXPECT_EQ(j0["end"], "2026-01-01T08:00:00Z");
  EXPECT_DOUBLE_EQ(j0["emissions_g"].get<double>(), 200);  // 1 kW x 2 h x 100
  EXPECT_DOUBLE_EQ(j0["baseline_g"].get<double>(), 800);
  EXPECT_DOUBLE_EQ(j0["oracle_g"].get<double>(), 200);
  // One segment for a job that is not interruptible: its run.
  EXPECT_EQ(j0["segments"],
            nlohmann::json::parse(
                R"([{"start": "2026-01-01T06:00:00Z", "end": "2026-01-01T08:00:00Z"}])"));
  // train-ba: B 250 beats A 400 now and B is flat: runs now in B. 2 kW x 1 h x 250.
  const auto& j1 = doc["jobs"][1];
  EXPECT_EQ(j1["region"], "B");
  EXPECT_EQ(j1["start"], "2026-01-01T00:00:00Z");
  EXPECT_DOUBLE_EQ(j1["emissions_g"].get<double>(), 500);
  EXPECT_DOUBLE_EQ(j1["baseline_g"].get<double>(), 500);
  const auto& t = doc["totals"];
  EXPECT_DOUBLE_EQ(t["emissions_g"].get<double>(), 700);
  EXPECT_DOUBLE_EQ(t["baseline_g"].get<double>(), 1300);
  EXPECT_DOUBLE_EQ(t["oracle_g"].get<double>(), 700);
  EXPECT_DOUBLE_EQ(t["savings"].get<double>(), 1.0 - 700.0 / 1300.0);
  EXPECT_DOUBLE_EQ(t["regret"].get<double>(), 0);
}

TEST_F(SimulateCli, TableOutputEndsWithTotals) {
  ASSERT_EQ(run(args()), 0) << err_.str();
  const std::string text = out_.str();
  EXPECT_NE(text.find("train-a"), std::string::npos);
  EXPECT_NE(text.find("total: 0.700 kg CO2e instead of 1.300 kg"), std::string::npos) << text;
}

TEST_F(SimulateCli, ConfigMapsRegionsToTraceLocationsWithPue) {
  write("config.yaml",
        "state_dir: ./var\n"
        "scheduler: {tick: 1h, dispatch_slack: 0s}\n"
        "feeds:\n"
        "  - {name: annual, type: gcp_region_dataset}\n"
        "regions:\n"
        "  - {name: europe-west9, feeds: [annual], location: A, pue: 1.5}\n");
  write("jobs.yaml",
        "- name: fr\n"
        "  submit_at: 2026-01-01T00:00:00Z\n"
        "  regions: [europe-west9]\n"
        "  duration: 2h\n"
        "  deadline: 2026-01-01T10:00:00Z\n"
        "  power_watts: 1000\n");
  auto a = args();
  a.tick.clear();
  a.dispatch_slack.clear();
  a.config = path("config.yaml");
  a.json = true;
  ASSERT_EQ(run(a), 0) << err_.str();
  const auto doc = nlohmann::json::parse(out_.str());
  EXPECT_EQ(doc["jobs"][0]["region"], "europe-west9");
  EXPECT_DOUBLE_EQ(doc["jobs"][0]["emissions_g"].get<double>(), 300);  // 2 h x 100 x 1.5
}

TEST_F(SimulateCli, BadInputExitsTwoNamingFileLineAndField) {
  auto a = args();
  a.actuals = path("missing.csv");
  EXPECT_EQ(run(a), 2);
  EXPECT_NE(err_.str().find("missing.csv: cannot read actuals"), std::string::npos) << err_.str();

  write("bad.csv", "region,timestamp,gco2_per_kwh\nA,2026-01-01T00:00:00Z,1\nA,nope,2\n");
  a = args();
  a.actuals = path("bad.csv");
  EXPECT_EQ(run(a), 2);
  EXPECT_NE(err_.str().find("bad.csv:3: timestamp:"), std::string::npos) << err_.str();

  write("jobs.yaml",
        "- name: ok\n"
        "  submit_at: 2026-01-01T00:00:00Z\n"
        "  duration: 1h\n"
        "- name: no-submit\n"
        "  duration: 1h\n"
        "- name: bad-duration\n"
        "  submit_at: 2026-01-01T00:00:00Z\n"
        "  duration: forever\n");
  EXPECT_EQ(run(args()), 2);
  EXPECT_NE(err_.str().find("jobs.yaml:4: jobs[1].submit_at: required"), std::string::npos)
      << err_.str();
  EXPECT_NE(err_.str().find("jobs.yaml:6: jobs[2].duration:"), std::string::npos) << err_.str();

  a = args();
  a.tick = "soon";
  EXPECT_EQ(run(a), 2);
  EXPECT_NE(err_.str().find("--tick"), std::string::npos);
  a = args();
  a.forecast = path("forecast.csv");
  a.forecast_noise = 0.1;
  EXPECT_EQ(run(a), 2);
  EXPECT_NE(err_.str().find("--forecast-noise"), std::string::npos);
}

TEST_F(SimulateCli, ManyIdenticalErrorsAreSummarisedByKind) {
  std::string jobs;
  for (int i = 0; i < 300; ++i) {
    jobs += "- name: j" + std::to_string(i) +
            "\n  submit_at: 2026-01-01T00:00:00Z\n  regions: [Z]\n  duration: 1h\n";
  }
  jobs += "- name: late\n  submit_at: 2026-01-01T00:00:00Z\n  duration: 0x\n";
  write("many.yaml", jobs);
  auto a = args();
  a.jobs = path("many.yaml");
  write("config.yaml",
        "feeds:\n  - {name: annual, type: gcp_region_dataset}\nregions:\n"
        "  - {name: europe-west9, feeds: [annual], location: A}\n");
  a.config = path("config.yaml");
  EXPECT_EQ(run(a), 2);
  const std::string text = err_.str();
  std::size_t lines = 0;
  for (char c : text)
    lines += c == '\n' ? 1 : 0;
  EXPECT_LE(lines, 10u) << text;
  EXPECT_NE(text.find("... and 296 more errors:"), std::string::npos) << text;
  EXPECT_NE(text.find("295 x jobs[*].regions[0]: unknown region Z"), std::string::npos) << text;
  EXPECT_NE(text.find("(first: jobs[5].regions[0], line 21)"), std::string::npos) << text;
  EXPECT_NE(text.find("1 x jobs[*].duration:"), std::string::npos) << text;
}

TEST_F(SimulateCli, SubcommandRegistersItsFlags) {
  CLI::App app{"test"};
  std::function<int()> run_fn;
  bool global_json = false;
  auto* sub = add_simulate_command(app, run_fn, global_json);
  const std::string actuals = path("actuals.csv");
  const std::string jobs = path("jobs.yaml");
  std::vector<std::string> argv = {
      "simulate", "--actuals", actuals, "--jobs",     jobs,  "--forecast-noise", "0.05", "--seed",
      "3",        "--tick",    "30m",   "--min-gain", "0.1", "--dispatch-slack", "15m",  "--json"};
  std::reverse(argv.begin(), argv.end());  // CLI11 takes a reversed vector
  app.parse(argv);
  EXPECT_TRUE(sub->parsed());
  ASSERT_TRUE(static_cast<bool>(run_fn));
  testing::internal::CaptureStdout();
  EXPECT_EQ(run_fn(), 0);
  const auto doc = nlohmann::json::parse(testing::internal::GetCapturedStdout());
  EXPECT_EQ(doc["jobs"].size(), 2u);
  // Mutually exclusive flags are a parse error.
  CLI::App app2{"test"};
  std::function<int()> run2;
  add_simulate_command(app2, run2, global_json);
  std::vector<std::string> bad = {"simulate", "--actuals",  actuals, "--jobs",
                                  jobs,       "--forecast", actuals, "--forecast-noise",
                                  "0.1"};
  std::reverse(bad.begin(), bad.end());
  EXPECT_THROW(app2.parse(bad), CLI::ParseError);
}

}  // namespace
}  // namespace gridshift
