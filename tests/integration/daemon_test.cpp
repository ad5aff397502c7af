// The real gridshiftd binary: start, readiness, SIGHUP reload (good and bad), clean stop,
// journald log format, --check-config and --version, startup failures.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <csignal>
#include <regex>
#include <string>

#include "support/daemon_fixture.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

const std::string kDaemon = GRIDSHIFTD_PATH;
const std::string kSourceDir = GRIDSHIFT_SOURCE_DIR;

std::string test_config(const TempDir& dir, const std::string& log_level = "info") {
  return annual_dataset_config(dir.path(), log_level);
}

class DaemonTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChildProcess> start(const std::map<std::string, std::string>& env = {},
                                      std::vector<std::string> unset = {"JOURNAL_STREAM"}) {
    ProcessOptions options;
    options.argv = {kDaemon, "--config", config_path().string()};
    options.cwd = dir_.path();
    options.set_env = env;
    options.unset_env = std::move(unset);
    options.stdout_path = dir_ / "daemon.out";
    options.stderr_path = dir_ / "daemon.err";
    return std::make_unique<ChildProcess>(options);
  }
  std::filesystem::path config_path() const { return dir_ / "config.yaml"; }
  static bool contains(const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
  }

  TempDir dir_;
};

std::string integrity_check(const std::filesystem::path& db) {
  sqlite3* handle = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(handle, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(handle);
  return result;
}

TEST_F(DaemonTest, StartsLogsReadinessAndStopsCleanlyOnSigterm) {
  write_file(config_path(), test_config(dir_));
  auto daemon = start();
  ASSERT_TRUE(wait_until([&] { return contains(daemon->stderr_text(), "gridshiftd ready"); }))
      << daemon->stderr_text();
  EXPECT_TRUE(std::filesystem::exists(dir_ / "state" / "gridshift.db"));
  EXPECT_TRUE(contains(daemon->stderr_text(), "integrity ok"));
  daemon->signal(SIGTERM);
  ASSERT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
  EXPECT_TRUE(contains(daemon->stderr_text(), "stopped cleanly"));
  EXPECT_EQ(integrity_check(dir_ / "state" / "gridshift.db"), "ok");
}

TEST_F(DaemonTest, StopsCleanlyOnSigint) {
  write_file(config_path(), test_config(dir_));
  auto daemon = start();
  ASSERT_TRUE(wait_until([&] { return contains(daemon->stderr_text(), "gridshiftd ready"); }));
  daemon->signal(SIGINT);
  EXPECT_EQ(daemon->wait_exit(), 0);
  EXPECT_TRUE(contains(daemon->stderr_text(), "SIGINT"));
}

TEST_F(DaemonTest, SighupAppliesAGoodConfigAndKeepsTheOldOneOnABadConfig) {
  write_file(config_path(), test_config(dir_, "info"));
  auto daemon = start();
  ASSERT_TRUE(wait_until([&] { return contains(daemon->stderr_text(), "gridshiftd ready"); }));

  write_file(config_path(), test_config(dir_, "debug"));
  daemon->signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return contains(daemon->stderr_text(), "configuration reloaded"); }))
      << daemon->stderr_text();
  EXPECT_TRUE(contains(daemon->stderr_text(), "log_level debug"));

  write_file(config_path(), test_config(dir_) + "bogus_key: 1\n");
  daemon->signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return contains(daemon->stderr_text(), "reload rejected"); }))
      << daemon->stderr_text();
  EXPECT_TRUE(contains(daemon->stderr_text(), "bogus_key"));
  EXPECT_TRUE(daemon->running());

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0);
}

TEST_F(DaemonTest, UnderJournaldLinesCarryPriorityPrefixesAndNoTimestamps) {
  write_file(config_path(), test_config(dir_));
  auto daemon = start({{"JOURNAL_STREAM", "8:12345"}}, {});
  ASSERT_TRUE(wait_until([&] { return contains(daemon->stderr_text(), "gridshiftd ready"); }));
  daemon->signal(SIGTERM);
  ASSERT_EQ(daemon->wait_exit(), 0);
  std::istringstream lines(daemon->stderr_text());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    // "<6>main: ...": priority, subsystem, message; a timestamp would start with a digit.
    EXPECT_TRUE(std::regex_search(line, std::regex("^<6>[a-z]+: [^0-9]"))) << line;
  }
  EXPECT_GE(count, 3);
}

TEST_F(DaemonTest, RefusesToStartOnAnInvalidConfigWithExitCode2) {
  write_file(config_path(), test_config(dir_) + "scheduler: {tikc: 60s}\n");
  auto daemon = start();
  ASSERT_EQ(daemon->wait_exit(), 2) << daemon->stderr_text();
  EXPECT_TRUE(contains(daemon->stderr_text(), "scheduler.tikc")) << daemon->stderr_text();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state"));
}

