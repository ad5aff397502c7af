// The hardened promises (docs/design.md, "Promises") against the real gridshiftd: one daemon per
// state whatever its socket, a deleted socket bound anew, local jobs that run as their owner and
// cannot read the daemon's environment, credentials, database or other users' job directories,
// a corrupt job row that is quarantined while the rest is scheduled, per-uid connection limits
// with a reserve for root, and a check-config that knows the host's accounts. Tests that need a
// second uid need root (CI runs as root) and skip, saying so, otherwise.
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "api_raw_client.h"
#include "support/daemon_fixture.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kHeldSpec = R"({"name": "held", "duration": "1h",
  "not_before": "2099-01-01T00:00:00Z", "deadline": "2099-01-02T00:00:00Z"})";

fs::path write_config(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir / name;
  write_file(path, text);
  return path;
}

// `text` with the first `from` replaced by `to` (the test's own configs: `from` is there).
std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("no '" + from + "' in the config");
  return text.replace(at, from.size(), to);
}

// The minimal config with its socket given to `group` (and, with `local_settings`, the local
// dispatcher with those settings).
std::string config_with(const TempDir& dir, const std::string& group,
                        const std::optional<std::string>& local_settings = std::nullopt) {
  auto text = replace_once(annual_dataset_config(dir.path()), "mode: \"0660\"}",
                           "mode: \"0660\", group: " + group + "}");
  if (!local_settings) return text;
  return replace_once(text, "dispatch: {type: dry_run}",
                      "dispatch: {type: local, local: " + *local_settings + "}");
}

std::string local_config(const TempDir& dir, const std::string& group,
                         const std::string& local_settings = "{}") {
  return config_with(dir, group, local_settings);
}

std::unique_ptr<ChildProcess> start_with_env(const fs::path& dir, const fs::path& config,
                                             std::map<std::string, std::string> env,
                                             const std::string& tag = "daemon") {
  ProcessOptions options;
  options.argv = {GRIDSHIFTD_PATH, "--config", config.string()};
  options.unset_env = {"JOURNAL_STREAM", "CREDENTIALS_DIRECTORY"};
  options.set_env = std::move(env);
  options.stdout_path = dir / (tag + ".out");
  options.stderr_path = dir / (tag + ".err");
  return std::make_unique<ChildProcess>(options);
}

// ---- one daemon per state ----

TEST(Hardening, ASecondDaemonOnTheSameStateRefusesToStartNamingTheHolder) {
  TempDir dir;
  const auto first_config =
      write_config(dir, "a.yaml", annual_dataset_config(dir.path(), "info", "a.sock"));
  const auto second_config =
      write_config(dir, "b.yaml", annual_dataset_config(dir.path(), "info", "b.sock"));
  auto first = start_daemon(dir.path(), first_config);
  ASSERT_TRUE(wait_ready(*first)) << first->stderr_text();
  auto second = start_with_env(dir.path(), second_config, {}, "second");
  const auto code = second->wait_exit();
  ASSERT_TRUE(code.has_value()) << "the second daemon kept running: " << second->stderr_text();
  EXPECT_EQ(*code, 1) << second->stderr_text();
  EXPECT_NE(second->stderr_text().find("in use by another gridshiftd (pid " +
                                       std::to_string(first->pid()) + ","),
            std::string::npos)
      << second->stderr_text();
  EXPECT_FALSE(fs::exists(dir / "b.sock"));
  // The first one serves on, and a restart after it is gone (even after kill -9) takes over.
  EXPECT_EQ(call((dir / "a.sock").string(), "GET", "/v1/health").status, 200);
  first->signal(SIGKILL);
  first->wait_exit();
  auto third = start_with_env(dir.path(), second_config, {}, "third");
  EXPECT_TRUE(wait_until([&] {
    return third->stderr_text().find("gridshiftd ready") != std::string::npos;
  })) << third->stderr_text();
  EXPECT_EQ(call((dir / "b.sock").string(), "GET", "/v1/health").status, 200);
}

