// Several hosts, one queue, through the real binaries: two gridshiftd instances share one
// PostgreSQL database (a throwaway cluster, tests/support/postgres_cluster.h) and the fake Google.
// Both serve the socket API; one leads. 200 jobs are submitted across both sockets, the leader is
// killed with SIGKILL while it dispatches, and the follower takes over within the lease,
// reconciles what was left dispatching and runs the rest: every acknowledged job exists once
// and was created on Vertex AI exactly once. A leader whose database session ends stops at once
// (exit status 3) and comes back as a follower.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "api_raw_client.h"
#include "daemon/app.h"
#include "fakes/fake_google.h"
#include "support/daemon_fixture.h"
#include "support/hourly_series.h"
#include "support/postgres_cluster.h"
#include "support/process.h"
#include "support/systemd_notify.h"

namespace gridshift::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kLeaseSeconds = 3;

nlohmann::json vertex_spec(int n) {
  return {{"name", "shared-" + std::to_string(n)},
          {"duration", "1h"},
          {"policy", "now"},
          {"regions", {"europe-west9", "europe-west2"}},
          {"vertex",
           {{"machine_type", "n1-standard-8"},
            {"accelerator_type", "NVIDIA_TESLA_T4"},
            {"accelerator_count", 1},
            {"replica_count", 1},
            {"container", {{"image_uri", "europe-docker.pkg.dev/p/r/trainer:1"}}}}}};
}

// Whether the newest STATUS= among a service manager's messages ends in `suffix`.
std::function<bool(const std::vector<std::string>&)> last_status_ends_with(std::string suffix) {
  return [suffix](const std::vector<std::string>& messages) {
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
      const auto status = status_of(*it);
      if (status.empty()) continue;
      return status.size() >= suffix.size() &&
             status.compare(status.size() - suffix.size(), suffix.size(), suffix) == 0;
    }
    return false;
  };
}

class TwoDaemons : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(cluster_.problem(), "");
    dsn_ = cluster_.create_database();
    ASSERT_FALSE(dsn_.empty()) << cluster_.problem();
    write_file(dir_ / "pg-dsn", dsn_ + "\n");
    const auto hour = std::chrono::floor<std::chrono::hours>(std::chrono::system_clock::now());
    write_file(dir_ / "trace.csv",
               trace_csv({"GB", "FR"}, hour - std::chrono::hours(6), 48,
                         [](std::size_t location, int) { return location == 0 ? 100.0 : 300.0; }));
    write_file(dir_ / "key.json", google_.service_account_key_json());
    for (const std::string name : {"a", "b"})
      write_file(dir_ / (name + ".yaml"), config(name));
  }

  void TearDown() override {
    for (auto* daemon : {a_.get(), b_.get()}) {
      if (daemon != nullptr && daemon->running()) {
        daemon->signal(SIGTERM);
        EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
      }
    }
  }

  std::string socket(const std::string& name) const { return (dir_ / (name + ".sock")).string(); }

  // `tick`: how often the leader re-plans without being woken.
  std::string config(const std::string& name, const std::string& tick = "2s") const {
    return "state_dir: " + (dir_ / name).string() +
           "\n"
           "storage: {type: postgres, dsn_file: " +
           (dir_ / "pg-dsn").string() + ", lease: " + std::to_string(kLeaseSeconds) +
           "s}\n"
           "socket: {path: " +
           socket(name) +
           ", mode: \"0660\"}\n"
           "scheduler: {tick: " +
           tick +
           "}\n"
           "feeds:\n"
           "  - {name: replay, type: trace_file, actuals: " +
           (dir_ / "trace.csv").string() +
           "}\n"
           "regions:\n"
           "  - {name: europe-west2, feeds: [replay], location: GB, pue: 1.0}\n"
           "  - {name: europe-west9, feeds: [replay], location: FR, pue: 1.0}\n" +
           google_.vertex_dispatch_yaml((dir_ / "key.json").string());
  }

  std::unique_ptr<ChildProcess> start(const std::string& name,
                                      std::map<std::string, std::string> env = {}) {
    std::filesystem::create_directories(dir_ / ("run-" + name));
    auto daemon = start_daemon(dir_ / ("run-" + name), dir_ / (name + ".yaml"), std::move(env));
    EXPECT_TRUE(wait_ready(*daemon)) << daemon->stderr_text();
    return daemon;
  }

  nlohmann::json leadership(const std::string& name) const {
    auto health = call(socket(name), "GET", "/v1/health");
    if (health.status != 200 && health.status != 503) return nullptr;
    return health.json().value("leadership", nlohmann::json());
  }
  bool leads(const std::string& name) const {
    auto l = leadership(name);
    return l.is_object() && l.value("leading", false);
  }

  // Every job the store holds, through `name`'s socket (all pages).
  std::vector<nlohmann::json> all_jobs(const std::string& name) const {
    std::vector<nlohmann::json> out;
    std::string after;
    for (;;) {
      auto page = call(socket(name), "GET",
                       "/v1/jobs?limit=100" + (after.empty() ? "" : "&after=" + after));
      EXPECT_EQ(page.status, 200) << page.body;
      if (page.status != 200) return out;
      const auto body = page.json();
      for (const auto& job : body["jobs"])
        out.push_back(job);
      if (!body.contains("next") || body["next"].is_null()) return out;
      after = body["next"].get<std::string>();
    }
  }

  static PostgresCluster& cluster_ref() {
    static PostgresCluster cluster;
    return cluster;
  }

  PostgresCluster& cluster_ = cluster_ref();
  std::string dsn_;
  TempDir dir_;
  FakeGoogle google_;
  std::unique_ptr<ChildProcess> a_;
  std::unique_ptr<ChildProcess> b_;
};

