// VertexTarget in-process on an io_context against the fake Google server: staging, create,
// follow, cancel, adopt; the at-most-once reconcile after ambiguous creates; 401 renewal, 429
// and 5xx handling; a hanging endpoint. Tokens come straight from the fake (issue_token).
#include "deploy/vertex_ai/vertex_target.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <sstream>

#include "common/logging.h"
#include "fakes/fake_google.h"
#include "fakes/feed_test_env.h"

namespace gridshift::testing {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::milliseconds;

constexpr const char* kRegion = "europe-west4";
constexpr const char* kCreate = "*/customJobs";
constexpr const char* kOneJob = "*/customJobs/*";

// Hands out tokens the fake issues; counts fetches and invalidations.
class FakeTokenSource final : public TokenSource {
 public:
  explicit FakeTokenSource(FakeGoogle& fake) : fake_(fake) {}
  asio::awaitable<Result<std::string>> token() override {
    if (token_.empty()) {
      token_ = fake_.issue_token();
      ++fetched;
    }
    co_return token_;
  }
  void invalidate() override {
    token_.clear();
    ++invalidated;
  }
  std::string_view kind() const override { return "test"; }
  std::string quota_project() const override { return quota; }

  int fetched = 0;
  int invalidated = 0;
  std::string quota;
  const std::string& current() const { return token_; }