TEST(Hardening, ADeletedSocketIsBoundAnewAndASecondDaemonStillCannotStart) {
  TempDir dir;
  const auto config = write_config(dir, "c.yaml", annual_dataset_config(dir.path()));
  auto daemon = start_daemon(dir.path(), config);
  ASSERT_TRUE(wait_ready(*daemon)) << daemon->stderr_text();
  const auto socket = (dir / "gridshift.sock").string();
  ASSERT_EQ(call(socket, "POST", "/v1/jobs", kHeldSpec).status, 201);
  ASSERT_EQ(::unlink(socket.c_str()), 0);
  EXPECT_TRUE(wait_until([&] { return call(socket, "GET", "/v1/health").status == 200; }))
      << daemon->stderr_text();
  EXPECT_NE(daemon->stderr_text().find("was deleted or replaced: binding it anew"),
            std::string::npos);
  EXPECT_EQ(call(socket, "GET", "/v1/jobs").json()["jobs"].size(), 1u);
  // With the socket gone for a moment, the lock alone still keeps a second daemon out.
  auto second = start_with_env(dir.path(), config, {}, "second");
  EXPECT_EQ(second->wait_exit(), 1) << second->stderr_text();
}

// ---- a corrupt job row ----

TEST(Hardening, ACorruptJobRowIsQuarantinedAndTheRestIsScheduled) {
  TempDir dir;
  const auto config = write_config(dir, "c.yaml", annual_dataset_config(dir.path()));
  const auto socket = (dir / "gridshift.sock").string();
  std::string bad_id;
  {
    auto daemon = start_daemon(dir.path(), config);
    ASSERT_TRUE(wait_ready(*daemon)) << daemon->stderr_text();
    for (int i = 0; i < 3; ++i) {
      auto created = call(socket, "POST", "/v1/jobs", kHeldSpec);
      ASSERT_EQ(created.status, 201);
      if (i == 1) bad_id = created.json()["id"];
    }
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait_exit(), 0);
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "state" / "gridshift.db").c_str(), &db), SQLITE_OK);
    const std::string sql = "UPDATE jobs SET summary_json = '{\"name\": 1' WHERE id = '" + bad_id +
                            "'; UPDATE job_specs SET spec_json = 'garbage' WHERE job_id = '" +
                            bad_id + "'";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto daemon = start_daemon(dir.path(), config);
  ASSERT_TRUE(wait_ready(*daemon)) << daemon->stderr_text();
  ASSERT_TRUE(wait_until([&] {
    auto health = call(socket, "GET", "/v1/health").json();
    return health.value("status", "") == "degraded";
  })) << daemon->stderr_text();
  const auto health = call(socket, "GET", "/v1/health").json();
  ASSERT_EQ(health["problems"].size(), 1u) << health.dump();
  EXPECT_NE(health["problems"][0].get<std::string>().find(bad_id + " was quarantined"),
            std::string::npos);
  // Scheduling goes on: a new job is dispatched (dry run) at once.
  const std::string fresh =
      call(socket, "POST", "/v1/jobs", R"({"name": "fresh", "duration": "1h"})").json()["id"];
  EXPECT_TRUE(wait_until([&] {
    auto shown = call(socket, "GET", "/v1/jobs/" + fresh).json();
    return shown.is_object() && shown.value("state", "") == "running";
  })) << daemon->stderr_text();
  auto listed = call(socket, "GET", "/v1/jobs").json();
  EXPECT_EQ(listed["jobs"].size(), 3u);
  ASSERT_EQ(listed["unreadable"].size(), 1u);
  EXPECT_EQ(listed["unreadable"][0]["id"], bad_id);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "state" / "gridshift.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  const std::string sql = "SELECT state FROM jobs WHERE id = '" + bad_id + "'";
  ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)), "failed");
  sqlite3_finalize(statement);
  sqlite3_close(db);
}

// ---- check-config knows the host ----

