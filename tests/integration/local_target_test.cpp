// The local dispatcher with real processes in a temporary workdir: success, failure, a missing
// program, cancel by SIGTERM and by SIGKILL, the job's environment, and a daemon restart.
#include "deploy/local/local_target.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "support/process.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

const TimePoint kStart = *parse_rfc3339("2026-11-26T18:00:00Z");
constexpr const char* kRegion = "europe-west2";

Job make_job(const std::string& id, std::vector<std::string> command) {
  Job job;
  job.id = id;
  job.owner_uid = ::getuid();  // runs as its owner: the test's own user
  job.spec.name = "train-" + id;
  job.spec.duration = Seconds(3600);
  job.spec.local = LocalSpec{std::move(command)};
  job.region = kRegion;
  return job;
}

// Runs one operation of the target to completion on `io`.
template <class T>
T run(asio::io_context& io, asio::awaitable<T> operation) {
  std::optional<T> out;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(operation), [&](std::exception_ptr e, T value) {
    failure = e;
    if (!e) out.emplace(std::move(value));
  });
  io.restart();
  while (!out && !failure)
    io.run_one();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

// Runs the io_context (pidfd watches, kill timers) until `done` holds or `limit` passes.
bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::seconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_for(20ms);
  }
  return true;
}

// Running, and not a zombie, as /proc says.
bool process_running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

class LocalTargetTest : public ::testing::Test {
 protected:
  ~LocalTargetTest() override {
    // Whatever a failed test left running; only our own unreaped children are signalled.
    for (pid_t pid : pids_) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == 0) {
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &status, 0);
      }
    }
  }

  std::filesystem::path workdir() const { return dir_.path() / "jobs"; }

  std::unique_ptr<LocalTarget> make_target(std::chrono::milliseconds grace = 60s) {
    LocalDispatchConfig config;
    config.workdir = workdir().string();
    auto target = std::make_unique<LocalTarget>(io_.get_executor(), config, clock_, grace);
    target->on_exit([this] { ++exits_; });
    return target;
  }

  // Creates the job and returns it as the scheduler keeps it (remote name, start).
  Job start(LocalTarget& target, Job job) {
    auto started = run(io_, target.create(job, kRegion));
    EXPECT_TRUE(started) << (started ? "" : to_string(started.error()));
    if (!started) return job;
    job.state = JobState::running;
    job.remote_name = started->remote_name;
    job.started_at = started->started_at;
    pids_.push_back(pid_in_record(job.id));
    return job;
  }

  nlohmann::json record(const std::string& job_id) const {
    return nlohmann::json::parse(testing::read_file(record_path(job_id)));
  }
  // The daemon's record of a job's process, out of the job's reach.
  std::filesystem::path record_path(const std::string& job_id) const {
    return workdir() / ".gridshift" / (job_id + ".json");
  }
  pid_t pid_in_record(const std::string& job_id) const {
    return record(job_id).at("pid").get<pid_t>();
  }
  std::string output(const std::string& job_id) const {
    return testing::read_file(workdir() / job_id / "output.log");
  }

  RemoteStatus poll(LocalTarget& target, const Job& job) {
    auto status = run(io_, target.poll(job));
    EXPECT_TRUE(status) << (status ? "" : to_string(status.error()));
    return status ? *status : RemoteStatus{};
  }

  // Runs until `target` has reported `count` ends through on_exit.
  bool wait_for_exits(int count) {
    return run_until(io_, [&] { return exits_ >= count; });
  }

  testing::TempDir dir_;
  asio::io_context io_;
  ManualClock clock_{kStart};
  int exits_ = 0;
  std::vector<pid_t> pids_;
};