 private:
  FakeGoogle& fake_;
  std::string token_;
};

// Everything the "vertex" logger writes while alive.
class VertexLog {
 public:
  VertexLog() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)) {
    subsystem_logger("vertex")->sinks().push_back(sink_);
  }
  ~VertexLog() {
    auto& sinks = subsystem_logger("vertex")->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

Job make_job(const std::string& id) {
  Job job;
  job.id = id;
  job.spec.name = "resnet";
  job.spec.duration = Seconds(3600);
  VertexSpec v;
  v.machine_type = "g2-standard-8";
  v.accelerator_type = "NVIDIA_L4";
  v.accelerator_count = 1;
  v.container = ContainerSpec{"europe-docker.pkg.dev/p/r/trainer:1", {}, {"--epochs", "1"}, {}};
  v.scheduling.strategy = SchedulingStrategy::spot;
  job.spec.vertex = v;
  return job;
}

class VertexTargetTest : public ::testing::Test {
 protected:
  VertexTargetTest() {
    config.project = fake.options().project_id;
    config.endpoint = fake.base_url() + "/r/{region}";
    config.storage_endpoint = fake.storage_base();
    config.staging_bucket = StagingBucketConfig{true, "gridshift-staging", true};
    options.create_timeout = milliseconds(3000);
    options.read_timeout = milliseconds(3000);
    options.backoff_initial = milliseconds(1);
    options.backoff_cap = milliseconds(20);
    options.rate_limit_floor = milliseconds(10);
    options.settle_delay = milliseconds(30);
    options.jitter_seed = 7;
    fake.set_job_script(JobScript::run_forever(milliseconds(0)));
  }

  VertexTarget& target() {
    if (!target_) {
      target_ =
          std::make_unique<VertexTarget>(io.get_executor(), config, http, tokens, clock, options);
    }
    return *target_;
  }
  Result<DispatchStarted> create(const Job& job, const std::string& region = kRegion) {
    return run_on(io, target().create(job, region));
  }
  // Creates a job that must fail with `code`, the message mentioning `needle`.
  void expect_create_fails(const std::string& id, const std::string& code,
                           const std::string& needle) {
    auto started = create(make_job(id));
    ASSERT_FALSE(started);
    EXPECT_EQ(started.error().code, code);
    EXPECT_NE(started.error().message.find(needle), std::string::npos) << started.error().message;
  }
  Result<RemoteStatus> poll(Job job, const std::string& remote_name) {
    job.remote_name = remote_name;
    return run_on(io, target().poll(std::move(job)));
  }
  Status cancel(Job job, const std::string& remote_name) {
    job.remote_name = remote_name;
    return run_on(io, target().cancel(std::move(job)));
  }
  Result<std::optional<DispatchStarted>> adopt(const Job& job) {
    return run_on(io, target().adopt(job, kRegion));
  }
  // A job with the gridshift label, as if an earlier daemon had created it.
  FakeJob add_labelled_job(const std::string& job_id) {
    return fake.add_job(kRegion,
                        {{"displayName", "gridshift-" + job_id + "-resnet"},
                         {"labels", {{"gridshift-job", job_id}, {"managed-by", "gridshiftd"}}},
                         {"jobSpec", {{"workerPoolSpecs", json::array()}}}});
  }
  // The paths of the recorded requests, in order, as "METHOD path".
  std::vector<std::string> trail() const {
    std::vector<std::string> out;
    for (const auto& r : fake.requests())
      out.push_back(r.method + " " + r.path);
    return out;
  }

  FakeGoogle fake;
  asio::io_context io;
  HttpClient http{io.get_executor(), HttpClientOptions{}};
  FakeTokenSource tokens{fake};
  ManualClock clock{kFeedTestStart};
  VertexAiConfig config;
  VertexTargetOptions options;

 private:
  std::unique_ptr<VertexTarget> target_;
};

TEST_F(VertexTargetTest, HappyPathStagesCreatesFollowsAndCleansUp) {
  VertexLog log;
  const auto job = make_job("job-happy-1");
  auto started = create(job);
  ASSERT_TRUE(started) << to_string(started.error());

  // The bucket, in the job's region, holding the spec; one job with the exact body.
  const std::string bucket = "gridshift-staging-job-happy-1";
  auto staged = fake.bucket(bucket);
  ASSERT_TRUE(staged);
  EXPECT_EQ(staged->location, "EUROPE-WEST4");
  ASSERT_EQ(staged->objects.size(), 1u);
  EXPECT_EQ(staged->objects[0].name, "gridshift/job-spec.json");
  EXPECT_EQ(json::parse(staged->objects[0].data).at("name"), "resnet");

  const auto posts = fake.requests("POST", kCreate);
  ASSERT_EQ(posts.size(), 1u);
  const auto expected = json::parse(R"({
    "displayName": "gridshift-job-happy-1-resnet",
    "labels": {"managed-by": "gridshiftd", "gridshift-job": "job-happy-1"},
    "jobSpec": {
      "workerPoolSpecs": [{
        "machineSpec": {"machineType": "g2-standard-8", "acceleratorType": "NVIDIA_L4",
                        "acceleratorCount": 1},
        "replicaCount": "1",
        "containerSpec": {
          "imageUri": "europe-docker.pkg.dev/p/r/trainer:1",
          "args": ["--epochs", "1"],
          "env": [{"name": "GRIDSHIFT_JOB_ID", "value": "job-happy-1"},
                  {"name": "GRIDSHIFT_REGION", "value": "europe-west4"}]
        }
      }],
      "scheduling": {"strategy": "SPOT"},
      "baseOutputDirectory": {"outputUriPrefix": "gs://gridshift-staging-job-happy-1/output/"}
    }
  })");
  EXPECT_EQ(posts[0].body_json(), expected) << posts[0].body;
  EXPECT_EQ(posts[0].path,
            "/r/europe-west4/v1/projects/gridshift-test/locations/europe-west4/customJobs");

  const auto jobs = fake.jobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(started->remote_name, jobs[0].name);
  EXPECT_EQ(started->remote_name.rfind("projects/123456789012/locations/europe-west4/", 0), 0u);

  auto running = poll(job, started->remote_name);
  ASSERT_TRUE(running) << to_string(running.error());
  EXPECT_EQ(running->state, JobState::running);
  EXPECT_TRUE(fake.bucket(bucket)) << "the bucket stays while the job runs";

  ASSERT_TRUE(fake.force_job_state(started->remote_name, "JOB_STATE_SUCCEEDED"));
  auto done = poll(job, started->remote_name);
  ASSERT_TRUE(done) << to_string(done.error());
  EXPECT_EQ(done->state, JobState::succeeded);
  EXPECT_FALSE(done->region_unavailable);
  const auto resource = fake.job(started->remote_name)->resource;
  ASSERT_TRUE(done->started_at && done->finished_at);
  EXPECT_EQ(*done->started_at, *parse_rfc3339(resource.at("startTime").get<std::string>()));
  EXPECT_EQ(*done->finished_at, *parse_rfc3339(resource.at("endTime").get<std::string>()));
  EXPECT_FALSE(fake.bucket(bucket)) << "delete_after removes the bucket at the end";

  // Credentials on every call; the token itself never in the log.
  for (const auto& r : fake.requests()) {
    EXPECT_EQ(r.header("authorization").value_or(""), "Bearer <present>") << r.path;
    EXPECT_FALSE(r.header("x-goog-user-project")) << r.path;
  }
  EXPECT_EQ(log.text().find(tokens.current()), std::string::npos);
  EXPECT_NE(log.text().find("job-happy-1"), std::string::npos);
}