TEST(Hardening, CheckConfigRefusesAnUnknownGroupAndRunAsUser) {
  TempDir dir;
  const auto config = write_config(
      dir, "c.yaml", config_with(dir, "no-such-group-gs", "{run_as: no-such-user-gs}"));
  auto r =
      run_command({GRIDSHIFTD_PATH, "--check-config", "--config", config.string()}, dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("socket.group: no group named 'no-such-group-gs'"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("dispatch.local.run_as: no user named 'no-such-user-gs'"), std::string::npos)
      << r.err;
  // Startup refuses the same, before it creates any state.
  auto daemon = start_daemon(dir.path(), config);
  EXPECT_EQ(daemon->wait_exit(), 2) << daemon->stderr_text();
  EXPECT_FALSE(fs::exists(dir / "state"));
}

// ---- a second uid ----

// A throwaway unprivileged account (useradd), removed at the end of the scope.
class TestUser {
 public:
  TestUser() {
    std::random_device random;
    name_ = "gs-test-" + std::to_string(random() % 1000000);
    const auto r = run_command({"/usr/sbin/useradd", "--system", "--user-group", "--no-create-home",
                                "--shell", "/usr/sbin/nologin", name_},
                               scratch_.path());
    if (r.exit_code != 0) {
      throw std::runtime_error("useradd failed (" + std::to_string(r.exit_code) + "): " + r.err);
    }
    const passwd* entry = ::getpwnam(name_.c_str());
    if (entry == nullptr) throw std::runtime_error("no passwd entry for " + name_);
    uid_ = entry->pw_uid;
    gid_ = entry->pw_gid;
  }
  ~TestUser() { run_command({"/usr/sbin/userdel", name_}, scratch_.path()); }
  TestUser(const TestUser&) = delete;
  TestUser& operator=(const TestUser&) = delete;

  const std::string& name() const { return name_; }
  uid_t uid() const { return uid_; }
  gid_t gid() const { return gid_; }

  // Runs `body` in a child process as this user; the child's exit code.
  int run(const std::function<int()>& body) const {
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) ::_exit(99);
      ::_exit(body());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
  }

 private:
  TempDir scratch_;
  std::string name_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

json wait_for_end(const std::string& socket, const std::string& id) {
  json shown;
  wait_until(
      [&] {
        shown = call(socket, "GET", "/v1/jobs/" + id).json();
        const auto state = shown.is_object() ? shown.value("state", "") : "";
        return state == "succeeded" || state == "failed" || state == "cancelled";
      },
      std::chrono::seconds(60));
  return shown;
}

TEST(HardeningAsRoot, ALocalJobRunsAsItsOwnerAndCannotReadTheDaemonsSecrets) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create a test user and switch to it";
  TestUser user;
  TempDir dir;
  ::chmod(dir.path().c_str(), 0711);  // the job passes through to its directory under state/
  const auto credentials = dir / "credentials";
  fs::create_directories(credentials);
  ::chmod(credentials.c_str(), 0700);
  write_file(credentials / "planted", "credential-SECRET-7a1c\n");
  ::chmod((credentials / "planted").c_str(), 0400);
  const auto config = write_config(dir, "c.yaml", local_config(dir, user.name()));
  auto daemon = start_with_env(dir.path(), config,
                               {{"CREDENTIALS_DIRECTORY", credentials.string()},
                                {"GRIDSHIFT_PLANTED_ENV", "environment-SECRET-93be"}});
  ASSERT_TRUE(wait_until([&] {
    return daemon->stderr_text().find("gridshiftd ready") != std::string::npos;
  })) << daemon->stderr_text();
  const auto socket = (dir / "gridshift.sock").string();
  const auto state = dir / "state";

  // Root's own job first: its directory is one the user's job must not read.
  const std::string roots = call(socket, "POST", "/v1/jobs",
                                 R"({"name": "roots", "duration": "1h", "policy": "now",
                                     "local": {"command": ["/bin/sh", "-c", "echo root-output-8d2e > mine.txt"]}})")
                                .json()["id"];
  ASSERT_EQ(wait_for_end(socket, roots)["state"], "succeeded");

  // Each probe prints what it got; a successful read prints the marker after it.
  const std::string script =
      "id -u; id -g; "
      "cat /proc/" +
      std::to_string(daemon->pid()) +
      "/environ && echo READ-ENVIRON; "
      "cat " +
      (credentials / "planted").string() +
      " && echo READ-CREDENTIAL; "
      "ls " +
      credentials.string() +
      " && echo LISTED-CREDENTIALS; "
      "head -c 16 " +
      (state / "gridshift.db").string() +
      " && echo READ-DATABASE; "
      "cat " +
      (state / "jobs" / roots / "mine.txt").string() +
      " && echo READ-OTHER-JOB; "
      "ls " +
      state.string() +
      " && echo LISTED-STATE; "
      "echo env-home=$HOME; echo probes-done";
  json spec = {{"name", "probe"}, {"duration", "1h"}, {"policy", "now"}};
  spec["local"]["command"] = json::array({"/bin/sh", "-c", script});
  const int submitted =
      user.run([&] { return call(socket, "POST", "/v1/jobs", spec.dump()).status == 201 ? 0 : 1; });
  ASSERT_EQ(submitted, 0);
  std::string id;
  const auto listed = call(socket, "GET", "/v1/jobs").json();
  for (const auto& job : listed["jobs"]) {
    if (job["name"] == "probe") id = job["id"];
  }
  ASSERT_FALSE(id.empty());
  const auto ended = wait_for_end(socket, id);
  ASSERT_EQ(ended["state"], "succeeded") << ended.dump() << daemon->stderr_text();
  EXPECT_EQ(ended["owner_uid"], user.uid());

  const auto job_dir = state / "jobs" / id;
  struct stat st {};
  ASSERT_EQ(::stat(job_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, user.uid());
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  const std::string output = read_file(job_dir / "output.log");
  ASSERT_NE(output.find("probes-done"), std::string::npos) << output;
  std::istringstream lines(output);
  std::string uid_line;
  std::string gid_line;
  std::getline(lines, uid_line);
  std::getline(lines, gid_line);
  EXPECT_EQ(uid_line, std::to_string(user.uid())) << output;
  EXPECT_EQ(gid_line, std::to_string(user.gid())) << output;
  for (const char* leaked :
       {"READ-ENVIRON", "READ-CREDENTIAL", "LISTED-CREDENTIALS", "READ-DATABASE", "READ-OTHER-JOB",
        "LISTED-STATE", "environment-SECRET-93be", "credential-SECRET-7a1c", "root-output-8d2e",
        "SQLite format"}) {
    EXPECT_EQ(output.find(leaked), std::string::npos) << leaked << " in:\n" << output;
  }
  EXPECT_NE(output.find("Permission denied"), std::string::npos) << output;
  EXPECT_NE(output.find("env-home=" + job_dir.string()), std::string::npos) << output;
  // The daemon's process record is its own, out of the job's reach.
  ASSERT_EQ(::stat((state / "jobs" / ".gridshift" / (id + ".json")).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_FALSE(fs::exists(job_dir / "process.json"));
}

TEST(HardeningAsRoot, RunAsNamesTheUserEveryLocalJobRunsAs) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create a test user and switch to it";
  TestUser user;
  TempDir dir;
  ::chmod(dir.path().c_str(), 0711);
  const auto config =
      write_config(dir, "c.yaml", local_config(dir, "root", "{run_as: " + user.name() + "}"));
  auto daemon = start_daemon(dir.path(), config);
  ASSERT_TRUE(wait_ready(*daemon)) << daemon->stderr_text();
  const auto socket = (dir / "gridshift.sock").string();
  const std::string id = call(socket, "POST", "/v1/jobs",
                              R"({"name": "as", "duration": "1h", "policy": "now",
                                  "local": {"command": ["id", "-u"]}})")
                             .json()["id"];
  ASSERT_EQ(wait_for_end(socket, id)["state"], "succeeded") << daemon->stderr_text();
  EXPECT_EQ(read_file(dir / "state" / "jobs" / id / "output.log"),
            std::to_string(user.uid()) + "\n");
  // Root is never a run_as user.
  const auto as_root = write_config(dir, "root.yaml", local_config(dir, "root", "{run_as: root}"));
  auto r =
      run_command({GRIDSHIFTD_PATH, "--check-config", "--config", as_root.string()}, dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("dispatch.local.run_as: 'root' is root"), std::string::npos) << r.err;
}

