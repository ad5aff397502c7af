// The real gridshiftd under the systemd service protocol, without systemd: the test is the
// service manager. It listens on a datagram NOTIFY_SOCKET (READY, STATUS, WATCHDOG, RELOADING,
// STOPPING) and hands over a listening Unix socket the way socket activation does (LISTEN_FDS).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <csignal>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api_raw_client.h"
#include "support/daemon_fixture.h"
#include "support/process.h"
#include "support/systemd_notify.h"

namespace gridshift::testing {
namespace {

const std::string kDaemon = GRIDSHIFTD_PATH;
const std::string kSourceDir = GRIDSHIFT_SOURCE_DIR;

std::string test_config(const TempDir& dir, const std::string& log_level) {
  return annual_dataset_config(dir.path(), log_level, "config.sock");
}

class SystemdTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChildProcess> start(std::vector<std::string> argv,
                                      std::map<std::string, std::string> env) {
    ProcessOptions options;
    options.argv = std::move(argv);
    options.cwd = dir_.path();
    options.set_env = std::move(env);
    options.unset_env = {"JOURNAL_STREAM", "LISTEN_FDS",    "LISTEN_PID",   "LISTEN_FDNAMES",
                         "WATCHDOG_PID",   "NOTIFY_SOCKET", "WATCHDOG_USEC"};
    options.stdout_path = dir_ / "daemon.out";
    options.stderr_path = dir_ / "daemon.err";
    return std::make_unique<ChildProcess>(options);
  }
  std::filesystem::path config_path() const { return dir_ / "config.yaml"; }