TEST_F(VertexTargetTest, WithoutStagingNoBucketAndQuotaProjectHeader) {
  config.staging_bucket.enabled = false;
  tokens.quota = "billing-proj";
  auto started = create(make_job("job-plain"));
  ASSERT_TRUE(started) << to_string(started.error());
  EXPECT_TRUE(fake.buckets().empty());
  EXPECT_EQ(fake.count("", "/storage/*") + fake.count("", "/upload/*"), 0);
  const auto posts = fake.requests("POST", kCreate);
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_FALSE(posts[0].body_json().at("jobSpec").contains("baseOutputDirectory"));
  EXPECT_EQ(posts[0].header("x-goog-user-project"), "billing-proj");
}

TEST_F(VertexTargetTest, TrainingQuotaIsRegionUnavailable) {
  fake.set_region(kRegion, RegionCapacity{{{"NVIDIA_L4", 0}}});
  expect_create_fails("job-quota", "region_unavailable", "custom_model_training_nvidia_l4_gpus");
  EXPECT_TRUE(fake.jobs().empty());
  EXPECT_EQ(fake.count("POST", kCreate), 1) << "a quota refusal is not retried here";
  EXPECT_FALSE(fake.bucket("gridshift-staging-job-quota")) << "nothing runs: bucket removed";
}

TEST_F(VertexTargetTest, AcceleratorNotOfferedIsRegionUnavailable) {
  fake.set_region(kRegion, RegionCapacity{{{"NVIDIA_TESLA_T4", 8}}});
  expect_create_fails("job-no-l4", "region_unavailable", "not supported");
}

TEST_F(VertexTargetTest, ForbiddenIsFatalWithTheApisMessage) {
  fake.inject(GoogleFault::error("POST", kCreate, 403));
  expect_create_fails("job-403", "vertex_refused", "403");
  EXPECT_EQ(fake.count("POST", kCreate), 1);
}

TEST_F(VertexTargetTest, CommitThenFailAdoptsTheOneJob) {
  for (int status : {503, 0}) {  // 0: the connection closes without an answer
    fake.clear_requests();
    const std::string id = "job-commit-" + std::to_string(status);
    auto fault = GoogleFault::of(GoogleFault::Kind::commit_then_fail, "POST", kCreate);
    fault.status = status;
    fake.inject(fault);
    auto started = create(make_job(id));
    ASSERT_TRUE(started) << status << ": " << to_string(started.error());
    const auto jobs = fake.jobs_with_label("gridshift-job", id);
    ASSERT_EQ(jobs.size(), 1u) << status;
    EXPECT_EQ(started->remote_name, jobs[0].name);
    EXPECT_EQ(fake.count("POST", kCreate), 1) << status;
    EXPECT_GE(fake.count("GET", kCreate), 1) << "listed by label";
  }
}