// Root writes anywhere, so the daemon runs as the test user (setpriv) on a state_dir it may
// not write.
TEST(HardeningAsRoot, AReadOnlyStateDirIsSaidSoNotCorruption) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create a test user and switch to it";
  TestUser user;
  TempDir dir;
  ::chmod(dir.path().c_str(), 0711);
  fs::create_directories(dir / "state");
  ::chmod((dir / "state").c_str(), 0555);
  const auto config = write_config(dir, "c.yaml", annual_dataset_config(dir.path()));
  ::chmod(config.c_str(), 0644);
  const auto r = run_command({"/usr/bin/setpriv", "--reuid=" + std::to_string(user.uid()),
                              "--regid=" + std::to_string(user.gid()), "--clear-groups",
                              GRIDSHIFTD_PATH, "--config", config.string()},
                             dir.path());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("state_dir '" + (dir / "state").string() + "' is not writable by uid " +
                       std::to_string(user.uid())),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("corrupt"), std::string::npos) << r.err;
}

TEST(HardeningAsRoot, OneUsersIdleConnectionsNeverLockOutRootAndAlwaysGetA503) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to a second uid";
  TestUser user;
  TempDir dir;
  ::chmod(dir.path().c_str(), 0711);
  const auto config = write_config(
      dir, "c.yaml", config_with(dir, user.name()) + "limits: {max_connections_per_uid: 8}\n");
  auto daemon = start_daemon(dir.path(), config);
  ASSERT_TRUE(wait_ready(*daemon)) << daemon->stderr_text();
  const auto socket = (dir / "gridshift.sock").string();

  // The user holds 8 idle connections, then every further request of theirs gets a 503 (never
  // a reset or a broken pipe), while root is served.
  int ready_pipe[2];
  int done_pipe[2];
  ASSERT_EQ(::pipe(ready_pipe), 0);
  ASSERT_EQ(::pipe(done_pipe), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(ready_pipe[0]);
    ::close(done_pipe[1]);
    if (::setgroups(0, nullptr) != 0 || ::setgid(user.gid()) != 0 || ::setuid(user.uid()) != 0)
      ::_exit(99);
    std::vector<int> idle;
    for (int i = 0; i < 8; ++i) {
      int error = 0;
      idle.push_back(connect_unix(socket, error));
      if (idle.back() < 0) ::_exit(98);
    }
    // No wait needed: the daemon admits connections in the order it accepts them.
    int refused = 0;
    for (int i = 0; i < 20; ++i) {
      auto reply = call(socket, "GET", "/v1/health");
      if (reply.status == 503 && reply.error_code() == "busy") ++refused;
    }
    const char verdict = refused == 20 ? 'y' : 'n';
    [[maybe_unused]] auto n = ::write(ready_pipe[1], &verdict, 1);
    char go = 0;
    [[maybe_unused]] auto m = ::read(done_pipe[0], &go, 1);
    ::_exit(0);
  }
  ::close(ready_pipe[1]);
  ::close(done_pipe[0]);
  char verdict = 0;
  ASSERT_EQ(::read(ready_pipe[0], &verdict, 1), 1);
  EXPECT_EQ(verdict, 'y') << "some over-limit request got no 503";
  // While the user's 8 connections are open, root gets in every time.
  int served = 0;
  for (int i = 0; i < 20; ++i) {
    if (call(socket, "GET", "/v1/health").status == 200) ++served;
  }
  EXPECT_EQ(served, 20);
  ::close(done_pipe[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ::close(ready_pipe[0]);
}

}  // namespace
}  // namespace gridshift::testing
