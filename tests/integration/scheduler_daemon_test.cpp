// End to end through the real binaries: gridshiftd replays a trace (trace_file feed) around the
// present, the CLI submits, the scheduler holds or dispatches to the dry-run target, follows
// the job to the end and stores its accounting.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/time.h"
#include "support/daemon_fixture.h"
#include "support/hourly_series.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

const std::string kDaemon = GRIDSHIFTD_PATH;

TimePoint this_hour() {
  return std::chrono::floor<std::chrono::hours>(std::chrono::system_clock::now());
}

class SchedulerDaemon : public ::testing::Test {
 protected:
  // GB: 300 g/kWh now and after, except a dip to 100 from +2 h to +4 h.
  void SetUp() override {
    const TimePoint start = this_hour() - std::chrono::hours(6);
    const std::string trace = trace_csv({"GB"}, start, 48, [&](std::size_t, int h) {
      const auto from_now = start + std::chrono::hours(h) - this_hour();
      const bool dip = from_now >= std::chrono::hours(2) && from_now < std::chrono::hours(4);
      return dip ? 100.0 : 300.0;
    });
    write_file(dir_ / "trace.csv", trace);
    write_file(dir_ / "config.yaml",
               "state_dir: " + (dir_ / "state").string() + "\n" + "socket: {path: " + socket_ +
                   ", mode: \"0660\"}\n" +
                   "scheduler: {tick: 1s}\n"
                   "feeds:\n"
                   "  - {name: replay, type: trace_file, actuals: " +
                   (dir_ / "trace.csv").string() + "}\n" +
                   "regions:\n"
                   "  - {name: europe-west2, feeds: [replay], location: GB, pue: 1.0}\n"
                   "dispatch: {type: dry_run}\n");
    daemon_ = start_daemon(dir_.path(), dir_ / "config.yaml");
    ASSERT_TRUE(wait_ready(*daemon_)) << daemon_->stderr_text();
  }

  void TearDown() override {
    daemon_->signal(SIGTERM);
    EXPECT_EQ(daemon_->wait_exit(), 0) << daemon_->stderr_text();
  }

  CommandResult cli(std::vector<std::string> args) { return cli_.run(std::move(args)); }
  std::string submit(const std::string& spec) { return cli_.submit(spec); }
  nlohmann::json show(const std::string& id) { return cli_.show(id); }

  TempDir dir_;
  std::string socket_ = (dir_ / "gridshift.sock").string();
  CliRunner cli_{dir_.path(), socket_};
  std::unique_ptr<ChildProcess> daemon_;
};

TEST_F(SchedulerDaemon, APolicyNowJobRunsToTheEndWithItsAccounting) {
  const auto id = submit("name: quick\nduration: 2s\npolicy: now\npower_watts: 3600000\n");
  nlohmann::json job;
  ASSERT_TRUE(wait_until(
      [&] {
        job = show(id);
        return job["state"] == "succeeded";
      },
      std::chrono::seconds(30)))
      << job.dump(2) << daemon_->stderr_text();
  EXPECT_EQ(job["region"], "europe-west2");
  EXPECT_EQ(job["remote_name"], "dry-run/europe-west2/" + id);
  std::vector<std::string> types;
  for (const auto& e : job["events"])
    types.push_back(e["type"]);
  EXPECT_NE(std::find(types.begin(), types.end(), "dispatch"), types.end()) << job.dump(2);
  // 3.6 MW for 2 s = 2 kWh at 300 g/kWh (PUE 1.0) = 600 g.
  ASSERT_TRUE(job["accounting"].is_object()) << job.dump(2);
  EXPECT_NEAR(job["accounting"]["actual_g"].get<double>(), 600.0, 1e-6) << job.dump(2);
  EXPECT_EQ(job["accounting"]["signal"], "average");
  // The decision was logged with its reason.
  EXPECT_NE(daemon_->stderr_text().find("job=" + id + " action=dispatch"), std::string::npos);

  auto report = cli({"report", "--json"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NEAR(nlohmann::json::parse(report.out)["emissions_g"].get<double>(), 600.0, 1e-6);
}

TEST_F(SchedulerDaemon, ABestWindowJobIsHeldForTheDip) {
  const auto id = submit("name: nightly\nduration: 1h\npolicy: best_window\n");
  const auto dip = format_rfc3339(this_hour() + std::chrono::hours(2));
  nlohmann::json job;
  ASSERT_TRUE(wait_until(
      [&] {
        job = show(id);
        return job["planned_start"].is_string();
      },
      std::chrono::seconds(30)))
      << job.dump(2) << daemon_->stderr_text();
  EXPECT_EQ(job["state"], "queued");
  EXPECT_EQ(job["planned_start"], dip) << job.dump(2);
  EXPECT_EQ(job["events"].back()["type"], "planned");

  auto plan = cli({"plan", (dir_ / "job.yaml").string(), "--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  const auto answer = nlohmann::json::parse(plan.out);
  EXPECT_EQ(answer["action"], "hold");
  EXPECT_EQ(answer["start"], dip);
  // Power: the 150 W host share; 1 h at 100 instead of 300 g/kWh.
  EXPECT_NEAR(answer["emissions_g"].get<double>(), 15.0, 1e-9);
  EXPECT_NEAR(answer["baseline_g"].get<double>(), 45.0, 1e-9);
}

}  // namespace
}  // namespace gridshift::testing