TEST_F(LocalTargetTest, SucceedsWithOutputInTheJobDirectory) {
  auto target = make_target();
  auto job = start(*target, make_job("hello", {"/bin/sh", "-c", "echo hello; pwd"}));
  ASSERT_TRUE(job.remote_name);
  const auto dir = workdir() / "hello";
  EXPECT_EQ(*job.remote_name, "local/hello/" + std::to_string(pid_in_record("hello")));
  EXPECT_EQ(job.started_at, kStart);
  struct stat info {};
  ASSERT_EQ(::stat(dir.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  EXPECT_EQ(info.st_uid, ::getuid());
  EXPECT_FALSE(std::filesystem::exists(dir / "process.json"));

  clock_.set(kStart + Seconds(90));
  ASSERT_TRUE(wait_for_exits(1));
  const auto status = poll(*target, job);
  EXPECT_EQ(status.state, JobState::succeeded);
  EXPECT_EQ(status.message, "");
  EXPECT_EQ(status.finished_at, kStart + Seconds(90));
  EXPECT_EQ(status.started_at, kStart);
  // The command ran in the job directory.
  EXPECT_EQ(output("hello"), "hello\n" + dir.string() + "\n");
}

TEST_F(LocalTargetTest, TrueSucceedsAndLeavesAnEmptyLog) {
  auto target = make_target();
  auto job = start(*target, make_job("true", {"/bin/true"}));
  ASSERT_TRUE(wait_for_exits(1));
  EXPECT_EQ(poll(*target, job).state, JobState::succeeded);
  EXPECT_TRUE(std::filesystem::exists(workdir() / "true" / "output.log"));
  EXPECT_EQ(output("true"), "");
  EXPECT_EQ(record("true").at("outcome").at("state"), "succeeded");
}

TEST_F(LocalTargetTest, FailureReportsTheExitStatusAndStderrIsLogged) {
  auto target = make_target();
  auto job = start(*target, make_job("three", {"/bin/sh", "-c", "echo broken >&2; exit 3"}));
  clock_.set(kStart + Seconds(60));
  ASSERT_TRUE(wait_for_exits(1));
  const auto status = poll(*target, job);
  EXPECT_EQ(status.state, JobState::failed);
  EXPECT_EQ(status.message, "exited with status 3");
  EXPECT_EQ(status.finished_at, kStart + Seconds(60));
  EXPECT_EQ(output("three"), "broken\n");

  // A repeated poll (the scheduler could not record the end) says the same, from process.json.
  clock_.set(kStart + Seconds(600));
  const auto again = poll(*target, job);
  EXPECT_EQ(again.state, JobState::failed);
  EXPECT_EQ(again.message, "exited with status 3");
  EXPECT_EQ(again.finished_at, kStart + Seconds(60));
}

TEST_F(LocalTargetTest, MissingProgramFailsTheCreateClearly) {
  auto target = make_target();
  const auto job = make_job("missing", {"gridshift-no-such-program", "--flag"});
  auto started = run(io_, target->create(job, kRegion));
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, "spawn_failed");
  EXPECT_NE(started.error().message.find("'gridshift-no-such-program'"), std::string::npos)
      << started.error().message;
  EXPECT_NE(started.error().message.find("No such file or directory"), std::string::npos)
      << started.error().message;
  EXPECT_FALSE(std::filesystem::exists(record_path("missing")));
}

TEST_F(LocalTargetTest, JobWithoutCommandNamesTheField) {
  auto target = make_target();
  auto no_local = make_job("nolocal", {});
  no_local.spec.local.reset();
  for (const auto& job : {no_local, make_job("empty", {})}) {
    auto started = run(io_, target->create(job, kRegion));
    ASSERT_FALSE(started);
    EXPECT_EQ(started.error().code, "invalid_job");
    ASSERT_EQ(started.error().details.size(), 1u);
    EXPECT_EQ(started.error().details[0].field, "local.command");
  }
}

TEST_F(LocalTargetTest, CancelStopsWithSigtermWithinTheGrace) {
  auto target = make_target(60s);  // longer than the test may take: SIGKILL never comes into it
  auto job = start(*target, make_job("sleeper", {"sleep", "30"}));
  // At most once: creating again while it runs returns the same process.
  auto again = run(io_, target->create(job, kRegion));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->remote_name, *job.remote_name);
  EXPECT_EQ(poll(*target, job).state, JobState::running);

  ASSERT_TRUE(run(io_, target->cancel(job)));
  ASSERT_TRUE(run(io_, target->cancel(job)));  // idempotent
  ASSERT_TRUE(wait_for_exits(1));
  const auto status = poll(*target, job);
  EXPECT_EQ(status.state, JobState::cancelled);
  EXPECT_EQ(status.message, "killed by signal 15 (SIGTERM)");
  // Cancelling a job that has ended is a success too.
  EXPECT_TRUE(run(io_, target->cancel(job)));
}