TEST_F(TwoDaemons, OneLeadsBothServeAndAnIdempotencyKeyHoldsAcrossInstances) {
  // A tick far beyond the waits below: a job submitted on the follower is dispatched only if
  // its notification wakes the leader.
  write_file(dir_ / "a.yaml", config("a", "10m"));
  a_ = start("a");
  ASSERT_TRUE(wait_until([&] { return leads("a"); }, seconds(20))) << a_->stderr_text();
  b_ = start("b");
  // b follows and names a as the leader; a names itself.
  auto seen_by_b = leadership("b");
  ASSERT_TRUE(seen_by_b.is_object());
  EXPECT_EQ(seen_by_b["storage"], "postgres");
  EXPECT_FALSE(seen_by_b["leading"].get<bool>());
  EXPECT_EQ(seen_by_b["leader"], leadership("a")["instance"]);
  EXPECT_EQ(seen_by_b["lease_s"], kLeaseSeconds);

  const std::map<std::string, std::string> headers = {{"Content-Type", "application/json"},
                                                      {"Idempotency-Key", "nightly-1"}};
  auto first = call(socket("a"), "POST", "/v1/jobs", vertex_spec(1).dump(), headers);
  auto second = call(socket("b"), "POST", "/v1/jobs", vertex_spec(1).dump(), headers);
  ASSERT_EQ(first.status, 201) << first.body;
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(first.json()["id"], second.json()["id"]);

  // A job submitted on the follower is dispatched by the leader.
  auto on_b = call(socket("b"), "POST", "/v1/jobs", vertex_spec(2).dump());
  ASSERT_EQ(on_b.status, 201) << on_b.body;
  const std::string id = on_b.json()["id"];
  ASSERT_TRUE(wait_until([&] { return google_.jobs_with_label("gridshift-job", id).size() == 1; },
                         seconds(30)))
      << a_->stderr_text();
  // The fake records the create before the leader has its answer and logs the decision.
  const std::string running = "job " + id + ": running in";
  EXPECT_TRUE(
      wait_until([&] { return a_->stderr_text().find(running) != std::string::npos; }, seconds(30)))
      << a_->stderr_text();
  EXPECT_EQ(b_->stderr_text().find(running), std::string::npos);

  auto metrics_b = call(socket("b"), "GET", "/metrics");
  ASSERT_EQ(metrics_b.status, 200);
  EXPECT_NE(metrics_b.body.find("gridshift_leader{instance=\"" +
                                seen_by_b["instance"].get<std::string>() + "\"} 0"),
            std::string::npos)
      << metrics_b.body;
  EXPECT_NE(metrics_b.body.find("gridshift_leader_info{leader=\"" +
                                seen_by_b["leader"].get<std::string>() + "\"} 1"),
            std::string::npos)
      << metrics_b.body;
}

TEST_F(TwoDaemons, ALeaderWhoseSessionEndsStopsAtOnceAndComesBackAsAFollower) {
  a_ = start("a");
  ASSERT_TRUE(wait_until([&] { return leads("a"); }, seconds(20))) << a_->stderr_text();
  // b runs under a service manager: its STATUS= line (what `systemctl status` shows) says
  // whether it follows or leads. A 200 ms watchdog makes it refresh every 100 ms.
  NotifyListener b_manager(dir_ / "b-notify.sock");
  b_ = start("b", {{"NOTIFY_SOCKET", b_manager.path().string()}, {"WATCHDOG_USEC", "200000"}});
  const std::string a_instance = leadership("a")["instance"];
  ASSERT_TRUE(b_manager.wait_for(last_status_ends_with("; follower"))) << b_->stderr_text();

  // The server ends the leader's session (as on a network cut, once keepalives give up).
  ASSERT_EQ(PostgresCluster::end_lease_holder(dsn_), 1);

  // It stops with status 3 rather than go on beside a new leader, and b takes over.
  auto status = a_->wait_exit(std::chrono::seconds(30));
  EXPECT_EQ(status, Daemon::kLostLeaseExitCode) << a_->stderr_text();
  EXPECT_NE(a_->stderr_text().find("lost the leader lease"), std::string::npos);
  ASSERT_TRUE(wait_until([&] { return leads("b"); }, seconds(30))) << b_->stderr_text();
  EXPECT_TRUE(b_manager.wait_for(last_status_ends_with("; leader"))) << b_->stderr_text();

  // Restarted (as systemd would), it follows.
  a_ = start("a");
  ASSERT_TRUE(wait_until(
      [&] {
        auto seen = leadership("a");
        return seen.is_object() && seen["leader"] == leadership("b")["instance"];
      },
      seconds(20)))
      << a_->stderr_text();
  EXPECT_FALSE(leads("a"));
  EXPECT_NE(leadership("a")["instance"], a_instance);
}

