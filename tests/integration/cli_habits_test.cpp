// The CLI as a new user meets it, through the real binaries against a real gridshiftd (local
// target, the bundled annual dataset): `run -- CMD` with a relative deadline, the plan echoed,
// `wait` and `logs` by name or id prefix, local clock times, "did you mean", --json errors on
// stdout, the daemon's field errors placed on the file's lines, `health` exit codes, a trace
// replayed with shift_to: now, and the completion scripts.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <ctime>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "core/time.h"
#include "support/daemon_fixture.h"
#include "support/hourly_series.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

using nlohmann::json;

class CliHabits : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = annual_dataset_config(dir_.path());
    const std::string dry = "dispatch: {type: dry_run}\n";
    // A relative workdir, as in config.example.yaml: jobs must still get absolute paths.
    config.replace(config.find(dry), dry.size(),
                   "scheduler: {tick: 1s}\ndispatch: {type: local, local: {workdir: jobs}}\n");
    write_file(dir_ / "config.yaml", config);
    ProcessOptions options;
    options.argv = {GRIDSHIFTD_PATH, "--config", (dir_ / "config.yaml").string()};
    options.cwd = dir_.path();
    options.unset_env = {"JOURNAL_STREAM"};
    options.stdout_path = dir_ / "daemon.out";
    options.stderr_path = dir_ / "daemon.err";
    daemon_ = std::make_unique<ChildProcess>(options);
    ASSERT_TRUE(wait_ready(*daemon_)) << daemon_->stderr_text();
  }

  void TearDown() override {
    daemon_->signal(SIGTERM);
    EXPECT_EQ(daemon_->wait_exit(), 0) << daemon_->stderr_text();
  }

  CommandResult cli(std::vector<std::string> args) { return cli_.run(std::move(args)); }

  TempDir dir_;
  CliRunner cli_{dir_.path(), (dir_ / "gridshift.sock").string()};
  std::unique_ptr<ChildProcess> daemon_;
};