TEST_F(VertexTargetTest, ServiceUnavailableListsThenCreatesOnce) {
  fake.inject(GoogleFault::error("POST", kCreate, 503));
  auto started = create(make_job("job-503"));
  ASSERT_TRUE(started) << to_string(started.error());
  EXPECT_EQ(fake.jobs().size(), 1u);
  // Nothing is posted again before two LISTs (a settle delay apart) found nothing.
  std::vector<std::string> vertex_calls;
  for (const auto& call : trail()) {
    if (call.find("/customJobs") != std::string::npos) vertex_calls.push_back(call);
  }
  const std::string jobs_path =
      "/r/europe-west4/v1/projects/gridshift-test/locations/europe-west4/customJobs";
  const std::vector<std::string> want = {"POST " + jobs_path, "GET " + jobs_path,
                                         "GET " + jobs_path, "POST " + jobs_path};
  EXPECT_EQ(vertex_calls, want);
}

TEST_F(VertexTargetTest, ListLagIsCoveredBySettleDelay) {
  options.settle_delay = milliseconds(300);
  fake.set_list_lag(milliseconds(150));
  auto fault = GoogleFault::of(GoogleFault::Kind::commit_then_fail, "POST", kCreate);
  fake.inject(fault);
  auto started = create(make_job("job-lag"));
  ASSERT_TRUE(started) << to_string(started.error());
  EXPECT_EQ(fake.jobs().size(), 1u);
  EXPECT_EQ(fake.count("POST", kCreate), 1);
}

TEST_F(VertexTargetTest, AmbiguousCreateWithTwoJobsKeepsTheOldest) {
  const auto older = add_labelled_job("job-two");
  fake.inject(GoogleFault::of(GoogleFault::Kind::commit_then_fail, "POST", kCreate));
  auto started = create(make_job("job-two"));
  ASSERT_TRUE(started) << to_string(started.error());
  EXPECT_EQ(started->remote_name, older.name);
  const auto jobs = fake.jobs_with_label("gridshift-job", "job-two");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[1].state == "JOB_STATE_CANCELLING" || jobs[1].state == "JOB_STATE_CANCELLED", true)
      << jobs[1].state;
  EXPECT_EQ(fake.count("POST", "*:cancel"), 1);
}

TEST_F(VertexTargetTest, DuplicateOnCreateIsCancelledByAdopt) {
  fake.inject(GoogleFault::of(GoogleFault::Kind::duplicate_on_create, "POST", kCreate));
  const auto job = make_job("job-dup");
  auto started = create(job);
  ASSERT_TRUE(started) << to_string(started.error());
  auto jobs = fake.jobs_with_label("gridshift-job", "job-dup");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(started->remote_name, jobs[0].name);

  auto adopted = adopt(job);
  ASSERT_TRUE(adopted) << to_string(adopted.error());
  ASSERT_TRUE(*adopted);
  EXPECT_EQ((*adopted)->remote_name, jobs[0].name);
  jobs = fake.jobs_with_label("gridshift-job", "job-dup");
  EXPECT_EQ(jobs[0].state, "JOB_STATE_RUNNING");
  EXPECT_EQ(jobs[1].state, "JOB_STATE_CANCELLED");
}

TEST_F(VertexTargetTest, AdoptFindsNothingOneOrTwo) {
  const auto job = make_job("job-adopt");
  auto none = adopt(job);
  ASSERT_TRUE(none) << to_string(none.error());
  EXPECT_FALSE(*none);
  EXPECT_EQ(fake.count("GET", kCreate), 2) << "an empty LIST is repeated after the settle delay";
  EXPECT_EQ(fake.requests("GET", kCreate)[0].params().at("filter"),
            "labels.gridshift-job=\"job-adopt\"");

  const auto first = add_labelled_job("job-adopt");
  add_labelled_job("someone-else");
  auto one = adopt(job);
  ASSERT_TRUE(one && *one);
  EXPECT_EQ((*one)->remote_name, first.name);
  EXPECT_EQ(fake.count("POST", "*:cancel"), 0);

  const auto second = add_labelled_job("job-adopt");
  auto two = adopt(job);
  ASSERT_TRUE(two && *two);
  EXPECT_EQ((*two)->remote_name, first.name);
  EXPECT_EQ(fake.count("POST", "*:cancel"), 1);
  EXPECT_EQ(fake.job(second.name)->state, "JOB_STATE_CANCELLED");
  EXPECT_EQ(fake.job(first.name)->state, "JOB_STATE_RUNNING");
}