TEST_F(TwoDaemons, TheFollowerTakesOverFromAKilledLeaderAndEveryJobIsCreatedOnce) {
  constexpr int kJobs = 200;
  // Creates are slow enough that the leader is killed with some of the 200 still to go.
  GoogleFault slow = GoogleFault::of(GoogleFault::Kind::delay, "POST", "*/customJobs", -1);
  slow.delay = milliseconds(25);
  google_.inject(slow);
  google_.set_job_script(JobScript::succeed(milliseconds(0), milliseconds(100), seconds(1)));

  a_ = start("a");
  ASSERT_TRUE(wait_until([&] { return leads("a"); }, seconds(20))) << a_->stderr_text();
  b_ = start("b");

  std::vector<std::string> acknowledged;
  for (int i = 0; i < kJobs; ++i) {
    const std::string via = i % 2 == 0 ? "a" : "b";
    auto reply = call(socket(via), "POST", "/v1/jobs", vertex_spec(i).dump(),
                      {{"Content-Type", "application/json"},
                       {"Idempotency-Key", "failover-" + std::to_string(i)}});
    ASSERT_EQ(reply.status, 201) << via << ": " << reply.body;
    acknowledged.push_back(reply.json()["id"]);
  }
  ASSERT_TRUE(wait_until([&] { return google_.count("POST", "*/customJobs") >= 40; }, seconds(60)))
      << a_->stderr_text();
  const int created_before_kill = google_.count("POST", "*/customJobs");
  ASSERT_LT(created_before_kill, kJobs) << "the leader finished before it could be killed";

  const auto killed_at = std::chrono::steady_clock::now();
  a_->signal(SIGKILL);
  EXPECT_EQ(a_->wait_exit(), 128 + SIGKILL);
  ASSERT_TRUE(wait_until([&] { return leads("b"); }, seconds(30))) << b_->stderr_text();
  const auto takeover =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - killed_at);
  std::cout << "[ takeover ] follower led " << takeover.count() << " ms after SIGKILL (lease "
            << kLeaseSeconds << " s); " << created_before_kill << " of " << kJobs
            << " creates before the kill\n";
  RecordProperty("takeover_ms", static_cast<int>(takeover.count()));
  EXPECT_LE(takeover, seconds(kLeaseSeconds)) << b_->stderr_text();

  // Everything runs to its end under the new leader.
  std::vector<nlohmann::json> jobs;
  const bool all_done = wait_until(
      [&] {
        jobs = all_jobs("b");
        return jobs.size() == kJobs && std::all_of(jobs.begin(), jobs.end(), [](const auto& j) {
                 return j["state"] == "succeeded";
               });
      },
      seconds(180));
  std::map<std::string, int> states;
  for (const auto& j : jobs)
    ++states[j["state"].get<std::string>()];
  ASSERT_TRUE(all_done) << nlohmann::json(states).dump() << "\n" << b_->stderr_text();

  // Every acknowledged job exists once, and each was created on Vertex AI exactly once.
  std::set<std::string> stored;
  for (const auto& j : jobs)
    EXPECT_TRUE(stored.insert(j["id"].get<std::string>()).second);
  EXPECT_EQ(stored, std::set<std::string>(acknowledged.begin(), acknowledged.end()));
  int adopted = 0;
  for (const auto& id : acknowledged) {
    EXPECT_EQ(google_.jobs_with_label("gridshift-job", id).size(), 1u) << id;
    auto shown = call(socket("b"), "GET", "/v1/jobs/" + id);
    if (shown.body.find("adopted after restart") != std::string::npos) ++adopted;
  }
  EXPECT_EQ(google_.count("POST", "*/customJobs"), kJobs);
  std::cout << "[ takeover ] " << adopted << " job(s) adopted by label after the takeover\n";
  EXPECT_NE(b_->stderr_text().find("took the leader lease"), std::string::npos);
}

}  // namespace
}  // namespace gridshift::testing