TEST_F(LocalTargetTest, CancelKillsAProcessIgnoringSigtermAfterTheGrace) {
  auto target = make_target(100ms);
  auto job =
      start(*target, make_job("stubborn", {"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 30"}));
  // The trap must be in place before the SIGTERM, or the shell dies of it.
  ASSERT_TRUE(run_until(io_, [&] { return output("stubborn") == "ready\n"; }));
  ASSERT_TRUE(run(io_, target->cancel(job)));
  ASSERT_TRUE(wait_for_exits(1));
  const auto status = poll(*target, job);
  EXPECT_EQ(status.state, JobState::cancelled);
  EXPECT_EQ(status.message, "killed by signal 9 (SIGKILL)");
}

TEST_F(LocalTargetTest, CancelReachesTheJobsChildren) {
  auto target = make_target();
  auto job =
      start(*target, make_job("family", {"/bin/sh", "-c", "sleep 30 & echo $! > child.pid; wait"}));
  const auto pid_file = workdir() / "family" / "child.pid";
  ASSERT_TRUE(run_until(io_, [&] {
    const auto text = testing::read_file(pid_file);
    return !text.empty() && text.back() == '\n';
  }));
  const pid_t child = std::stoi(testing::read_file(pid_file));
  ASSERT_TRUE(process_running(child));
  ASSERT_TRUE(run(io_, target->cancel(job)));
  ASSERT_TRUE(wait_for_exits(1));
  EXPECT_EQ(poll(*target, job).state, JobState::cancelled);
  EXPECT_TRUE(run_until(io_, [&] { return !process_running(child); }));
}

TEST_F(LocalTargetTest, JobSeesOnlyItsOwnEnvironment) {
  ::setenv("WATTTIME_PASSWORD", "planted-secret", 1);
  ::setenv("ELECTRICITYMAPS_TOKEN", "planted-token", 1);
  auto target = make_target();
  auto job = start(*target, make_job("env", {"env"}));
  ASSERT_TRUE(wait_for_exits(1));
  ::unsetenv("WATTTIME_PASSWORD");
  ::unsetenv("ELECTRICITYMAPS_TOKEN");
  EXPECT_EQ(poll(*target, job).state, JobState::succeeded);

  const auto text = output("env");
  EXPECT_EQ(text.find("planted"), std::string::npos) << text;
  std::map<std::string, std::string> env;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find('=');
    ASSERT_NE(eq, std::string::npos) << line;
    env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  const auto dir = (workdir() / "env").string();
  std::set<std::string> names;
  for (const auto& [name, value] : env)
    names.insert(name);
  EXPECT_EQ(names, (std::set<std::string>{"PATH", "HOME", "USER", "LOGNAME", "LANG",
                                          "GRIDSHIFT_JOB_ID", "GRIDSHIFT_JOB_NAME",
                                          "GRIDSHIFT_REGION", "GRIDSHIFT_OUTPUT_DIR"}));
  EXPECT_EQ(env["HOME"], dir);
  const passwd* me = ::getpwuid(::getuid());
  ASSERT_NE(me, nullptr);
  EXPECT_EQ(env["USER"], me->pw_name);
  EXPECT_EQ(env["LOGNAME"], me->pw_name);
  EXPECT_EQ(env["GRIDSHIFT_OUTPUT_DIR"], dir);
  EXPECT_EQ(env["LANG"], "C.UTF-8");
  EXPECT_EQ(env["GRIDSHIFT_JOB_ID"], "env");
  EXPECT_EQ(env["GRIDSHIFT_JOB_NAME"], "train-env");
  EXPECT_EQ(env["GRIDSHIFT_REGION"], kRegion);
  EXPECT_FALSE(env["PATH"].empty());
}

