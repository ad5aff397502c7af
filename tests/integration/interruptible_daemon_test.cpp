// Interruptible jobs end to end (docs/scheduling.md, "Interruptible jobs"): the real gridshiftd
// on a trace whose clean hours are apart, on a fast clock (GRIDSHIFT_TEST_CLOCK_RATE). A local
// job that really checkpoints runs in two segments, the first stopped by gridshift when its
// trainer overruns; a Vertex AI job runs as three CustomJobs in one region, survives SIGKILL of
// the daemon during a segment and during a segment's create, and ends when COMPLETE appears.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "promise_env.h"
#include "support/hourly_series.h"

namespace gridshift::testing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr int kRate = 720;  // simulated seconds per real second: an hour every 5 s

// The feed polls every simulated minute: the planner takes the hour that began from its actual,
// and until that is read the last hour's stands for it (docs/scheduling.md).

// The time the daemons' clocks show: they start at `start` and run kRate times faster.
class SimulatedTime {
 public:
  explicit SimulatedTime(TimePoint start)
      : start_(start), real_start_(std::chrono::steady_clock::now()) {}
  TimePoint now() const {
    const auto real = std::chrono::steady_clock::now() - real_start_;
    return start_ + std::chrono::duration_cast<Seconds>(real * kRate);
  }
  std::map<std::string, std::string> env() const {
    return {{"GRIDSHIFT_TEST_CLOCK_RATE", std::to_string(kRate)},
            {"GRIDSHIFT_TEST_CLOCK_START", format_rfc3339(now())}};
  }

 private:
  TimePoint start_;
  std::chrono::steady_clock::time_point real_start_;
};

// Hourly trace from hour0 - 6 h: 100 g/kWh in the hours `clean` (offsets from hour0), 900 in
// the hour before the first clean one, else 500. The same file serves as actuals and forecast
// (a perfect forecast). (With 500 before the first clean hour, starting in it or running on
// past the last one costs the same, and a tie goes to the earlier end.)
std::string trace_with_clean_hours(TimePoint hour0, std::set<int> clean) {
  return trace_csv({"GB", "FR"}, hour0 - hours(6), 36, [&](std::size_t, int h) {
    if (clean.count(h - 6)) return 100.0;
    return h - 6 == *clean.begin() - 1 ? 900.0 : 500.0;
  });
}

nlohmann::json get_job(const std::string& socket, const std::string& id) {
  const auto reply = call(socket, "GET", "/v1/jobs/" + id);
  return reply.status == 200 ? reply.json() : nlohmann::json();
}

// Until the trace's forecast is cached: before it, the planner sees only the present and a job
// starts at once in one block (docs/scheduling.md, no_forecast).
bool wait_for_forecast(const std::string& socket) {
  return wait_until(
      [&] {
        const auto regions = call(socket, "GET", "/v1/regions");
        if (regions.status != 200) return false;
        const auto body = regions.json();
        if (!body.contains("regions")) return false;
        for (const auto& r : body["regions"]) {
          if (!r.value("forecast_horizon", nlohmann::json()).is_string()) return false;
        }
        return true;
      },
      seconds(20));
}

std::string events_text(const nlohmann::json& job) {
  std::string all;
  for (const auto& e : job["events"])
    all += e["type"].get<std::string>() + ": " + e["message"].get<std::string>() + "\n";
  return all;
}

std::string env_of(const FakeJob& job, const std::string& name) {
  const auto& pool = job.resource["jobSpec"]["workerPoolSpecs"][0];
  for (const auto& e : pool["containerSpec"]["env"]) {
    if (e["name"] == name) return e["value"];
  }
  return "";
}

const char* kTrainer = R"(import json, os, signal, sys, time
ck = os.environ["GRIDSHIFT_CHECKPOINT_DIR"]
seg = os.environ["GRIDSHIFT_SEGMENT"]
path = os.path.join(ck, "state.json")
state = {"step": 0, "total": 0}
if os.path.exists(path):
    with open(path) as f:
        state = json.load(f)