TEST_F(VertexTargetTest, RevokedTokensRenewOnceAndSucceed) {
  const auto job = make_job("job-401");
  auto started = create(job);
  ASSERT_TRUE(started);
  EXPECT_EQ(tokens.fetched, 1);
  fake.revoke_all_tokens();
  auto status = poll(job, started->remote_name);
  ASSERT_TRUE(status) << to_string(status.error());
  EXPECT_EQ(status->state, JobState::running);
  EXPECT_EQ(tokens.invalidated, 1);
  EXPECT_EQ(tokens.fetched, 2);

  // A create after another revocation: one renewal, one job.
  fake.revoke_all_tokens();
  auto second = create(make_job("job-401-b"));
  ASSERT_TRUE(second) << to_string(second.error());
  EXPECT_EQ(tokens.invalidated, 2);
  EXPECT_EQ(fake.jobs_with_label("gridshift-job", "job-401-b").size(), 1u);
}

TEST_F(VertexTargetTest, RateLimitHonoursRetryAfterWithoutListing) {
  fake.inject(GoogleFault::rate_limit("POST", kCreate, 1));
  const auto before = std::chrono::steady_clock::now();
  auto started = create(make_job("job-429"));
  ASSERT_TRUE(started) << to_string(started.error());
  EXPECT_GE(std::chrono::steady_clock::now() - before, milliseconds(1000));
  EXPECT_EQ(fake.count("POST", kCreate), 2);
  EXPECT_EQ(fake.count("GET", kCreate), 0) << "a refused request needs no reconcile";
}

TEST_F(VertexTargetTest, TransientTroubleExhaustedIsRetry) {
  options.max_create_requests = 2;
  fake.inject(GoogleFault::error("POST", kCreate, 500, -1));
  expect_create_fails("job-500", "retry", "500");
  EXPECT_EQ(fake.count("POST", kCreate), 2);
  EXPECT_TRUE(fake.jobs().empty());
}

TEST_F(VertexTargetTest, StockoutFailureIsRegionUnavailable) {
  fake.set_job_script(JobScript::stockout(milliseconds(0)));
  const auto job = make_job("job-stockout");
  auto started = create(job);
  ASSERT_TRUE(started);
  auto status = poll(job, started->remote_name);
  ASSERT_TRUE(status) << to_string(status.error());
  EXPECT_EQ(status->state, JobState::failed);
  EXPECT_TRUE(status->region_unavailable);
  EXPECT_NE(status->message.find("Resources are insufficient"), std::string::npos);
}

TEST_F(VertexTargetTest, UnknownStateKeepsFollowing) {
  fake.set_job_script(JobScript::unknown_state(milliseconds(0)));
  const auto job = make_job("job-future");
  auto started = create(job);
  ASSERT_TRUE(started);
  auto status = poll(job, started->remote_name);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, JobState::running);
  EXPECT_TRUE(fake.bucket("gridshift-staging-job-future"));
}

TEST_F(VertexTargetTest, CancelWhilePending) {
  fake.set_job_script(JobScript::run_forever(std::chrono::hours(1)));
  const auto job = make_job("job-cancel");
  auto started = create(job);
  ASSERT_TRUE(started);
  EXPECT_EQ(fake.job(started->remote_name)->state, "JOB_STATE_PENDING");
  auto cancelled = cancel(job, started->remote_name);
  ASSERT_TRUE(cancelled) << to_string(cancelled.error());
  EXPECT_EQ(fake.job(started->remote_name)->state, "JOB_STATE_CANCELLED");
  EXPECT_FALSE(fake.bucket("gridshift-staging-job-cancel"));
  auto status = poll(job, started->remote_name);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, JobState::cancelled);
}