// An end first noticed by a cancel (the process died before the exit watch ran) still reaches
// the scheduler: before, the cancel's check dropped the watch and nobody was told (seen as a
// flaky CancelStopsWithSigtermWithinTheGrace in CI).
TEST_F(LocalTargetTest, AnEndSeenFirstByACancelIsStillReported) {
  auto target = make_target(60s);
  auto job = start(*target, make_job("quick-death", {"sleep", "30"}));
  const pid_t pid = pid_in_record("quick-death");
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // A zombie now; the io_context has not run, so the watch has not fired.
  ASSERT_TRUE(testing::wait_until([&] { return !process_running(pid); }));
  exits_ = 0;
  ASSERT_TRUE(run(io_, target->cancel(job)));
  ASSERT_TRUE(wait_for_exits(1));
  // It died before the cancel was asked for: a failure, as the kill says.
  EXPECT_EQ(poll(*target, job).state, JobState::failed);
}

TEST_F(LocalTargetTest, AfterARestartALiveProcessRunsAndAGoneOneFails) {
  Job job;
  {
    auto before = make_target();
    job = start(*before, make_job("survivor", {"sleep", "30"}));
  }  // the daemon stops; its job keeps running
  const pid_t pid = pid_in_record("survivor");
  exits_ = 0;
  auto after = make_target();
  clock_.set(kStart + Seconds(300));
  auto status = poll(*after, job);
  EXPECT_EQ(status.state, JobState::running);
  EXPECT_EQ(status.started_at, kStart);

  // It ends while the restarted daemon watches, but is not that daemon's child: no exit status.
  clock_.set(kStart + Seconds(400));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(wait_for_exits(1));
  status = poll(*after, job);
  EXPECT_EQ(status.state, JobState::failed);
  EXPECT_EQ(status.message, LocalTarget::kGoneReason);
  EXPECT_EQ(status.finished_at, kStart + Seconds(400));
}

TEST_F(LocalTargetTest, AProcessThatEndedWhileTheDaemonWasDownIsGone) {
  Job job;
  {
    auto before = make_target();
    job = start(*before, make_job("lost", {"sleep", "30"}));
  }
  const pid_t pid = pid_in_record("lost");
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int wait_status = 0;
  ASSERT_EQ(::waitpid(pid, &wait_status, 0), pid);
  auto after = make_target();
  clock_.set(kStart + Seconds(500));
  const auto status = poll(*after, job);
  EXPECT_EQ(status.state, JobState::failed);
  EXPECT_EQ(status.message, LocalTarget::kGoneReason);
  EXPECT_EQ(status.finished_at, kStart + Seconds(500));
}

TEST_F(LocalTargetTest, AdoptFindsALiveProcessAndNothingForADeadOne) {
  Job live;
  Job dead;
  {
    auto before = make_target();
    live = start(*before, make_job("live", {"sleep", "30"}));
    dead = start(*before, make_job("dead", {"sleep", "30"}));
  }
  const pid_t dead_pid = pid_in_record("dead");
  ASSERT_EQ(::kill(dead_pid, SIGKILL), 0);
  int wait_status = 0;
  ASSERT_EQ(::waitpid(dead_pid, &wait_status, 0), dead_pid);

  exits_ = 0;
  auto after = make_target(60s);
  auto adopted = run(io_, after->adopt(live, kRegion));
  ASSERT_TRUE(adopted);
  ASSERT_TRUE(*adopted);
  EXPECT_EQ((*adopted)->remote_name, *live.remote_name);
  EXPECT_EQ((*adopted)->started_at, kStart);
  auto nothing = run(io_, after->adopt(dead, kRegion));
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(*nothing);
  auto never_started = run(io_, after->adopt(make_job("never", {"true"}), kRegion));
  ASSERT_TRUE(never_started);
  EXPECT_FALSE(*never_started);

  // The adopted process can be cancelled by the daemon that did not start it.
  ASSERT_TRUE(run(io_, after->cancel(live)));
  ASSERT_TRUE(wait_for_exits(1));
  const auto status = poll(*after, live);
  EXPECT_EQ(status.state, JobState::cancelled);
}