TEST_F(CliHabits, RunWaitAndLogsFollowALocalCommandByNameAndIdPrefix) {
  auto r = cli({"run", "--name", "hello-run", "--deadline", "+3h", "--duration", "1m", "--",
                "/bin/sh", "-c", "echo home=$HOME; echo out=$GRIDSHIFT_OUTPUT_DIR"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("submitted j-"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("plan: europe-west2"), std::string::npos) << r.out;
  const std::string id = r.out.substr(r.out.find("j-"), 22);

  r = cli({"wait", "hello-run"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(id + " (hello-run) succeeded"), std::string::npos) << r.out;

  r = cli({"logs", id.substr(0, 8)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string job_dir = (dir_ / "jobs" / id).string();
  EXPECT_EQ(r.out, "home=" + job_dir + "\nout=" + job_dir + "\n");

  r = cli({"show", id.substr(0, 10)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("output:"), std::string::npos) << r.out;
  const auto job = cli_.show(id);
  EXPECT_EQ(job["log"], job_dir + "/output.log");
  // The deadline was counted from the submission, by the daemon.
  const auto submitted = parse_rfc3339(job["submitted_at"].get<std::string>());
  const auto deadline = parse_rfc3339(job["deadline"].get<std::string>());
  ASSERT_TRUE(submitted && deadline);
  EXPECT_EQ(*deadline - *submitted, std::chrono::hours(3));

  // A job that fails makes `wait` exit 1.
  r = cli({"run", "--name", "doomed", "--", "/bin/sh", "-c", "exit 4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = cli({"wait", "doomed", "hello-run"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("(doomed) failed"), std::string::npos) << r.out;
}

TEST_F(CliHabits, SubmitFlagsOverrideTheSpecAndLocalTimesResolveInTheCallersZone) {
  write_file(dir_ / "spec.yaml", "name: from-file\nduration: 2h\nlocal: {command: [/bin/true]}\n");
  auto r = cli({"submit", (dir_ / "spec.yaml").string(), "--name", "from-flags", "--deadline",
                "tomorrow 08:00", "--not-before", "+1h", "--region", "europe-west2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto job = json::parse(r.out);
  EXPECT_EQ(job["name"], "from-flags");
  const auto deadline = parse_rfc3339(job["deadline"].get<std::string>());
  ASSERT_TRUE(deadline);
  // 08:00 on the caller's next calendar day, whatever the zone of this machine.
  const std::time_t seconds = deadline->time_since_epoch().count();
  std::tm local{};
  ::localtime_r(&seconds, &local);
  EXPECT_EQ(local.tm_hour, 8);
  EXPECT_EQ(local.tm_min, 0);
  const auto now = std::chrono::floor<Seconds>(std::chrono::system_clock::now());
  EXPECT_GT(*deadline, now + std::chrono::hours(1));
  EXPECT_LE(*deadline, now + std::chrono::hours(49));
  EXPECT_EQ(job["spec"]["not_before"].is_string(), true) << job.dump(2);
}

TEST_F(CliHabits, ErrorsNameTheLineAndOfferWhatWasMeant) {
  // A field error found by the CLI itself.
  write_file(dir_ / "typo.yaml", "name: typo\nduration: 1h\ndeadlin: +4h\n");
  auto r = cli({"submit", (dir_ / "typo.yaml").string(), "--json"});
  EXPECT_EQ(r.exit_code, 2);
  auto error = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(error.is_object()) << r.out;
  EXPECT_EQ(error["error"]["code"], "invalid_job");
  EXPECT_EQ(error["error"]["details"][0]["field"], "deadlin");
  EXPECT_EQ(error["error"]["details"][0]["line"], 3);
  EXPECT_NE(r.err.find("typo.yaml:3: deadlin: unknown field; did you mean 'deadline'?"),
            std::string::npos)
      << r.err;

  // A field error only the daemon can find (its regions) lands on the file's line too.
  write_file(dir_ / "region.yaml",
             "name: elsewhere\nduration: 1h\n\nregions:\n  - mars-north1\nlocal: {command: "
             "[/bin/true]}\n");
  r = cli({"submit", (dir_ / "region.yaml").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("region.yaml:4: regions[0]: unknown region mars-north1"), std::string::npos)
      << r.err;

  r = cli({"jbos"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'jbos' (did you mean 'jobs'?)"), std::string::npos)
      << r.err;
  r = cli({"status", "--json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'status'"), std::string::npos) << r.err;
  EXPECT_EQ(json::parse(r.out, nullptr, false)["error"]["code"], "invalid_usage") << r.out;

  r = cli({"show", "no-such-job", "--json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(json::parse(r.out, nullptr, false)["error"]["code"], "not_found") << r.out;
  EXPECT_NE(r.err.find("no job with the id, id prefix or name 'no-such-job'"), std::string::npos)
      << r.err;

  // Two jobs share the prefix "j-": ambiguous, and both are listed.
  ASSERT_FALSE(cli_.submit("name: one\nduration: 1h\nlocal: {command: [/bin/true]}\n").empty());
  ASSERT_FALSE(cli_.submit("name: two\nduration: 1h\nlocal: {command: [/bin/true]}\n").empty());
  r = cli({"show", "j-"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("matches 2 jobs"), std::string::npos) << r.err;
}

TEST_F(CliHabits, HealthExitsZeroWhenOkAndJobsShowsAPlannedColumn) {
  auto r = cli({"health"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("status: ok"), std::string::npos) << r.out;
  // Not a terminal: no colour escapes.
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  // On a terminal (script(1) gives the CLI a pseudo-terminal) states are coloured, unless
  // NO_COLOR is set.
  const std::string on_tty = std::string(GRIDSHIFT_CLI_PATH) + " --socket " +
                             (dir_ / "gridshift.sock").string() + " health";
  auto coloured = run_command({"/usr/bin/script", "-qec", on_tty, "/dev/null"}, dir_.path());
  EXPECT_NE(coloured.out.find("\x1b[32mok\x1b[0m"), std::string::npos) << coloured.out;
  auto plain = run_command(
      {"/usr/bin/env", "NO_COLOR=1", "/usr/bin/script", "-qec", on_tty, "/dev/null"}, dir_.path());
  EXPECT_NE(plain.out.find("status: ok"), std::string::npos) << plain.out;
  EXPECT_EQ(plain.out.find('\x1b'), std::string::npos) << plain.out;
  ASSERT_FALSE(cli_.submit("name: listed\nduration: 1h\nlocal: {command: [/bin/true]}\n").empty());
  r = cli({"jobs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("PLANNED"), std::string::npos) << r.out;
}

TEST(CliCompletion, TheBashScriptIsValidAndKnowsEverySubcommand) {
  TempDir dir;
  auto r = run_command({GRIDSHIFT_CLI_PATH, "completion", "bash"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* word : {"submit", "run", "logs", "wait", "report", "--deadline", "--follow"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
  write_file(dir / "gridshift.bash", r.out);
  auto syntax = run_command({"/bin/bash", "-n", (dir / "gridshift.bash").string()}, dir.path());
  EXPECT_EQ(syntax.exit_code, 0) << syntax.err;
  for (const char* shell : {"zsh", "fish"}) {
    auto script = run_command({GRIDSHIFT_CLI_PATH, "completion", shell}, dir.path());
    EXPECT_EQ(script.exit_code, 0) << script.err;
    EXPECT_NE(script.out.find("logs"), std::string::npos) << shell;
  }
  auto bad = run_command({GRIDSHIFT_CLI_PATH, "completion", "tcsh"}, dir.path());
  EXPECT_EQ(bad.exit_code, 2);
}

// docs/cli.md and the man page name every subcommand and every flag the CLI has (the fish
// completion lists them, from the CLI's own definition).
TEST(CliDocs, TheGuideAndTheManPageNameEveryCommandAndFlag) {
  TempDir dir;
  auto fish = run_command({GRIDSHIFT_CLI_PATH, "completion", "fish"}, dir.path());
  ASSERT_EQ(fish.exit_code, 0) << fish.err;
  const std::string guide = read_file(std::string(GRIDSHIFT_SOURCE_DIR) + "/docs/cli.md");
  const std::string man = read_file(std::string(GRIDSHIFT_SOURCE_DIR) + "/docs/gridshift.1");
  const auto man_form = [](std::string text) { return replace_all(text, "-", "\\-"); };
  std::size_t commands = 0;
  std::size_t flags = 0;
  std::istringstream lines(fish.out);
  for (std::string line; std::getline(lines, line);) {
    const auto command_at = line.find("__fish_use_subcommand' -a ");
    if (command_at != std::string::npos) {
      const auto start = command_at + std::string("__fish_use_subcommand' -a ").size();
      const auto name = line.substr(start, line.find(' ', start) - start);
      ++commands;
      EXPECT_NE(guide.find("`" + name), std::string::npos) << "docs/cli.md lacks " << name;
      EXPECT_TRUE(std::regex_search(man, std::regex("\n\\.B[IR]? \"?" + name + "\\b")))
          << "gridshift.1 lacks " << name;
      continue;
    }
    const auto flag_at = line.find(" -l ");
    if (flag_at == std::string::npos) continue;
    const auto flag = "--" + line.substr(flag_at + 4);
    if (flag == "--help") continue;
    ++flags;
    EXPECT_NE(guide.find(flag), std::string::npos) << "docs/cli.md lacks " << flag;
    EXPECT_NE(man.find(man_form(flag)), std::string::npos) << "gridshift.1 lacks " << flag;
  }
  EXPECT_GE(commands, 15u);
  EXPECT_GE(flags, 30u);
  // The man page's examples use real id shapes.
  EXPECT_NE(man.find("j\\-4k2m9x0c7q1w5e8r3t6y"), std::string::npos);
}

// A daemon that accepts and never answers: the CLI gives up after --request-timeout with a clear
// error (before, its socket timeouts did not bound Asio's blocking reads, and it waited for ever).
TEST(CliTimeout, ASilentDaemonIsAnErrorAfterTheTimeout) {
  TempDir dir;
  const auto path = (dir / "silent.sock").string();
  const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);  // the kernel accepts; nobody reads or writes
  auto r = run_command(
      {GRIDSHIFT_CLI_PATH, "--socket", path, "--request-timeout", "1s", "jobs", "--json"},
      dir.path());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("did not answer within 1 s"), std::string::npos) << r.err;
  EXPECT_EQ(json::parse(r.out, nullptr, false)["error"]["code"], "daemon_timeout") << r.out;
  auto bad = run_command(
      {GRIDSHIFT_CLI_PATH, "--socket", path, "--request-timeout", "soon", "jobs"}, dir.path());
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  ::close(listener);
}

// A trace of another year replays nothing today: health says so and exits 1; with
// shift_to: now the same trace serves readings.
TEST(TraceReplay, AnOldTraceIsDegradedUntilShiftedToNow) {
  for (const bool shifted : {false, true}) {
    TempDir dir;
    // Two days of July 2021.
    write_file(dir / "trace.csv",
               trace_csv({"GB"}, *parse_rfc3339("2021-07-01T00:00:00Z"), 48,
                         [](std::size_t, int hour) { return 100.0 + (hour % 24) * 5.0; }));
    std::string trace_feed =
        "{name: replay, type: trace_file, actuals: " + (dir / "trace.csv").string() +
        ", poll_interval: 1m" + (shifted ? ", shift_to: now}" : "}");
    std::string config = annual_dataset_config(dir.path());
    config = config.substr(0, config.find("  - {name: annual")) + "  - " + trace_feed +
             "\nregions:\n  - {name: europe-west2, feeds: [replay], location: GB}\n"
             "dispatch: {type: dry_run}\n";
    write_file(dir / "config.yaml", config);
    auto daemon = start_daemon(dir.path(), dir / "config.yaml");
    ASSERT_TRUE(wait_ready(*daemon)) << daemon->stderr_text();
    CliRunner cli(dir.path(), (dir / "gridshift.sock").string());
    CommandResult r;
    // The first poll runs at start; wait for its verdict.
    wait_until([&] {
      r = cli.run({"health"});
      return r.out.find("pending") == std::string::npos &&
             r.out.find("status:") != std::string::npos;
    });
    if (shifted) {
      EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
      auto regions = cli.run({"regions", "--json"});
      const auto body = json::parse(regions.out, nullptr, false);
      ASSERT_TRUE(body.is_object()) << regions.out << regions.err;
      EXPECT_TRUE(body["regions"][0]["intensity"].is_number()) << body.dump(2);
    } else {
      EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
      EXPECT_NE(r.out.find("0 readings near now"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find("problem:"), std::string::npos) << r.out;
    }
    daemon->signal(SIGTERM);
    EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
  }
}

}  // namespace
}  // namespace gridshift::testing