  TempDir dir_;
};

TEST_F(SystemdTest, NotifiesReadyStatusWatchdogReloadAndStopping) {
  write_file(config_path(), test_config(dir_, "info"));
  NotifyListener notify(dir_ / "notify.sock");
  // 200 ms watchdog: the daemon must ping every 100 ms, so several pings arrive quickly.
  auto daemon = start({kDaemon, "--config", config_path().string()},
                      {{"NOTIFY_SOCKET", notify.path().string()}, {"WATCHDOG_USEC", "200000"}});

  ASSERT_TRUE(notify.wait_for([&](const auto&) { return notify.find("READY=1") >= 0; }))
      << daemon->stderr_text();
  const auto ready = notify.messages()[static_cast<std::size_t>(notify.find("READY=1"))];
  EXPECT_NE(status_of(ready).find("0 queued"), std::string::npos) << ready;
  EXPECT_NE(status_of(ready).find("feeds"), std::string::npos) << ready;
  // READY=1 promises the socket listens and the database is open.
  EXPECT_TRUE(std::filesystem::exists(dir_ / "config.sock"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "state" / "gridshift.db"));

  ASSERT_TRUE(notify.wait_for([&](const auto&) { return notify.count("WATCHDOG=1") >= 3; }))
      << daemon->stderr_text();

  write_file(config_path(), test_config(dir_, "debug"));
  const auto before_reload = notify.messages().size();
  daemon->signal(SIGHUP);
  ASSERT_TRUE(notify.wait_for([&](const auto&) {
    const auto reloading = notify.find("RELOADING=1", before_reload);
    return reloading >= 0 && notify.find("READY=1", static_cast<std::size_t>(reloading)) >= 0;
  })) << daemon->stderr_text();
  const auto reloading =
      notify.messages()[static_cast<std::size_t>(notify.find("RELOADING=1", before_reload))];
  EXPECT_NE(reloading.find("MONOTONIC_USEC="), std::string::npos) << reloading;
  EXPECT_NE(daemon->stderr_text().find("log_level debug"), std::string::npos)
      << daemon->stderr_text();

  // The loop keeps pinging after the reload.
  const auto pings = notify.count("WATCHDOG=1");
  ASSERT_TRUE(notify.wait_for([&](const auto&) { return notify.count("WATCHDOG=1") > pings; }));

  daemon->signal(SIGTERM);
  ASSERT_TRUE(notify.wait_for([&](const auto&) { return notify.find("STOPPING=1") >= 0; }))
      << daemon->stderr_text();
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
}

TEST_F(SystemdTest, NoWatchdogPingsWhenTheWatchdogIsMeantForAnotherProcess) {
  write_file(config_path(), test_config(dir_, "info"));
  NotifyListener notify(dir_ / "notify.sock");
  // A 1 ms watchdog would mean a ping every 0.5 ms, but WATCHDOG_PID names another process.
  auto daemon = start({kDaemon, "--config", config_path().string()},
                      {{"NOTIFY_SOCKET", notify.path().string()},
                       {"WATCHDOG_USEC", "1000"},
                       {"WATCHDOG_PID", std::to_string(::getpid())}});
  ASSERT_TRUE(notify.wait_for([&](const auto&) { return notify.find("READY=1") >= 0; }))
      << daemon->stderr_text();
  daemon->signal(SIGHUP);
  ASSERT_TRUE(notify.wait_for([&](const auto&) {
    const auto reloading = notify.find("RELOADING=1");
    return reloading >= 0 && notify.find("READY=1", static_cast<std::size_t>(reloading)) >= 0;
  })) << daemon->stderr_text();
  daemon->signal(SIGTERM);
  ASSERT_TRUE(notify.wait_for([&](const auto&) { return notify.find("STOPPING=1") >= 0; }));
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
  EXPECT_EQ(notify.count("WATCHDOG=1"), 0u);
}

// Runs gridshiftd the way systemd does for gridshiftd.socket: the listening socket on fd 3,
// LISTEN_FDS=1 and LISTEN_PID set to the daemon's own pid (the shell execs it, keeping $$).
std::vector<std::string> activated_argv(int listening_fd, const std::filesystem::path& config) {
  return {"/bin/bash", "-c",
          "export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" --config \"$1\" 3<&" +
              std::to_string(listening_fd),
          kDaemon, config.string()};
}

TEST_F(SystemdTest, SocketActivationServesJobsOnTheHandedSocket) {
  write_file(config_path(), test_config(dir_, "info"));
  const auto activated = dir_ / "activated.sock";
  const int listening = bind_unix(activated, SOCK_STREAM);
  ASSERT_EQ(::listen(listening, 16), 0);
  NotifyListener notify(dir_ / "notify.sock");
  auto daemon = start(activated_argv(listening, config_path()),
                      {{"NOTIFY_SOCKET", notify.path().string()}, {"WATCHDOG_USEC", "200000"}});

  ASSERT_TRUE(notify.wait_for([&](const auto&) { return notify.find("READY=1") >= 0; }))
      << daemon->stderr_text();
  ::close(listening);  // the daemon holds its own copy now
  EXPECT_NE(daemon->stderr_text().find("socket activation"), std::string::npos);
  // It serves the handed socket instead of binding socket.path.
  EXPECT_FALSE(std::filesystem::exists(dir_ / "config.sock"));

  const auto health = call(activated, "GET", "/v1/health");
  ASSERT_EQ(health.status, 200) << health.head << daemon->stderr_text();
  EXPECT_EQ(health.json()["queue_depth"], 0) << health.body;

  const auto spec =
      nlohmann::json{{"name", "activated-job"},
                     {"regions", {"europe-west2"}},
                     {"duration", "1h"},
                     // Held (not dispatched) so that STATUS= counts it as queued.
                     {"not_before", "2099-01-01T00:00:00Z"},
                     {"deadline", "2099-01-02T00:00:00Z"},
                     {"vertex",
                      {{"machine_type", "n1-standard-4"},
                       {"container", {{"image_uri", "europe-docker.pkg.dev/p/r/trainer:1"}}}}}};
  const auto submitted = call(activated, "POST", "/v1/jobs", spec.dump());
  ASSERT_EQ(submitted.status, 201) << submitted.body;
  const auto id = submitted.json()["id"].get<std::string>();

  const auto listed = call(activated, "GET", "/v1/jobs");
  ASSERT_EQ(listed.status, 200) << listed.body;
  const auto jobs = listed.json()["jobs"];
  ASSERT_EQ(jobs.size(), 1u) << listed.body;
  EXPECT_EQ(jobs[0]["id"], id);

  // STATUS= follows the queue.
  ASSERT_TRUE(notify.wait_for([&](const auto& messages) {
    return std::any_of(messages.begin(), messages.end(), [](const std::string& message) {
      return status_of(message).find("1 queued") != std::string::npos;
    });
  })) << daemon->stderr_text();

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
  // The socket file belongs to the socket unit, not the daemon: it stays.
  EXPECT_TRUE(std::filesystem::exists(activated));
}

TEST_F(SystemdTest, SocketActivationRejectsAnythingButAListeningUnixStreamSocket) {
  write_file(config_path(), test_config(dir_, "info"));
  const int datagram = bind_unix(dir_ / "not-a-stream.sock", SOCK_DGRAM);
  auto daemon = start(activated_argv(datagram, config_path()), {});
  const auto code = daemon->wait_exit();
  ::close(datagram);
  EXPECT_EQ(code, 1) << daemon->stderr_text();
  EXPECT_NE(daemon->stderr_text().find("AF_UNIX"), std::string::npos) << daemon->stderr_text();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state" / "gridshift.db"));
}

}  // namespace
}  // namespace gridshift::testing
