// Crash safety (docs/design.md, "Promises", issue 8): client threads submit jobs over the socket
// while the test kills gridshiftd with SIGKILL at random moments (submits, dispatches to the fake
// Vertex AI, status polls) and restarts it on the same state. Every accepted job must be there and
// end, no job may run twice on Vertex AI, and the database must pass PRAGMA integrity_check.
// Short by default; GRIDSHIFT_LONG_TESTS=1 runs 1,000 jobs (docs/testing.md).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "promise_env.h"

namespace gridshift::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kPastSettle{5500};

struct CrashSize {
  int jobs;
  int clients;
  int max_kills;
  milliseconds max_gap;  // a kill lands in [0, max_gap] (or that plus kPastSettle) after a start
  seconds settle_limit;  // the last run's bound to bring every job to an end
};

CrashSize crash_size() {
  if (long_tests()) return {1000, 8, 100, milliseconds(3000), seconds(900)};
  return {60, 4, 8, milliseconds(1500), seconds(180)};
}

// What the clients were told: the job id each accepted submission got.
class Accepted {
 public:
  explicit Accepted(int jobs) : ids_(static_cast<std::size_t>(jobs)) {}
  // False when the same key came back with another id (idempotency broken).
  bool record(int index, const std::string& id) {
    std::lock_guard lock(mutex_);
    auto& slot = ids_[static_cast<std::size_t>(index)];
    if (!slot.empty() && slot != id) return false;
    slot = id;
    return true;
  }
  std::vector<std::string> ids() const {
    std::lock_guard lock(mutex_);
    return ids_;
  }
  std::string random_id(std::mt19937_64& rng) const {
    std::lock_guard lock(mutex_);
    const auto& pick = ids_[rng() % ids_.size()];
    return pick;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> ids_;
};

// What was going on when a kill landed.
struct KillTally {
  int total = 0;
  int during_submits = 0;     // some client still had a job without an answer
  int during_dispatches = 0;  // some job not yet created on Vertex AI
  int during_follows = 0;     // Vertex jobs still queued, pending or running
};

TEST(Crash, KilledDaemonLosesNoAcceptedJobAndDispatchesNoneTwice) {
  const CrashSize size = crash_size();
  const std::uint64_t seed = env_number("GRIDSHIFT_CRASH_SEED", std::random_device{}());
  std::cout << "crash test: seed " << seed << " (GRIDSHIFT_CRASH_SEED=" << seed << " repeats it), "
            << size.jobs << " jobs, " << size.clients << " clients, up to " << size.max_kills
            << " kills" << std::endl;
  std::mt19937_64 rng(seed);

  TempDir dir;
  FakeGoogle google;
  // Short remote jobs, so that dispatches and follows happen while the kills land.
  google.set_job_script(JobScript::succeed(milliseconds(0), milliseconds(200), milliseconds(1500)));
  const TimePoint hour = std::chrono::floor<std::chrono::hours>(std::chrono::system_clock::now());
  write_file(dir / "trace.csv",
             daily_curve_trace({"GB", "FR"}, hour - std::chrono::hours(24), 24 * 4));
  write_file(dir / "config.yaml",
             vertex_daemon_config(dir.path(), google, "tick: 1s, max_concurrent_dispatches: 1000",
                                  google.service_account_key_json()));
  const std::string socket = (dir / "gridshift.sock").string();

  int runs = 0;
  auto daemon = start_logged_daemon(dir.path(), dir / "config.yaml", runs++);
  ASSERT_TRUE(wait_serving(*daemon)) << daemon->stderr_text();

  Accepted accepted(size.jobs);
  std::atomic<int> answered{0};
  std::atomic<int> retries{0};
  std::atomic<int> status_polls{0};
  std::atomic<bool> clients_failed{false};
  std::mutex failure_mutex;
  std::string failure;
  const auto client_deadline = std::chrono::steady_clock::now() + size.settle_limit;

  // Each client owns the jobs i with i % clients == c; a connection failure or no answer means
  // "not accepted": it tries again with the same Idempotency-Key until the daemon answers.
  auto client = [&](int c) {
    std::mt19937_64 client_rng(seed + static_cast<std::uint64_t>(c) + 1);
    for (int i = c; i < size.jobs; i += size.clients) {
      const std::string key = "crash-" + std::to_string(seed) + "-" + std::to_string(i);
      const auto spec = cpu_job("crash-" + std::to_string(i), "now", "1h");
      for (;;) {
        if (std::chrono::steady_clock::now() > client_deadline) {
          std::lock_guard lock(failure_mutex);
          failure += "job " + std::to_string(i) + " was never accepted\n";
          clients_failed = true;
          return;
        }
        const auto reply = submit_job(socket, spec, key);
        if (reply.status == 201 || reply.status == 200) {
          const std::string id = reply.json().value("id", "");
          if (!accepted.record(i, id)) {
            std::lock_guard lock(failure_mutex);
            failure += "key " + key + " answered another id " + id + "\n";
            clients_failed = true;
          }
          ++answered;
          break;
        }
        if (reply.status != 0 && reply.status != 503) {
          std::lock_guard lock(failure_mutex);
          failure += "job " + std::to_string(i) + ": HTTP " + std::to_string(reply.status) + " " +
                     reply.body + "\n";
          clients_failed = true;
          return;
        }
        ++retries;
        std::this_thread::sleep_for(milliseconds(20));  // the daemon is restarting
      }
      // A status poll of some accepted job, as users do between submits.
      const auto id = accepted.random_id(client_rng);
      if (!id.empty()) {
        const auto reply = call(socket, "GET", "/v1/jobs/" + id);
        if (reply.status == 200) ++status_polls;
      }
    }
  };
  std::vector<std::thread> clients;
  for (int c = 0; c < size.clients; ++c)
    clients.emplace_back(client, c);

  auto remote_jobs_active = [&] {
    for (const auto& job : google.jobs()) {
      if (job.state == "JOB_STATE_QUEUED" || job.state == "JOB_STATE_PENDING" ||
          job.state == "JOB_STATE_RUNNING") {
        return true;
      }
    }
    return false;
  };
  auto all_terminal = [&] {
    if (answered.load() < size.jobs) return false;
    for (const auto& id : accepted.ids()) {
      const auto reply = call(socket, "GET", "/v1/jobs/" + id);
      if (reply.status != 200 || !is_terminal_state(reply.json().value("state", ""))) return false;
    }
    return true;
  };

  // The killer: a random moment after each start, SIGKILL, restart on the same state.
  KillTally kills;
  std::uniform_int_distribution<long> gap(0, size.max_gap.count());
  while (kills.total < size.max_kills && !clients_failed) {
    // While clients still submit, kills come quickly so that several land among the submits.
    // Afterwards every other kill waits past the daemon's LIST settle delay (5 s), which a
    // restart spends reconciling a job it found dispatching: kills that always came sooner
    // would keep every run in that reconciliation, never reaching creates and polls.
    if (kills.during_submits >= size.max_kills / 2) {
      // Half of the kills among submits at most: the rest go to dispatches and polls.
      wait_until([&] { return answered.load() >= size.jobs || clients_failed; }, size.settle_limit);
    }
    milliseconds pause = milliseconds(gap(rng));
    if (answered.load() < size.jobs) {
      pause /= 8;
    } else if (rng() % 2 == 0) {
      pause += kPastSettle;
    }
    const auto moment = std::chrono::steady_clock::now() + pause;
    wait_until([&] { return std::chrono::steady_clock::now() >= moment; }, pause);
    if (all_terminal()) break;
    const bool submitting = answered.load() < size.jobs;
    std::set<std::string> created;
    for (const auto& job : google.jobs())
      created.insert(job.labels.count("gridshift-job") ? job.labels.at("gridshift-job") : "");
    const bool dispatching = static_cast<int>(created.size()) < size.jobs;
    const bool following = remote_jobs_active();
    daemon->signal(SIGKILL);
    ASSERT_EQ(daemon->wait_exit(), 128 + SIGKILL) << daemon->stderr_text();
    ++kills.total;
    kills.during_submits += submitting ? 1 : 0;
    kills.during_dispatches += dispatching ? 1 : 0;
    kills.during_follows += following ? 1 : 0;
    daemon = start_logged_daemon(dir.path(), dir / "config.yaml", runs++);
    ASSERT_TRUE(wait_serving(*daemon)) << "restart " << runs - 1 << ": " << daemon->stderr_text();
  }

  for (auto& t : clients)
    t.join();
  ASSERT_FALSE(clients_failed) << failure;
  ASSERT_EQ(answered.load(), size.jobs);

  // The last run is left alone until every accepted job has ended.
  const auto settle_started = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until(all_terminal, size.settle_limit)) << "jobs still not terminal; last log:\n"
                                                           << daemon->stderr_text();
  const auto settle_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - settle_started).count();

  // Every accepted job is present and ended well, exactly once on Vertex AI.
  const auto ids = accepted.ids();
  std::set<std::string> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), ids.size()) << "two keys were given the same job";
  int succeeded = 0;
  int duplicates_created = 0;
  int jobs_with_duplicates = 0;
  std::map<std::string, int> by_state;
  // One snapshot of the fake's jobs by label (jobs_with_label copies every job per call).
  const auto all_remote = google.jobs();
  std::map<std::string, std::vector<FakeJob>> remote_by_job;
  for (const auto& r : all_remote) {
    if (auto label = r.labels.find("gridshift-job"); label != r.labels.end()) {
      remote_by_job[label->second].push_back(r);
    }
  }
  for (const auto& id : ids) {
    const auto reply = call(socket, "GET", "/v1/jobs/" + id);
    ASSERT_EQ(reply.status, 200) << id << " was accepted but is gone: " << reply.body;
    const auto job = reply.json();
    ++by_state[job.value("state", "?")];
    if (job["state"] == "succeeded") ++succeeded;
    EXPECT_EQ(job["state"], "succeeded") << job.dump(2);

    const auto& remote = remote_by_job[id];
    std::vector<FakeJob> kept;
    for (const auto& r : remote) {
      if (r.state != "JOB_STATE_CANCELLED" && r.state != "JOB_STATE_CANCELLING") kept.push_back(r);
    }
    if (remote.size() > 1) {
      duplicates_created += static_cast<int>(remote.size()) - 1;
      ++jobs_with_duplicates;
    }
    ASSERT_EQ(kept.size(), 1u) << id << ": " << remote.size() << " Vertex jobs, " << kept.size()
                               << " not cancelled\n"
                               << job.dump(2);
    EXPECT_EQ(job["remote_name"], kept[0].name) << job.dump(2);
  }
  EXPECT_EQ(succeeded, size.jobs);

  // Nothing more than what the clients submitted.
  const auto report = call(socket, "GET", "/v1/report");
  ASSERT_EQ(report.status, 200) << report.body;
  EXPECT_EQ(report.json()["jobs"]["total"], size.jobs) << report.body;

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
  EXPECT_EQ(integrity_check(dir / "state" / "gridshift.db"), "ok");

  const auto adopted = daemon_log_lines(dir.path(), runs, "adopted");
  const auto cancelled_duplicates = daemon_log_lines(dir.path(), runs, "cancelling duplicate");
  const auto requeued = daemon_log_lines(dir.path(), runs, "requeued after restart");
  // What the killed runs (all but the last) got done before their kill.
  const int killed_runs = runs - 1;
  const auto killed_creates = daemon_log_lines(dir.path(), killed_runs, "creating CustomJob in");
  const auto killed_ends = daemon_log_lines(dir.path(), killed_runs, " ended succeeded");
  const auto reused_buckets = daemon_log_lines(dir.path(), runs, "reusing staging bucket");
  const auto sanitizer = sanitizer_reports(dir.path(), runs);
  EXPECT_TRUE(sanitizer.empty()) << sanitizer.front();
  for (const auto& line : cancelled_duplicates)
    std::cout << line << "\n";
  std::cout << "crash test: seed " << seed << ": " << kills.total << " kills survived ("
            << kills.during_submits << " during submits, " << kills.during_dispatches
            << " before every job was created on Vertex AI, " << kills.during_follows
            << " while Vertex jobs ran), " << size.jobs << " jobs accepted (" << retries.load()
            << " retried submits, " << status_polls.load() << " status polls), " << succeeded
            << " succeeded, " << all_remote.size() << " Vertex jobs created, " << duplicates_created
            << " duplicate creates (" << jobs_with_duplicates << " jobs; "
            << cancelled_duplicates.size() << " cancelled by the daemon), " << adopted.size()
            << " adoption log lines, " << requeued.size() << " requeues after restart, "
            << google.count("POST", "*/customJobs") << " create requests (" << killed_creates.size()
            << " by killed runs, which saw " << killed_ends.size() << " Vertex jobs end), "
            << reused_buckets.size() << " staging buckets found already made; last run settled in "
            << settle_seconds << " s" << std::endl;
}

}  // namespace
}  // namespace gridshift::testing
