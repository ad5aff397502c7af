// The `gridshift` CLI against the real gridshiftd: submit (file and stdin), jobs, show, cancel,
// report, plan; --json prints the API's JSON; exit codes 0/1/2; the unreachable-daemon message.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "api_raw_client.h"
#include "support/daemon_fixture.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

const std::string kDaemon = GRIDSHIFTD_PATH;
const std::string kCli = GRIDSHIFT_CLI_PATH;
const std::string kSourceDir = GRIDSHIFT_SOURCE_DIR;

class CliApi : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = (dir_ / "gridshift.sock").string();
    const auto config = dir_ / "config.yaml";
    write_file(config, annual_dataset_config(dir_.path()));
    daemon_ = start_daemon(dir_.path(), config);
    ASSERT_TRUE(wait_ready(*daemon_)) << daemon_->stderr_text();
  }
  CommandResult cli(std::vector<std::string> args, const std::string& stdin_text = {}) {
    args.insert(args.begin(), {kCli, "--socket", socket_});
    return run_command(args, dir_.path(), {}, stdin_text);
  }

  TempDir dir_;
  std::string socket_;
  std::unique_ptr<ChildProcess> daemon_;
};

TEST_F(CliApi, SubmitShowCancelAndList) {
  // Not before 2099: held in the queue whatever the intensities are.
  write_file(dir_ / "job.yaml",
             "name: nightly\nduration: 4h\npower_watts: 900\n"
             "not_before: 2099-01-01T00:00:00Z\ndeadline: 2099-01-02T00:00:00Z\n");
  auto submitted = cli({"submit", (dir_ / "job.yaml").string()});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  ASSERT_EQ(submitted.out.rfind("submitted j-", 0), 0u) << submitted.out;
  const std::string id = submitted.out.substr(10, submitted.out.find(' ', 10) - 10);

  auto jobs = cli({"jobs"});
  EXPECT_EQ(jobs.exit_code, 0);
  EXPECT_NE(jobs.out.find(id), std::string::npos);
  EXPECT_NE(jobs.out.find("nightly"), std::string::npos);
  EXPECT_NE(jobs.out.find("queued"), std::string::npos);

  auto shown = cli({"show", id});
  EXPECT_EQ(shown.exit_code, 0);
  EXPECT_NE(shown.out.find("900 W"), std::string::npos);
  EXPECT_NE(shown.out.find("history:"), std::string::npos);
  EXPECT_NE(shown.out.find("submitted by uid"), std::string::npos);

  auto cancelled = cli({"cancel", id});
  EXPECT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_EQ(cancelled.out, id + " is now cancelled\n");
  auto again = cli({"cancel", id});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("(conflict)"), std::string::npos) << again.err;

  EXPECT_EQ(cli({"jobs", "--state", "queued"}).out, "no jobs\n");
  auto report = cli({"report"});
  EXPECT_EQ(report.exit_code, 0);
  EXPECT_NE(report.out.find("jobs: 1 ("), std::string::npos) << report.out;
}

TEST_F(CliApi, JsonIsExactlyTheApisJson) {
  auto submitted =
      cli({"submit", "--json", "-"}, "{\"name\": \"from-stdin\", \"duration\": \"1h\"}");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const auto job = nlohmann::json::parse(submitted.out);
  EXPECT_EQ(job["name"], "from-stdin");
  const std::string id = job["id"];
  auto listed = cli({"jobs", "--json"});
  EXPECT_EQ(nlohmann::json::parse(listed.out), call(socket_, "GET", "/v1/jobs").json());
  auto shown = cli({"show", "--json", id});
  EXPECT_EQ(nlohmann::json::parse(shown.out), call(socket_, "GET", "/v1/jobs/" + id).json());
  auto missing = cli({"show", "--json", "j-missing"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(nlohmann::json::parse(missing.out)["error"]["code"], "not_found");
}

TEST_F(CliApi, InvalidSpecsExitWith2AndNameFieldAndLine) {
  write_file(dir_ / "bad.yaml", "name: ok\nduration: soon\n");
  auto local = cli({"submit", (dir_ / "bad.yaml").string()});
  EXPECT_EQ(local.exit_code, 2);
  EXPECT_NE(local.err.find("bad.yaml:2: duration"), std::string::npos) << local.err;
  // Valid structure, but a region the daemon's config does not have: the server says so.
  write_file(dir_ / "region.yaml", "name: ok\nduration: 1h\nregions: [mars-north1]\n");
  auto remote = cli({"submit", (dir_ / "region.yaml").string()});
  EXPECT_EQ(remote.exit_code, 2);
  EXPECT_NE(remote.err.find("regions[0]"), std::string::npos) << remote.err;
  EXPECT_EQ(call(socket_, "GET", "/v1/jobs").json()["jobs"].size(), 0u);
}

TEST_F(CliApi, PlanSaysWhereAndWhyAndStoresNothing) {
  write_file(dir_ / "job.yaml", "name: p\nduration: 1h\n");
  auto plan = cli({"plan", (dir_ / "job.yaml").string()});
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("decision: "), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("why: "), std::string::npos) << plan.out;
  auto jobs = cli({"jobs", "--json"});
  EXPECT_EQ(nlohmann::json::parse(jobs.out)["jobs"].size(), 0u);
  write_file(dir_ / "bad.yaml", "name: p\n");
  auto bad = cli({"plan", (dir_ / "bad.yaml").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("duration"), std::string::npos) << bad.err;
}

TEST_F(CliApi, UsesGridshiftSocketFromTheEnvironment) {
  ProcessOptions options;
  options.argv = {kCli, "jobs", "--json"};
  options.set_env = {{"GRIDSHIFT_SOCKET", socket_}};
  options.stdout_path = dir_ / "env.out";
  options.stderr_path = dir_ / "env.err";
  ChildProcess child(options);
  EXPECT_EQ(child.wait_exit(), 0) << child.stderr_text();
  EXPECT_EQ(nlohmann::json::parse(child.stdout_text())["jobs"].size(), 0u);
}

TEST(CliApiUnreachable, SaysWhereItLookedAndWhatToTry) {
  TempDir dir;
  const auto missing = (dir / "nothing.sock").string();
  auto r = run_command({kCli, "--socket", missing, "jobs"}, dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("systemctl status gridshiftd"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("GRIDSHIFT_SOCKET"), std::string::npos) << r.err;
}

TEST(CliApiUnreachable, BadUsageExitsWith2) {
  TempDir dir;
  EXPECT_EQ(run_command({kCli, "show"}, dir.path()).exit_code, 2);
  EXPECT_EQ(run_command({kCli, "forecast", "europe-west2", "--duration", "soon", "--socket",
                         (dir / "x.sock").string()},
                        dir.path())
                .exit_code,
            2);
}

}  // namespace
}  // namespace gridshift::testing