TEST_F(LocalTargetTest, APidWithAnotherStartTimeIsNotTheJob) {
  auto target = make_target();
  auto real = start(*target, make_job("real", {"sleep", "30"}));
  const pid_t pid = pid_in_record("real");
  // A record naming the same pid with another start time: as if the pid had been reused.
  auto forged = record("real");
  forged["start_time"] = forged.at("start_time").get<unsigned long long>() + 1;
  std::filesystem::create_directories(workdir() / "reused");
  testing::write_file(record_path("reused"), forged.dump());
  Job reused = make_job("reused", {"sleep", "30"});
  reused.remote_name = "local/reused/" + std::to_string(pid);

  auto other = make_target();
  auto adopted = run(io_, other->adopt(reused, kRegion));
  ASSERT_TRUE(adopted);
  EXPECT_FALSE(*adopted);
  const auto status = poll(*other, reused);
  EXPECT_EQ(status.state, JobState::failed);
  EXPECT_EQ(status.message, LocalTarget::kGoneReason);
  // Cancelling the forged job must not touch the process that owns the pid now.
  EXPECT_TRUE(run(io_, other->cancel(reused)));
  EXPECT_EQ(poll(*target, real).state, JobState::running);
  EXPECT_TRUE(process_running(pid));
}

// A job of another user runs as that user (root can switch), or fails saying which privilege is
// missing (anyone else): never as the daemon's user.
TEST_F(LocalTargetTest, AnotherUsersJobRunsAsThatUserOrFailsNamingThePrivilege) {
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr) << "Debian has the account nobody";
  ASSERT_NE(nobody->pw_uid, ::getuid());
  ::chmod(dir_.path().c_str(), 0711);  // the job passes through to its directory
  auto target = make_target();
  Job job = make_job("other", {"/bin/sh", "-c", "id -u; id -g"});
  job.owner_uid = nobody->pw_uid;
  auto started = run(io_, target->create(job, kRegion));
  if (::geteuid() != 0) {
    ASSERT_FALSE(started);
    EXPECT_EQ(started.error().code, "spawn_failed");
    EXPECT_NE(started.error().message.find("CAP_SETUID"), std::string::npos)
        << started.error().message;
    return;
  }
  ASSERT_TRUE(started) << to_string(started.error());
  pids_.push_back(pid_in_record("other"));
  job.remote_name = started->remote_name;
  ASSERT_TRUE(wait_for_exits(1));
  EXPECT_EQ(poll(*target, job).state, JobState::succeeded);
  EXPECT_EQ(output("other"), fmt::format("{}\n{}\n", nobody->pw_uid, nobody->pw_gid));
  struct stat info {};
  ASSERT_EQ(::stat((workdir() / "other").c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, nobody->pw_uid);
  ASSERT_EQ(::stat((workdir() / "other" / "output.log").c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, nobody->pw_uid);
}

TEST_F(LocalTargetTest, AJobOfAUidWithoutAnAccountFailsClearly) {
  auto target = make_target();
  Job job = make_job("ghost", {"true"});
  job.owner_uid = 3999999;  // no passwd entry
  auto started = run(io_, target->create(job, kRegion));
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("uid 3999999 has no account on this host"),
            std::string::npos)
      << started.error().message;
}

}  // namespace
}  // namespace gridshift