print(f"segment {seg} until {os.environ['GRIDSHIFT_SEGMENT_END']}: resuming at step {state['step']}", flush=True)
for _ in range(5):
    if state["step"] == 10:
        break
    state["step"] += 1
    state["total"] += state["step"]
    with open(path + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(path + ".tmp", path)
if state["step"] == 10:
    with open(os.path.join(ck, "COMPLETE"), "w") as f:
        f.write(str(state["total"]))
    print(f"complete: total {state['total']}", flush=True)
    sys.exit(0)
def stop(signum, frame):
    print(f"segment {seg}: stopped at step {state['step']}", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
time.sleep(3600)
)";

TEST(InterruptibleDaemon, ALocalJobCheckpointsThroughTwoSegmentsAndFinishesWithTheRightResult) {
  TempDir dir;
  const TimePoint hour0 = std::chrono::floor<hours>(std::chrono::system_clock::now());
  write_file(dir / "trace.csv", trace_with_clean_hours(hour0, {2, 4}));
  write_file(dir / "trainer.py", kTrainer);
  const std::string socket = (dir / "gridshift.sock").string();
  const std::string trace = (dir / "trace.csv").string();
  write_file(dir / "config.yaml",
             "state_dir: " + (dir / "state").string() + "\nsocket: {path: " + socket +
                 ", mode: \"0660\"}\nscheduler: {tick: 5m}\nfeeds:\n"
                 "  - {name: replay, type: trace_file, poll_interval: 1m, actuals: " +
                 trace + ", forecast: " + trace +
                 "}\nregions:\n  - {name: europe-west2, feeds: [replay], location: GB}\n"
                 "dispatch: {type: local, local: {workdir: " +
                 (dir / "jobs").string() + "}}\n");
  const SimulatedTime time(hour0 + minutes(30));
  auto daemon = start_logged_daemon(dir.path(), dir / "config.yaml", 0, time.env());
  ASSERT_TRUE(wait_serving(*daemon)) << daemon->stderr_text();
  ASSERT_TRUE(wait_for_forecast(socket)) << daemon->stderr_text();

  // 2 h of work, due at hour0 + 7 h: the clean hours 2 and 4 beat any block of two hours.
  const nlohmann::json spec = {
      {"name", "checkpointing"},
      {"duration", "2h"},
      {"deadline", format_rfc3339(hour0 + hours(7))},
      {"regions", {"europe-west2"}},
      {"power_watts", 1000},
      {"interruptible", {{"max_segments", 2}, {"min_segment", "1h"}, {"resume_overhead", "10m"}}},
      {"local", {{"command", {"python3", (dir / "trainer.py").string()}}}}};
  const auto submitted = submit_job(socket, spec);
  ASSERT_EQ(submitted.status, 201) << submitted.body;
  const std::string id = submitted.json()["id"];
  ASSERT_LT(time.now(), hour0 + hours(2)) << "the daemon took too long to start for this test";

  // The plan: the first segment in hour 2, the second in hour 4.
  const auto plan = call(socket, "POST", "/v1/plan", spec.dump());
  ASSERT_EQ(plan.status, 200) << plan.body;
  ASSERT_EQ(plan.json()["segments"].size(), 2U) << plan.body;
  EXPECT_EQ(plan.json()["segments"][0]["start"], format_rfc3339(hour0 + hours(2))) << plan.body;
  EXPECT_EQ(plan.json()["segments"][1]["start"], format_rfc3339(hour0 + hours(4))) << plan.body;

  // Succeeded, and accounted once the readings of its last hour are in.
  nlohmann::json job;
  ASSERT_TRUE(wait_until(
      [&] {
        job = get_job(socket, id);
        return job.is_object() && job["state"] == "succeeded" &&
               job["accounting"].is_object() && job["accounting"]["actual_g"].is_number();
      },
      seconds(60)))
      << job.dump(2) << daemon->stderr_text();

  // The trainer's own record: segment 1 stopped by gridshift after 5 steps, segment 2 resumed
  // from the checkpoint and finished: 1 + 2 + ... + 10 = 55.
  const std::string output = read_file(dir / "jobs" / id / "output.log");
  EXPECT_NE(output.find("segment 1 until " + format_rfc3339(hour0 + hours(3)) +
                        ": resuming at step 0"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("segment 1: stopped at step 5"), std::string::npos) << output;
  EXPECT_NE(output.find("segment 2 until"), std::string::npos) << output;
  EXPECT_NE(output.find("resuming at step 5"), std::string::npos) << output;
  EXPECT_NE(output.find("complete: total 55"), std::string::npos) << output;
  EXPECT_EQ(read_file(dir / "jobs" / id / "checkpoints" / "COMPLETE"), "55");

  const auto& segments = job["segments"];
  ASSERT_EQ(segments.size(), 2U) << job.dump(2);
  EXPECT_EQ(segments[0]["n"], 1);
  EXPECT_EQ(segments[0]["state"], "ended");
  EXPECT_EQ(segments[0]["end"], format_rfc3339(hour0 + hours(3)));
  const auto first_start = parse_rfc3339(segments[0]["start"].get<std::string>());
  ASSERT_TRUE(first_start);
  EXPECT_GE(*first_start, hour0 + hours(2));
  EXPECT_LT(*first_start, hour0 + hours(2) + minutes(10));
  EXPECT_EQ(segments[1]["n"], 2);
  EXPECT_EQ(segments[1]["state"], "complete");
  const auto second_start = parse_rfc3339(segments[1]["start"].get<std::string>());
  ASSERT_TRUE(second_start);
  EXPECT_GE(*second_start, hour0 + hours(4));
  EXPECT_LT(*second_start, hour0 + hours(4) + minutes(10));
  for (const auto& s : segments)
    EXPECT_EQ(s["region"], "europe-west2");
  EXPECT_EQ(job["accounting"]["segments"], 2) << job.dump(2);
  EXPECT_GT(job["accounting"]["actual_g"].get<double>(), 0) << job.dump(2);
  const auto events = events_text(job);
  EXPECT_NE(events.find("segment 1 overran its end"), std::string::npos) << events;
  EXPECT_NE(events.find("re-planning"), std::string::npos) << events;

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
}

class InterruptibleVertex : public ::testing::Test {
 protected:
  void SetUp() override {
    hour0_ = std::chrono::floor<hours>(std::chrono::system_clock::now());
    write_file(dir_ / "trace.csv", trace_with_clean_hours(hour0_, {2, 4, 6}));
    auto config =
        vertex_daemon_config(dir_.path(), google_, "tick: 5m", google_.service_account_key_json());
    const std::string trace = (dir_ / "trace.csv").string();
    const std::string actuals = "actuals: " + trace + "}";
    config.replace(config.find(actuals), actuals.size(),
                   "actuals: " + trace + ", forecast: " + trace + ", poll_interval: 1m}");
    write_file(dir_ / "config.yaml", config);
    google_.set_job_script(JobScript::run_forever(milliseconds(100)));
  }

  void start() {
    daemon_ = start_logged_daemon(dir_.path(), dir_ / "config.yaml", runs_++, time_.env());
    ASSERT_TRUE(wait_serving(*daemon_)) << daemon_->stderr_text();
  }

  void kill() {
    daemon_->signal(SIGKILL);
    EXPECT_EQ(daemon_->wait_exit(), 128 + SIGKILL);
  }

  std::vector<FakeJob> remote(const std::string& id) const {
    return google_.jobs_with_label("gridshift-job", id);
  }

  // Waits until the job has `count` CustomJobs; returns the newest.
  FakeJob wait_for_segment(const std::string& id, std::size_t count) {
    EXPECT_TRUE(wait_until([&] { return remote(id).size() >= count; }, seconds(60)))
        << events_text(get_job(socket_, id)) << daemon_->stderr_text();
    auto jobs = remote(id);
    EXPECT_EQ(jobs.size(), count);
    return jobs.empty() ? FakeJob{} : jobs.back();
  }

  TempDir dir_;
  FakeGoogle google_;
  std::string socket_ = (dir_ / "gridshift.sock").string();
  TimePoint hour0_{};
  SimulatedTime time_{std::chrono::floor<hours>(std::chrono::system_clock::now()) + minutes(30)};
  int runs_ = 0;
  std::unique_ptr<ChildProcess> daemon_;
};

TEST_F(InterruptibleVertex, ThreeSegmentsRunAsThreeCustomJobsOnceEachThroughTwoCrashes) {
  start();
  ASSERT_TRUE(wait_for_forecast(socket_)) << daemon_->stderr_text();
  auto spec = cpu_job("three-nights", "best_window", "3h");
  spec["regions"] = {"europe-west2"};
  spec["deadline"] = format_rfc3339(hour0_ + hours(8));
  spec["power_watts"] = 1000;
  spec["interruptible"] = {{"max_segments", 3}, {"min_segment", "1h"}};
  const auto submitted = submit_job(socket_, spec);
  ASSERT_EQ(submitted.status, 201) << submitted.body;
  const std::string id = submitted.json()["id"];
  ASSERT_LT(time_.now(), hour0_ + hours(2)) << "the daemon took too long to start for this test";

  // Segment 1 in hour 2, with the trainer's contract in its env and labels.
  const auto first = wait_for_segment(id, 1);
  EXPECT_EQ(first.labels.at("gridshift-segment"), "1");
  EXPECT_EQ(first.region, "europe-west2");
  EXPECT_EQ(env_of(first, "GRIDSHIFT_SEGMENT"), "1");
  EXPECT_EQ(env_of(first, "GRIDSHIFT_SEGMENT_END"), format_rfc3339(hour0_ + hours(3)));
  ASSERT_EQ(google_.buckets().size(), 1U);
  const std::string bucket = google_.buckets().front().name;
  EXPECT_EQ(env_of(first, "GRIDSHIFT_CHECKPOINT_DIR"), "gs://" + bucket + "/checkpoints/");
  // The trainer checkpoints and exits shortly before the segment's end.
  ASSERT_TRUE(wait_until([&] { return time_.now() >= hour0_ + hours(3) - minutes(5); }, seconds(30)));
  ASSERT_TRUE(google_.force_job_state(first.name, "JOB_STATE_SUCCEEDED"));
  ASSERT_TRUE(wait_until(
      [&] {
        const auto job = get_job(socket_, id);
        return job.is_object() && job["state"] == "queued" && job["segments"].size() == 1 &&
               job["segments"][0]["state"] == "ended";
      },
      seconds(30)))
      << events_text(get_job(socket_, id)) << daemon_->stderr_text();
  EXPECT_TRUE(google_.bucket(bucket)) << "the bucket holds the checkpoint: it must stay";

  // Segment 2 in hour 4; the daemon is killed while it runs, and follows it after a restart.
  const auto second = wait_for_segment(id, 2);
  EXPECT_EQ(second.labels.at("gridshift-segment"), "2");
  EXPECT_EQ(second.region, "europe-west2");
  EXPECT_EQ(env_of(second, "GRIDSHIFT_SEGMENT"), "2");
  EXPECT_EQ(env_of(second, "GRIDSHIFT_SEGMENT_END"), format_rfc3339(hour0_ + hours(5)));
  ASSERT_TRUE(wait_until([&] { return get_job(socket_, id)["state"] == "running"; }));
  kill();
  start();
  ASSERT_TRUE(wait_until([&] { return time_.now() >= hour0_ + hours(5) - minutes(5); }, seconds(30)));
  ASSERT_TRUE(google_.force_job_state(second.name, "JOB_STATE_SUCCEEDED"));

  // Segment 3's create reaches Google but its answer never comes back: killed mid-dispatch,
  // the restarted daemon adopts segment 3 by its labels instead of creating it again (nor
  // mistaking segment 2's CustomJob for it).
  GoogleFault lost = GoogleFault::of(GoogleFault::Kind::commit_then_fail, "POST", "*/customJobs");
  lost.status = 0;
  lost.delay = seconds(120);
  google_.inject(lost);
  const auto third = wait_for_segment(id, 3);
  EXPECT_EQ(third.labels.at("gridshift-segment"), "3");
  kill();
  google_.clear_faults();
  start();
  ASSERT_TRUE(wait_until([&] { return get_job(socket_, id)["state"] == "running"; }, seconds(30)))
      << events_text(get_job(socket_, id)) << daemon_->stderr_text();

  // The trainer finishes: COMPLETE in the checkpoint prefix, then the CustomJob ends.
  google_.add_object(bucket, "checkpoints/COMPLETE", "done");
  ASSERT_TRUE(google_.force_job_state(third.name, "JOB_STATE_SUCCEEDED"));
  nlohmann::json job;
  ASSERT_TRUE(wait_until(
      [&] {
        job = get_job(socket_, id);
        return job.is_object() && job["state"] == "succeeded";
      },
      seconds(30)))
      << events_text(job) << daemon_->stderr_text();

  // Exactly one CustomJob per segment, all in the job's region.
  const auto all = remote(id);
  ASSERT_EQ(all.size(), 3U);
  std::multiset<std::string> labels;
  for (const auto& r : all) {
    labels.insert(r.labels.at("gridshift-segment"));
    EXPECT_EQ(r.region, "europe-west2");
  }
  EXPECT_EQ(labels, (std::multiset<std::string>{"1", "2", "3"}));
  EXPECT_EQ(google_.count("POST", "*/customJobs"), 3);
  const auto& segments = job["segments"];
  ASSERT_EQ(segments.size(), 3U) << job.dump(2);
  EXPECT_EQ(segments[0]["remote_name"], first.name);
  EXPECT_EQ(segments[1]["remote_name"], second.name);
  EXPECT_EQ(segments[2]["remote_name"], third.name);
  EXPECT_EQ(segments[2]["state"], "complete");
  EXPECT_NE(events_text(job).find("adopted"), std::string::npos) << events_text(job);
  // The last segment over, the staging bucket goes.
  EXPECT_TRUE(wait_until([&] { return !google_.bucket(bucket); }, seconds(20)));
  daemon_->signal(SIGTERM);
  EXPECT_EQ(daemon_->wait_exit(), 0) << daemon_->stderr_text();
}

}  // namespace
}  // namespace gridshift::testing
