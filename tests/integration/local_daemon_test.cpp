// The real gridshiftd with `dispatch.type: local`: a submitted job's command runs in its own
// directory under the workdir, its exit status decides the job's state, and a cancel stops it.
#include <gtest/gtest.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "support/daemon_fixture.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

class LocalDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = annual_dataset_config(dir_.path());
    const std::string dry = "dispatch: {type: dry_run}\n";
    config.replace(config.find(dry), dry.size(),
                   "scheduler: {tick: 1s}\n"
                   "dispatch: {type: local, local: {workdir: " +
                       (dir_ / "jobs").string() + "}}\n");
    write_file(dir_ / "config.yaml", config);
    daemon_ = start_daemon(dir_.path(), dir_ / "config.yaml");
    ASSERT_TRUE(wait_ready(*daemon_)) << daemon_->stderr_text();
  }

  void TearDown() override {
    daemon_->signal(SIGTERM);
    EXPECT_EQ(daemon_->wait_exit(), 0) << daemon_->stderr_text();
  }

  std::string submit(const std::string& command) {
    return cli_.submit("name: local-job\nduration: 1m\npolicy: now\nlocal: {command: " + command +
                       "}\n");
  }
  nlohmann::json wait_for(const std::string& id, const std::string& state) {
    return cli_.wait_for_state(id, state, std::chrono::seconds(30));
  }

  TempDir dir_;
  CliRunner cli_{dir_.path(), (dir_ / "gridshift.sock").string()};
  std::unique_ptr<ChildProcess> daemon_;
};

TEST_F(LocalDaemon, TheCommandRunsAndItsExitStatusDecides) {
  const auto ok = submit("[/bin/sh, -c, \"echo trained $GRIDSHIFT_JOB_ID\"]");
  auto job = wait_for(ok, "succeeded");
  EXPECT_EQ(read_file(dir_ / "jobs" / ok / "output.log"), "trained " + ok + "\n");
  EXPECT_TRUE(job["accounting"].is_object()) << job.dump(2);

  const auto bad = submit("[/bin/sh, -c, \"exit 3\"]");
  job = wait_for(bad, "failed");
  EXPECT_NE(job["error"].get<std::string>().find("status 3"), std::string::npos) << job.dump(2);
}

TEST_F(LocalDaemon, ACancelStopsTheRunningCommand) {
  const auto id = submit("[/bin/sleep, \"300\"]");
  wait_for(id, "running");
  auto r = cli_.run({"cancel", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The process is gone: its pid from the daemon's record no longer answers.
  const auto process =
      nlohmann::json::parse(read_file(dir_ / "jobs" / ".gridshift" / (id + ".json")));
  const pid_t pid = process["pid"].get<pid_t>();
  EXPECT_TRUE(wait_until([&] { return ::kill(pid, 0) != 0; }, std::chrono::seconds(20)))
      << daemon_->stderr_text();
  EXPECT_EQ(wait_for(id, "cancelled")["state"], "cancelled");
}

}  // namespace
}  // namespace gridshift::testing