TEST_F(DaemonTest, ExitsNonZeroWithAClearMessageWhenTheStateDirCannotBeCreated) {
  write_file(dir_ / "blocker", "a file where a directory should be");
  std::string config = test_config(dir_);
  const auto state = (dir_ / "state").string();
  config.replace(config.find(state), state.size(), (dir_ / "blocker" / "state").string());
  write_file(config_path(), config);
  auto daemon = start();
  ASSERT_EQ(daemon->wait_exit(), 1);
  EXPECT_TRUE(contains(daemon->stderr_text(), "cannot create state_dir")) << daemon->stderr_text();
}

TEST_F(DaemonTest, RefusesADatabaseThatIsNotSqlite) {
  write_file(config_path(), test_config(dir_));
  std::filesystem::create_directories(dir_ / "state");
  write_file(dir_ / "state" / "gridshift.db", std::string(8192, 'x'));
  auto daemon = start();
  ASSERT_EQ(daemon->wait_exit(), 1);
  EXPECT_TRUE(contains(daemon->stderr_text(), "cannot open database")) << daemon->stderr_text();
}

TEST_F(DaemonTest, ReopensItsDatabaseAfterARestart) {
  write_file(config_path(), test_config(dir_));
  for (int round = 0; round < 2; ++round) {
    auto daemon = start();
    ASSERT_TRUE(wait_until([&] { return contains(daemon->stderr_text(), "gridshiftd ready"); }))
        << daemon->stderr_text();
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait_exit(), 0);
  }
  EXPECT_EQ(integrity_check(dir_ / "state" / "gridshift.db"), "ok");
}

TEST(DaemonCommandLine, CheckConfigAcceptsTheShippedExample) {
  TempDir dir;
  auto r = run_command({kDaemon, "--check-config", "--config", kSourceDir + "/config.example.yaml"},
                       dir.path(), kSourceDir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("OK"), std::string::npos);
}

TEST(DaemonCommandLine, CheckConfigNamesAMisspeltKeyAndItsLine) {
  TempDir dir;
  std::string example = read_file(kSourceDir + "/config.example.yaml");
  const auto at = example.find("\n  tick:");
  ASSERT_NE(at, std::string::npos) << "the example is expected to set scheduler.tick";
  example.replace(at, 7, "\n  tikc:");
  const auto line = 2 + std::count(example.begin(), example.begin() + static_cast<long>(at), '\n');
  write_file(dir / "bad.yaml", example);
  auto r = run_command({kDaemon, "--check-config", "--config", (dir / "bad.yaml").string()},
                       dir.path(), kSourceDir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("scheduler.tikc"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.yaml:" + std::to_string(line) + ":"), std::string::npos) << r.err;
}

TEST(DaemonCommandLine, CheckConfigLoadsTheVertexCredentialsAndNamesTheKey) {
  TempDir dir;
  std::string config = annual_dataset_config(dir.path());
  config.replace(config.find("dispatch: {type: dry_run}"), 25,
                 "dispatch: {type: vertex_ai, vertex_ai: {project: p, credentials: " +
                     (dir / "key.json").string() + "}}");
  write_file(dir / "vertex.yaml", config);
  // A key file without its private key: refused before any dispatch, naming key and field.
  write_file(dir / "key.json",
             R"({"type": "service_account", "client_email": "a@p.iam.gserviceaccount.com"})");
  auto r = run_command({kDaemon, "--check-config", "--config", (dir / "vertex.yaml").string()},
                       dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("private_key"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("dispatch.vertex_ai.credentials"), std::string::npos) << r.err;

  // The same at startup: exit 2, nothing served.
  auto daemon = run_command({kDaemon, "--config", (dir / "vertex.yaml").string()}, dir.path());
  EXPECT_EQ(daemon.exit_code, 2) << daemon.err;

  // An authorized_user file (gcloud's) is accepted.
  write_file(dir / "key.json",
             R"({"type": "authorized_user", "client_id": "c", "client_secret": "s",)"
             R"( "refresh_token": "r"})");
  r = run_command({kDaemon, "--check-config", "--config", (dir / "vertex.yaml").string()},
                  dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("dispatch vertex_ai"), std::string::npos) << r.out;
}

TEST(DaemonCommandLine, CheckConfigOnAMissingFileExits2) {
  TempDir dir;
  auto r = run_command({kDaemon, "--check-config", "--config", (dir / "nope.yaml").string()},
                       dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nope.yaml"), std::string::npos) << r.err;
}

TEST(DaemonCommandLine, VersionPrintsTheProjectVersion) {
  TempDir dir;
  auto r = run_command({kDaemon, "--version"}, dir.path());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("gridshiftd 0."), std::string::npos) << r.out;
}

TEST(DaemonCommandLine, UnknownFlagIsAUsageError) {
  TempDir dir;
  auto r = run_command({kDaemon, "--no-such-flag"}, dir.path());
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace gridshift::testing
