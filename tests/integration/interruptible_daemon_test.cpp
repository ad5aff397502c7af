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

constexpr int kRate = 240;  // simulated seconds per real second: an hour every 15 s

// The feed polls every 2 simulated minutes (0.5 s): the planner takes the hour that began from
// its actual, and until that is read the last hour's stands for it (docs/scheduling.md).

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
// the hour before each, else 500. The same file serves as actuals and forecast (a perfect
// forecast). (With 500 before a clean hour, starting 10 min early or running a resume's 10 min
// on past a clean hour would cost the same, and a tie goes to the earlier end.)
std::string trace_with_clean_hours(TimePoint hour0, std::set<int> clean) {
  return trace_csv({"GB", "FR"}, hour0 - hours(6), 36, [&](std::size_t, int h) {
    if (clean.count(h - 6)) return 100.0;
    return clean.count(h - 6 + 1) ? 900.0 : 500.0;
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

// Whether [start, start + 1 h) is one of the clean hours (offsets from hour0): a segment may
// begin a little late (the daemon wakes after the hour began, more so on a loaded machine).
bool in_clean_hour(TimePoint start, TimePoint hour0, const std::set<int>& clean) {
  for (int h : clean) {
    const TimePoint begins = hour0 + hours(h);
    if (start >= begins && start < begins + minutes(10)) return true;
  }
  return false;
}

TimePoint time_of(const std::string& rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  return t ? *t : TimePoint{};
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
  // Clean hours 2, 4 and 6: the plan takes 2 and 4; 6 is the spare should a loaded machine make
  // the daemon miss a start (it then plans the next clean hour, and the checks still hold).
  const std::set<int> clean = {2, 4, 6};
  write_file(dir / "trace.csv", trace_with_clean_hours(hour0, clean));
  write_file(dir / "trainer.py", kTrainer);
  const std::string socket = (dir / "gridshift.sock").string();
  const std::string trace = (dir / "trace.csv").string();
  write_file(dir / "config.yaml",
             "state_dir: " + (dir / "state").string() + "\nsocket: {path: " + socket +
                 ", mode: \"0660\"}\nscheduler: {tick: 5m}\nfeeds:\n"
                 "  - {name: replay, type: trace_file, poll_interval: 2m, actuals: " +
                 trace + ", forecast: " + trace +
                 "}\nregions:\n  - {name: europe-west2, feeds: [replay], location: GB}\n"
                 "dispatch: {type: local, local: {workdir: " +
                 (dir / "jobs").string() + "}}\n");
  const SimulatedTime time(hour0 + minutes(75));
  auto daemon = start_logged_daemon(dir.path(), dir / "config.yaml", 0, time.env());
  ASSERT_TRUE(wait_serving(*daemon)) << daemon->stderr_text();
  ASSERT_TRUE(wait_for_forecast(socket)) << daemon->stderr_text();

  // 2 h of work, due at hour0 + 9 h: two clean hours beat any block of two hours.
  const nlohmann::json spec = {
      {"name", "checkpointing"},
      {"duration", "2h"},
      {"deadline", format_rfc3339(hour0 + hours(9))},
      {"regions", {"europe-west2"}},
      {"power_watts", 1000},
      {"interruptible", {{"max_segments", 2}, {"min_segment", "1h"}, {"resume_overhead", "10m"}}},
      {"local", {{"command", {"python3", (dir / "trainer.py").string()}}}}};
  const auto submitted = submit_job(socket, spec);
  ASSERT_EQ(submitted.status, 201) << submitted.body;
  const std::string id = submitted.json()["id"];
  ASSERT_LT(time.now(), hour0 + hours(2)) << "the daemon took too long to start for this test";

  // The plan: two segments, each in a clean hour (hour 2, then hour 6 rather than 4: the 10 min
  // of resume overhead would run into the dearer hour before 6).
  const auto plan = call(socket, "POST", "/v1/plan", spec.dump());
  ASSERT_EQ(plan.status, 200) << plan.body;
  const auto planned = plan.json();
  ASSERT_EQ(planned["segments"].size(), 2U) << plan.body;
  for (const auto& segment : planned["segments"]) {
    EXPECT_TRUE(in_clean_hour(time_of(segment["start"].get<std::string>()), hour0, clean))
        << plan.body;
  }

  // Succeeded, and accounted once the readings of its last hour are in.
  nlohmann::json job;
  ASSERT_TRUE(wait_until(
      [&] {
        job = get_job(socket, id);
        return job.is_object() && job["state"] == "succeeded" && job["accounting"].is_object() &&
               job["accounting"]["actual_g"].is_number();
      },
      seconds(150)))
      << job.dump(2) << daemon->stderr_text();

  // The trainer's own record: segment 1 stopped by gridshift after 5 steps, segment 2 resumed
  // from the checkpoint and finished: 1 + 2 + ... + 10 = 55.
  const std::string output = read_file(dir / "jobs" / id / "output.log");
  const auto& segments = job["segments"];
  ASSERT_EQ(segments.size(), 2U) << job.dump(2);
  EXPECT_NE(output.find("segment 1 until " + segments[0]["end"].get<std::string>() +
                        ": resuming at step 0"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("segment 1: stopped at step 5"), std::string::npos) << output;
  EXPECT_NE(output.find("segment 2 until"), std::string::npos) << output;
  EXPECT_NE(output.find("resuming at step 5"), std::string::npos) << output;
  EXPECT_NE(output.find("complete: total 55"), std::string::npos) << output;
  EXPECT_EQ(read_file(dir / "jobs" / id / "checkpoints" / "COMPLETE"), "55");

  EXPECT_EQ(segments[0]["n"], 1);
  EXPECT_EQ(segments[0]["state"], "ended");
  // Each segment in a clean hour, the first told to end with its hour.
  const TimePoint first_start = time_of(segments[0]["start"].get<std::string>());
  EXPECT_TRUE(in_clean_hour(first_start, hour0, clean)) << job.dump(2);
  EXPECT_EQ(time_of(segments[0]["end"].get<std::string>()),
            std::chrono::floor<hours>(first_start) + hours(1));
  EXPECT_EQ(segments[1]["n"], 2);
  EXPECT_EQ(segments[1]["state"], "complete");
  const TimePoint second_start = time_of(segments[1]["start"].get<std::string>());
  EXPECT_TRUE(in_clean_hour(second_start, hour0, clean)) << job.dump(2);
  EXPECT_GT(second_start, first_start + hours(1));
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
    write_file(dir_ / "trace.csv", trace_with_clean_hours(hour0_, kClean));
    auto config =
        vertex_daemon_config(dir_.path(), google_, "tick: 5m", google_.service_account_key_json());
    const std::string trace = (dir_ / "trace.csv").string();
    const std::string actuals = "actuals: " + trace + "}";
    config.replace(config.find(actuals), actuals.size(),
                   "actuals: " + trace + ", forecast: " + trace + ", poll_interval: 2m}");
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

  // Starts the daemon and, once the forecast is in, submits a CPU job of `duration` in
  // europe-west2 due at hour0 + 10 h that may run in up to `max_segments` segments of at least
  // 1 h; its id, or "" after a failure.
  std::string start_and_submit(const std::string& name, const std::string& duration,
                               int max_segments) {
    start();
    if (!wait_for_forecast(socket_)) {
      ADD_FAILURE() << "no forecast: " << daemon_->stderr_text();
      return "";
    }
    auto spec = cpu_job(name, "best_window", duration);
    spec["regions"] = {"europe-west2"};
    spec["deadline"] = format_rfc3339(hour0_ + hours(10));
    spec["power_watts"] = 1000;
    spec["interruptible"] = {{"max_segments", max_segments}, {"min_segment", "1h"}};
    const auto submitted = submit_job(socket_, spec);
    if (submitted.status != 201) {
      ADD_FAILURE() << submitted.body;
      return "";
    }
    EXPECT_LT(time_.now(), hour0_ + hours(2)) << "the daemon took too long to start";
    return submitted.json()["id"];
  }

  std::vector<FakeJob> remote(const std::string& id) const {
    return google_.jobs_with_label("gridshift-job", id);
  }

  // Waits until the job has `count` CustomJobs; returns the newest.
  FakeJob wait_for_segment(const std::string& id, std::size_t count) {
    EXPECT_TRUE(wait_until([&] { return remote(id).size() >= count; }, seconds(150)))
        << events_text(get_job(socket_, id)) << daemon_->stderr_text();
    auto jobs = remote(id);
    EXPECT_EQ(jobs.size(), count);
    return jobs.empty() ? FakeJob{} : jobs.back();
  }

  TempDir dir_;
  FakeGoogle google_;
  std::string socket_ = (dir_ / "gridshift.sock").string();
  // Clean hours 2, 4, 6 and the spare 8 (see the local test).
  const std::set<int> kClean = {2, 4, 6, 8};
  TimePoint hour0_{};
  SimulatedTime time_{std::chrono::floor<hours>(std::chrono::system_clock::now()) + minutes(75)};
  int runs_ = 0;
  std::unique_ptr<ChildProcess> daemon_;
};

TEST_F(InterruptibleVertex, ThreeSegmentsRunAsThreeCustomJobsOnceEachThroughTwoCrashes) {
  const std::string id = start_and_submit("three-nights", "3h", 3);
  ASSERT_FALSE(id.empty());

  // Segment 1 in a clean hour, with the trainer's contract in its env and labels.
  const auto first = wait_for_segment(id, 1);
  EXPECT_EQ(first.labels.at("gridshift-segment"), "1");
  EXPECT_EQ(first.region, "europe-west2");
  EXPECT_EQ(env_of(first, "GRIDSHIFT_SEGMENT"), "1");
  const TimePoint end1 = time_of(env_of(first, "GRIDSHIFT_SEGMENT_END"));
  EXPECT_TRUE(in_clean_hour(end1 - hours(1), hour0_, kClean)) << format_rfc3339(end1);
  ASSERT_EQ(google_.buckets().size(), 1U);
  const std::string bucket = google_.buckets().front().name;
  EXPECT_EQ(env_of(first, "GRIDSHIFT_CHECKPOINT_DIR"), "gs://" + bucket + "/checkpoints/");
  // The trainer checkpoints and exits shortly before the segment's end.
  ASSERT_TRUE(wait_until([&] { return time_.now() >= end1 - minutes(5); }, seconds(150)));
  ASSERT_TRUE(google_.force_job_state(first.name, "JOB_STATE_SUCCEEDED"));
  ASSERT_TRUE(wait_until(
      [&] {
        const auto job = get_job(socket_, id);
        return job.is_object() && job["state"] == "queued" && job["segments"].size() == 1 &&
               job["segments"][0]["state"] == "ended";
      },
      seconds(150)))
      << events_text(get_job(socket_, id)) << daemon_->stderr_text();
  EXPECT_TRUE(google_.bucket(bucket)) << "the bucket holds the checkpoint: it must stay";

  // Segment 2 in a later clean hour; the daemon is killed while it runs, and follows it after
  // a restart.
  const auto second = wait_for_segment(id, 2);
  EXPECT_EQ(second.labels.at("gridshift-segment"), "2");
  EXPECT_EQ(second.region, "europe-west2");
  EXPECT_EQ(env_of(second, "GRIDSHIFT_SEGMENT"), "2");
  const TimePoint end2 = time_of(env_of(second, "GRIDSHIFT_SEGMENT_END"));
  EXPECT_TRUE(in_clean_hour(end2 - hours(1), hour0_, kClean)) << format_rfc3339(end2);
  EXPECT_GT(end2, end1);
  ASSERT_TRUE(wait_until([&] { return get_job(socket_, id)["state"] == "running"; }));
  kill();
  start();
  ASSERT_TRUE(wait_until([&] { return time_.now() >= end2 - minutes(5); }, seconds(150)));
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
  ASSERT_TRUE(wait_until([&] { return get_job(socket_, id)["state"] == "running"; }, seconds(150)))
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
      seconds(150)))
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

TEST_F(InterruptibleVertex, ACancelBetweenSegmentsStartsNoMoreAndDeletesTheCheckpoint) {
  const std::string id = start_and_submit("cancelled-between", "2h", 2);
  ASSERT_FALSE(id.empty());
  const auto first = wait_for_segment(id, 1);
  const TimePoint end1 = time_of(env_of(first, "GRIDSHIFT_SEGMENT_END"));
  ASSERT_TRUE(wait_until([&] { return time_.now() >= end1 - minutes(5); }, seconds(150)));
  ASSERT_TRUE(google_.force_job_state(first.name, "JOB_STATE_SUCCEEDED"));
  ASSERT_TRUE(wait_until([&] { return get_job(socket_, id)["state"] == "queued"; }, seconds(150)))
      << events_text(get_job(socket_, id));
  ASSERT_EQ(google_.buckets().size(), 1U);

  const auto cancelled = call(socket_, "POST", "/v1/jobs/" + id + "/cancel");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_TRUE(wait_until([&] { return google_.buckets().empty(); }, seconds(20)))
      << daemon_->stderr_text();
  // Well into the next clean hour: nothing more was created.
  ASSERT_TRUE(
      wait_until([&] { return time_.now() >= end1 + hours(1) + minutes(20); }, seconds(150)));
  EXPECT_EQ(remote(id).size(), 1U);
  const auto job = get_job(socket_, id);
  EXPECT_EQ(job["state"], "cancelled");
  ASSERT_EQ(job["segments"].size(), 1U);
  EXPECT_EQ(job["segments"][0]["state"], "ended");
}

}  // namespace
}  // namespace gridshift::testing