TEST_F(VertexTargetTest, CancelOnEndedOrMissingJobSucceeds) {
  const auto job = make_job("job-ended");
  auto started = create(job);
  ASSERT_TRUE(started);
  ASSERT_TRUE(fake.force_job_state(started->remote_name, "JOB_STATE_SUCCEEDED"));
  fake.clear_requests();
  auto cancelled = cancel(job, started->remote_name);
  ASSERT_TRUE(cancelled) << to_string(cancelled.error());
  EXPECT_EQ(fake.count("POST", "*:cancel"), 1);
  EXPECT_EQ(fake.count("GET", kOneJob), 1) << "FAILED_PRECONDITION is checked with a GET";
  EXPECT_EQ(fake.job(started->remote_name)->state, "JOB_STATE_SUCCEEDED");

  auto missing = cancel(job, "projects/123456789012/locations/europe-west4/customJobs/999");
  EXPECT_TRUE(missing) << to_string(missing.error());
  EXPECT_TRUE(cancel(job, "")) << "nothing to cancel";
}

TEST_F(VertexTargetTest, ForeignBucketRefusesWithoutCreating) {
  fake.add_foreign_bucket("gridshift-staging-job-taken");
  expect_create_fails("job-taken", "vertex_staging_failed", "another project");
  EXPECT_EQ(fake.count("POST", kCreate), 0);
}

TEST_F(VertexTargetTest, ExistingOwnBucketAndSpecAreReused) {
  fake.add_bucket("gridshift-staging-job-again", "EUROPE-WEST4");
  fake.add_object("gridshift-staging-job-again", "gridshift/job-spec.json", "{}",
                  "application/json");
  auto started = create(make_job("job-again"));
  ASSERT_TRUE(started) << to_string(started.error());
  EXPECT_EQ(fake.count("GET", "/storage/v1/b/gridshift-staging-job-again"), 1);
  EXPECT_EQ(fake.jobs().size(), 1u);
}

TEST_F(VertexTargetTest, CleanupRelistsOnConflictAndIsRedoneAfterTrouble) {
  options.max_retries = 1;
  const auto job = make_job("job-clean");
  const std::string bucket_path = "/storage/v1/b/gridshift-staging-job-clean";
  auto started = create(job);
  ASSERT_TRUE(started);
  fake.add_object("gridshift-staging-job-clean", "output/model/weights.pt", "w");
  ASSERT_TRUE(fake.force_job_state(started->remote_name, "JOB_STATE_FAILED", 3, "exit 1"));

  // The bucket cannot be deleted for now: the end is not reported until it is.
  fake.inject(GoogleFault::error("DELETE", bucket_path, 503, -1));
  auto pending = poll(job, started->remote_name);
  ASSERT_FALSE(pending);
  EXPECT_EQ(pending.error().code, "retry");
  EXPECT_TRUE(fake.bucket("gridshift-staging-job-clean"));

  // 409 "not empty" (objects written meanwhile): list and delete once more.
  fake.clear_faults();
  fake.clear_requests();
  fake.inject(GoogleFault::error("DELETE", bucket_path, 409));
  auto done = poll(job, started->remote_name);
  ASSERT_TRUE(done) << to_string(done.error());
  EXPECT_EQ(done->state, JobState::failed);
  EXPECT_EQ(done->message, "exit 1");
  EXPECT_FALSE(done->region_unavailable);
  EXPECT_FALSE(fake.bucket("gridshift-staging-job-clean"));
  EXPECT_EQ(fake.count("DELETE", bucket_path), 2);
  EXPECT_EQ(fake.count("GET", bucket_path + "/o"), 2);
}

TEST_F(VertexTargetTest, HangingEndpointTimesOut) {
  options.read_timeout = milliseconds(500);
  options.max_retries = 1;
  config.staging_bucket.enabled = false;
  const auto job = make_job("job-hang");
  auto started = create(job);
  ASSERT_TRUE(started);
  fake.inject(GoogleFault::of(GoogleFault::Kind::hang, "GET", kOneJob, -1));
  auto status = poll(job, started->remote_name);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, "retry");
  EXPECT_NE(status.error().message.find("timed out"), std::string::npos) << status.error().message;
  EXPECT_EQ(fake.count("GET", kOneJob), 2);
  fake.clear_faults();
  auto again = poll(job, started->remote_name);
  ASSERT_TRUE(again) << to_string(again.error());
  EXPECT_EQ(again->state, JobState::running);
}

}  // namespace
}  // namespace gridshift::testing
