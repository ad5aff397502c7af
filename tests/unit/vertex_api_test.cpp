// The pure Vertex AI / Cloud Storage shapes: CustomJob bodies field by field, response parsing
// (unknown fields, every state, int64 as strings), the error status table, names and URLs.
#include "deploy/vertex_ai/vertex_api.h"

#include <gtest/gtest.h>

namespace gridshift {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

const TimePoint kNow =
    TimePoint{std::chrono::sys_days(std::chrono::year(2026) / 11 / 26)} + std::chrono::hours(18);

Job container_job() {
  Job job;
  job.id = "7f3c2a1e-5b6d";
  job.spec.name = "resnet50";
  VertexSpec v;
  v.machine_type = "g2-standard-8";
  v.accelerator_type = "NVIDIA_L4";
  v.accelerator_count = 1;
  v.replica_count = 1;
  v.container = ContainerSpec{"europe-docker.pkg.dev/p/r/trainer:1",
                              {"python", "-m", "trainer.task"},
                              {"--epochs", "10"},
                              {{"A", "1"}, {"GRIDSHIFT_JOB_ID", "spoofed"}}};
  v.service_account = "trainer@p.iam.gserviceaccount.com";
  v.scheduling = SchedulingSpec{SchedulingStrategy::spot, Seconds(86400)};
  v.labels = {{"team", "vision"}, {"managed-by", "someone-else"}};
  job.spec.vertex = v;
  return job;
}

Job package_job() {
  Job job;
  job.id = "job-2";
  job.spec.name = "bert";
  VertexSpec v;
  v.machine_type = "n1-standard-8";
  v.replica_count = 2;
  v.python_package = PythonPackageSpec{"us-docker.pkg.dev/vertex-ai/training/pytorch:latest",
                                       {"gs://b/trainer-0.1.tar.gz"},
                                       "trainer.task",
                                       {"--lr", "0.1"}};
  job.spec.vertex = v;
  return job;
}

TEST(VertexApiBody, ContainerJobFieldByField) {
  auto body = custom_job_body(container_job(), "europe-west4", "gs://gridshift-staging-x/output/");
  ASSERT_TRUE(body) << to_string(body.error());
  const auto expected = json::parse(R"({
    "displayName": "gridshift-7f3c2a1e-5b6d-resnet50",
    "labels": {"team": "vision", "managed-by": "gridshiftd", "gridshift-job": "7f3c2a1e-5b6d"},
    "jobSpec": {
      "workerPoolSpecs": [{
        "machineSpec": {"machineType": "g2-standard-8", "acceleratorType": "NVIDIA_L4",
                        "acceleratorCount": 1},
        "replicaCount": "1",
        "containerSpec": {
          "imageUri": "europe-docker.pkg.dev/p/r/trainer:1",
          "command": ["python", "-m", "trainer.task"],
          "args": ["--epochs", "10"],
          "env": [{"name": "A", "value": "1"},
                  {"name": "GRIDSHIFT_JOB_ID", "value": "7f3c2a1e-5b6d"},
                  {"name": "GRIDSHIFT_REGION", "value": "europe-west4"}]
        }
      }],
      "scheduling": {"strategy": "SPOT", "timeout": "86400s"},
      "serviceAccount": "trainer@p.iam.gserviceaccount.com",
      "baseOutputDirectory": {"outputUriPrefix": "gs://gridshift-staging-x/output/"}
    }
  })");
  EXPECT_EQ(*body, expected) << body->dump(2);
  // int64 travels as a string, int32 as a number (proto3 JSON).
  EXPECT_TRUE(body->at("jobSpec").at("workerPoolSpecs")[0].at("replicaCount").is_string());
  EXPECT_TRUE(body->at("jobSpec")
                  .at("workerPoolSpecs")[0]
                  .at("machineSpec")
                  .at("acceleratorCount")
                  .is_number_integer());
}

TEST(VertexApiBody, PythonPackageJobWithoutOptionalFields) {
  auto body = custom_job_body(package_job(), "us-central1", "");
  ASSERT_TRUE(body) << to_string(body.error());
  const auto expected = json::parse(R"({
    "displayName": "gridshift-job-2-bert",
    "labels": {"managed-by": "gridshiftd", "gridshift-job": "job-2"},
    "jobSpec": {
      "workerPoolSpecs": [{
        "machineSpec": {"machineType": "n1-standard-8"},
        "replicaCount": "2",
        "pythonPackageSpec": {
          "executorImageUri": "us-docker.pkg.dev/vertex-ai/training/pytorch:latest",
          "packageUris": ["gs://b/trainer-0.1.tar.gz"],
          "pythonModule": "trainer.task",
          "args": ["--lr", "0.1"],
          "env": [{"name": "GRIDSHIFT_JOB_ID", "value": "job-2"},
                  {"name": "GRIDSHIFT_REGION", "value": "us-central1"}]
        }
      }],
      "scheduling": {"strategy": "STANDARD"}
    }
  })");
  EXPECT_EQ(*body, expected) << body->dump(2);
}

TEST(VertexApiBody, StrategiesAndTimeouts) {
  struct Row {
    SchedulingStrategy strategy;
    std::optional<Seconds> timeout;
    const char* want_strategy;
    const char* want_timeout;  // nullptr: absent
  };
  const Row rows[] = {
      {SchedulingStrategy::standard, std::nullopt, "STANDARD", nullptr},
      {SchedulingStrategy::spot, Seconds(3600), "SPOT", "3600s"},
      {SchedulingStrategy::flex_start, Seconds(90), "FLEX_START", "90s"},
  };
  for (const auto& row : rows) {
    auto job = package_job();
    job.spec.vertex->scheduling = SchedulingSpec{row.strategy, row.timeout};
    auto body = custom_job_body(job, "us-central1", "");
    ASSERT_TRUE(body);
    const auto& scheduling = body->at("jobSpec").at("scheduling");
    EXPECT_EQ(scheduling.at("strategy"), row.want_strategy);
    if (row.want_timeout) {
      EXPECT_EQ(scheduling.at("timeout"), row.want_timeout);
    } else {
      EXPECT_FALSE(scheduling.contains("timeout"));
    }
  }
}

TEST(VertexApiBody, AcceleratorsOnlyWhenSet) {
  struct Row {
    std::string type;
    int count;
    json want;
  };
  const Row rows[] = {
      {"", 0, json{{"machineType", "n1-standard-8"}}},
      {"NVIDIA_TESLA_T4", 2,
       json{{"machineType", "n1-standard-8"},
            {"acceleratorType", "NVIDIA_TESLA_T4"},
            {"acceleratorCount", 2}}},
      {"TPU_V3", 8,
       json{{"machineType", "n1-standard-8"},
            {"acceleratorType", "TPU_V3"},
            {"acceleratorCount", 8}}},
  };
  for (const auto& row : rows) {
    auto job = package_job();
    job.spec.vertex->accelerator_type = row.type;
    job.spec.vertex->accelerator_count = row.count;
    auto body = custom_job_body(job, "us-central1", "");
    ASSERT_TRUE(body);
    EXPECT_EQ(body->at("jobSpec").at("workerPoolSpecs")[0].at("machineSpec"), row.want) << row.type;
  }
}

TEST(VertexApiBody, DisplayNameIsCutTo128Characters) {
  auto job = package_job();
  job.spec.name = std::string(128, 'n');
  auto body = custom_job_body(job, "us-central1", "");
  ASSERT_TRUE(body);
  const auto name = body->at("displayName").get<std::string>();
  EXPECT_EQ(name.size(), 128u);
  EXPECT_EQ(name.substr(0, 17), "gridshift-job-2-n");
}

TEST(VertexApiBody, MissingWorkloadNamesTheField) {
  auto no_vertex = package_job();
  no_vertex.spec.vertex.reset();
  auto r = custom_job_body(no_vertex, "us-central1", "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_job");
  ASSERT_EQ(r.error().details.size(), 1u);
  EXPECT_EQ(r.error().details[0].field, "vertex");

  auto no_workload = package_job();
  no_workload.spec.vertex->python_package.reset();
  r = custom_job_body(no_workload, "us-central1", "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().details[0].field, "vertex.container");
}

TEST(VertexApiBody, StagingBucketIsRegionalAndPrivate) {
  const auto body = staging_bucket_body("gridshift-staging-j1", "europe-north1", "j1");
  EXPECT_EQ(body.at("name"), "gridshift-staging-j1");
  EXPECT_EQ(body.at("location"), "EUROPE-NORTH1");
  EXPECT_EQ(body.at("labels"), (json{{"managed-by", "gridshiftd"}, {"gridshift-job", "j1"}}));
  EXPECT_EQ(body.at("iamConfiguration").at("uniformBucketLevelAccess").at("enabled"), true);
  EXPECT_EQ(body.at("iamConfiguration").at("publicAccessPrevention"), "enforced");
}

TEST(VertexApiParse, FullResourceWithUnknownFieldsAndStringInts) {
  auto job = parse_custom_job(std::string_view(R"({
    "name": "projects/123456789012/locations/europe-west4/customJobs/4567",
    "displayName": "gridshift-j1-resnet",
    "jobSpec": {"workerPoolSpecs": [{"replicaCount": "3", "machineSpec": {"machineType": "x"}}],
                "futureSpecField": {"a": [1, 2]}},
    "state": "JOB_STATE_FAILED",
    "createTime": "2026-08-01T12:00:03.123456Z",
    "startTime": "2026-08-01T12:05:00Z",
    "endTime": "2026-08-01T13:00:00.5Z",
    "updateTime": "2026-08-01T13:00:01Z",
    "labels": {"gridshift-job": "j1", "managed-by": "gridshiftd"},
    "error": {"code": "3", "message": "trainer exited with status 1"},
    "satisfiesPzi": false,
    "futureField": "anything"
  })"));
  ASSERT_TRUE(job) << to_string(job.error());
  EXPECT_EQ(job->name, "projects/123456789012/locations/europe-west4/customJobs/4567");
  EXPECT_EQ(job->display_name, "gridshift-j1-resnet");
  EXPECT_EQ(job->state, "JOB_STATE_FAILED");
  EXPECT_EQ(job->job_state, JobState::failed);
  EXPECT_TRUE(job->known_state);
  EXPECT_EQ(job->labels.at("gridshift-job"), "j1");
  EXPECT_EQ(job->create_time, *parse_rfc3339("2026-08-01T12:00:03Z"));
  EXPECT_EQ(job->create_time_nanos, 123'456'000);
  EXPECT_EQ(job->start_time, *parse_rfc3339("2026-08-01T12:05:00Z"));
  EXPECT_EQ(job->end_time, *parse_rfc3339("2026-08-01T13:00:00Z"));
  EXPECT_EQ(job->replica_count, 3);
  EXPECT_EQ(job->error_code, 3);
  EXPECT_EQ(job->error_message, "trainer exited with status 1");
  EXPECT_FALSE(job->region_unavailable);
}

TEST(VertexApiParse, EmptyResourceHasNothingButIsStillRunning) {
  auto job = parse_custom_job(std::string_view("{}"));
  ASSERT_TRUE(job);
  EXPECT_EQ(job->job_state, JobState::running);
  EXPECT_FALSE(job->known_state);
  EXPECT_FALSE(job->create_time);
  EXPECT_FALSE(job->error_code);
  EXPECT_FALSE(job->replica_count);
}

TEST(VertexApiParse, EveryStateIsClassified) {
  struct Row {
    const char* state;
    JobState want;
    bool known;
  };
  const Row rows[] = {
      {"JOB_STATE_QUEUED", JobState::running, true},
      {"JOB_STATE_PENDING", JobState::running, true},
      {"JOB_STATE_RUNNING", JobState::running, true},
      {"JOB_STATE_UPDATING", JobState::running, true},
      {"JOB_STATE_CANCELLING", JobState::running, true},
      {"JOB_STATE_PAUSED", JobState::running, true},
      {"JOB_STATE_SUCCEEDED", JobState::succeeded, true},
      {"JOB_STATE_PARTIALLY_SUCCEEDED", JobState::failed, true},
      {"JOB_STATE_FAILED", JobState::failed, true},
      {"JOB_STATE_EXPIRED", JobState::failed, true},
      {"JOB_STATE_CANCELLED", JobState::cancelled, true},
      {"JOB_STATE_UNSPECIFIED", JobState::running, false},
      {"JOB_STATE_TELEPORTED", JobState::running, false},
  };
  for (const auto& row : rows) {
    auto job = parse_custom_job_resource(json{{"state", row.state}});
    ASSERT_TRUE(job) << row.state;
    EXPECT_EQ(job->job_state, row.want) << row.state;
    EXPECT_EQ(job->known_state, row.known) << row.state;
  }
}

TEST(VertexApiParse, RegionUnavailableFailures) {
  struct Row {
    const char* state;
    json error;
    bool want;
  };
  const Row rows[] = {
      {"JOB_STATE_FAILED",
       {{"code", 8},
        {"message",
         "The following quota metrics exceed quota limits: "
         "aiplatform.googleapis.com/custom_model_training_nvidia_l4_gpus"}},
       true},
      {"JOB_STATE_FAILED",
       {{"code", 8}, {"message", "Resources are insufficient in region: us-central1"}},
       true},
      {"JOB_STATE_FAILED", {{"code", "8"}, {"message", "Quota exceeded"}}, true},
      {"JOB_STATE_FAILED", {{"code", 3}, {"message", "bad flag --lr"}}, false},
      {"JOB_STATE_FAILED", {{"code", 13}, {"message", "Internal error"}}, false},
      {"JOB_STATE_CANCELLED", {{"code", 1}, {"message", "CustomJob was cancelled"}}, false},
      {"JOB_STATE_EXPIRED", {{"code", 8}, {"message", "quota"}}, false},
  };
  for (const auto& row : rows) {
    auto job = parse_custom_job_resource(json{{"state", row.state}, {"error", row.error}});
    ASSERT_TRUE(job) << row.error.dump();
    EXPECT_EQ(job->region_unavailable, row.want) << row.error.dump();
  }
}

TEST(VertexApiParse, WrongTypesNameTheField) {
  struct Row {
    const char* body;
    const char* field;
  };
  const Row rows[] = {
      {R"({"state": 5})", "state"},
      {R"({"name": ["x"]})", "name"},
      {R"({"createTime": "yesterday"})", "createTime"},
      {R"({"endTime": 17})", "endTime"},
      {R"({"labels": {"team": 3}})", "labels.team"},
      {R"({"error": {"code": "eight"}})", "error.code"},
      {R"({"jobSpec": {"workerPoolSpecs": [{"replicaCount": "1x"}]}})",
       "jobSpec.workerPoolSpecs[0].replicaCount"},
      {R"([1, 2])", "body"},
      {R"(<html>)", "body"},
  };
  for (const auto& row : rows) {
    auto job = parse_custom_job(std::string_view(row.body));
    ASSERT_FALSE(job) << row.body;
    EXPECT_EQ(job.error().code, kVertexBadResponse);
    ASSERT_EQ(job.error().details.size(), 1u);
    EXPECT_EQ(job.error().details[0].field, row.field) << row.body;
  }
}

TEST(VertexApiParse, NestingBeyondTheLimitIsRefused) {
  const std::string deep =
      R"({"futureField": )" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_FALSE(parse_custom_job(std::string_view(deep)));
}

TEST(VertexApiParse, ListPages) {
  auto empty = parse_custom_job_list("{}");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->jobs.empty());
  EXPECT_TRUE(empty->next_page_token.empty());

  auto page = parse_custom_job_list(R"({"customJobs": [
      {"name": "projects/1/locations/r/customJobs/2", "state": "JOB_STATE_RUNNING"},
      {"name": "projects/1/locations/r/customJobs/3"}], "nextPageToken": "tok2"})");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->jobs.size(), 2u);
  EXPECT_EQ(page->jobs[1].name, "projects/1/locations/r/customJobs/3");
  EXPECT_EQ(page->next_page_token, "tok2");

  auto bad = parse_custom_job_list(R"({"customJobs": [{}, {"state": 4}]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().details[0].field, "customJobs[1].state");
}

TEST(VertexApiParse, OldestFirst) {
  std::vector<VertexJob> jobs(5);
  jobs[4].name = "d";
  jobs[4].create_time = kNow + Seconds(5);
  jobs[4].create_time_nanos = 1;
  jobs[0].name = "c";
  jobs[0].create_time = kNow + Seconds(5);
  jobs[0].create_time_nanos = 900'000'000;
  jobs[1].name = "none";
  jobs[2].name = "b";
  jobs[2].create_time = kNow;
  jobs[3].name = "a";
  jobs[3].create_time = kNow + Seconds(5);
  sort_oldest_first(jobs);
  EXPECT_EQ(jobs[0].name, "b");
  EXPECT_EQ(jobs[1].name, "a");
  EXPECT_EQ(jobs[2].name, "d");
  EXPECT_EQ(jobs[3].name, "c");
  EXPECT_EQ(jobs[4].name, "none");
}

TEST(VertexApiParse, ObjectLists) {
  auto empty = parse_object_list(R"({"kind": "storage#objects"})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->items.empty());
  auto page = parse_object_list(
      R"({"items": [{"name": "a/b", "generation": "1700000000000001"}, {"name": "c",
          "generation": 2}], "nextPageToken": "n"})");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].name, "a/b");
  EXPECT_EQ(page->items[0].generation, "1700000000000001");
  EXPECT_EQ(page->items[1].generation, "2");
  EXPECT_EQ(page->next_page_token, "n");
  auto bad = parse_object_list(R"({"items": [{"generation": "1"}]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().details[0].field, "items[0].name");
}

std::string rpc_error(int code, const std::string& status, const std::string& message,
                      json details = json::array()) {
  return json{
      {"error", {{"code", code}, {"status", status}, {"message", message}, {"details", details}}}}
      .dump();
}

TEST(VertexApiErrors, ClassificationTable) {
  const std::string quota =
      "The following quota metrics exceed quota limits: "
      "aiplatform.googleapis.com/custom_model_training_nvidia_l4_gpus";
  const std::string unsupported =
      "Accelerator \"NVIDIA_H100_80GB\" is not supported in location europe-west2.";
  const json retry_info = json::array(
      {{{"@type", "type.googleapis.com/google.rpc.RetryInfo"}, {"retryDelay", "1.500s"}}});
  const json quota_failure = json::array(
      {{{"@type", "type.googleapis.com/google.rpc.QuotaFailure"},
        {"violations", {{{"subject", "custom_model_training_cpus"}, {"description", "cpus"}}}}}});
  struct Row {
    ApiCall call;
    int status;
    std::string body;
    std::optional<std::string> retry_after;
    ApiErrorKind want;
    std::optional<milliseconds> want_delay;
  };
  const auto rate = rpc_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for requests per minute");
  const Row rows[] = {
      // 503 UNAVAILABLE / 500 / 504 / 409 ABORTED: reads and cancel retry, create reconciles.
      {ApiCall::read, 503, rpc_error(503, "UNAVAILABLE", "x"), {}, ApiErrorKind::retry, {}},
      {ApiCall::create, 503, rpc_error(503, "UNAVAILABLE", "x"), {}, ApiErrorKind::reconcile, {}},
      {ApiCall::cancel, 503, rpc_error(503, "UNAVAILABLE", "x"), {}, ApiErrorKind::retry, {}},
      {ApiCall::create, 500, rpc_error(500, "INTERNAL", "x"), {}, ApiErrorKind::reconcile, {}},
      {ApiCall::read, 504, rpc_error(504, "DEADLINE_EXCEEDED", "x"), {}, ApiErrorKind::retry, {}},
      {ApiCall::create, 504, "", {}, ApiErrorKind::reconcile, {}},
      {ApiCall::cancel, 500, "", {}, ApiErrorKind::retry, {}},
      {ApiCall::create, 409, rpc_error(409, "ABORTED", "x"), {}, ApiErrorKind::reconcile, {}},
      {ApiCall::read, 409, rpc_error(409, "ABORTED", "x"), {}, ApiErrorKind::retry, {}},
      // 429 rate limit: retry honouring Retry-After or RetryInfo.
      {ApiCall::create, 429, rate, "7", ApiErrorKind::retry, milliseconds(7000)},
      {ApiCall::read,
       429,
       rpc_error(429, "RESOURCE_EXHAUSTED", "slow down", retry_info),
       {},
       ApiErrorKind::retry,
       milliseconds(1500)},
      {ApiCall::cancel, 429, rate, {}, ApiErrorKind::retry, {}},
      // 429 naming custom_model_training_*: this region cannot take the job now.
      {ApiCall::create,
       429,
       rpc_error(429, "RESOURCE_EXHAUSTED", quota),
       {},
       ApiErrorKind::region_unavailable,
       {}},
      {ApiCall::create,
       429,
       rpc_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", quota_failure),
       {},
       ApiErrorKind::region_unavailable,
       {}},
      {ApiCall::read,
       429,
       rpc_error(429, "RESOURCE_EXHAUSTED", quota),
       {},
       ApiErrorKind::retry,
       {}},
      // 401: renew the token once.
      {ApiCall::create,
       401,
       rpc_error(401, "UNAUTHENTICATED", "expired"),
       {},
       ApiErrorKind::renew_token,
       {}},
      {ApiCall::read, 401, "", {}, ApiErrorKind::renew_token, {}},
      // 403: fatal everywhere.
      {ApiCall::create,
       403,
       rpc_error(403, "PERMISSION_DENIED", "no"),
       {},
       ApiErrorKind::fatal,
       {}},
      {ApiCall::cancel,
       403,
       rpc_error(403, "PERMISSION_DENIED", "no"),
       {},
       ApiErrorKind::fatal,
       {}},
      // 400 INVALID_ARGUMENT: fatal, unless the machine/accelerator is not offered here.
      {ApiCall::create,
       400,
       rpc_error(400, "INVALID_ARGUMENT", "displayName is required"),
       {},
       ApiErrorKind::fatal,
       {}},
      {ApiCall::create,
       400,
       rpc_error(400, "INVALID_ARGUMENT", unsupported),
       {},
       ApiErrorKind::region_unavailable,
       {}},
      {ApiCall::read,
       400,
       rpc_error(400, "INVALID_ARGUMENT", unsupported),
       {},
       ApiErrorKind::fatal,
       {}},
      // 400 FAILED_PRECONDITION: cancel of an ended job; fatal elsewhere.
      {ApiCall::cancel,
       400,
       rpc_error(400, "FAILED_PRECONDITION", "already finished"),
       {},
       ApiErrorKind::already_terminal,
       {}},
      {ApiCall::create,
       400,
       rpc_error(400, "FAILED_PRECONDITION", "x"),
       {},
       ApiErrorKind::fatal,
       {}},
      // 404.
      {ApiCall::read, 404, rpc_error(404, "NOT_FOUND", "gone"), {}, ApiErrorKind::not_found, {}},
      {ApiCall::cancel, 404, rpc_error(404, "NOT_FOUND", "gone"), {}, ApiErrorKind::not_found, {}},
      {ApiCall::create,
       404,
       rpc_error(404, "NOT_FOUND", "no project"),
       {},
       ApiErrorKind::not_found,
       {}},
  };
  for (const auto& row : rows) {
    const auto e = classify_vertex_error(row.call, row.status, row.body, row.retry_after, kNow);
    EXPECT_EQ(to_string(e.kind), to_string(row.want))
        << static_cast<int>(row.call) << " " << row.status << " " << row.body;
    EXPECT_EQ(e.retry_after, row.want_delay) << row.status << " " << row.body;
    EXPECT_EQ(e.http_status, row.status);
  }
}

TEST(VertexApiErrors, KeepsTheApisMessage) {
  const auto e = classify_vertex_error(
      ApiCall::create, 403,
      rpc_error(403, "PERMISSION_DENIED", "Vertex AI API has not been used in project 42"), {},
      kNow);
  EXPECT_EQ(e.status, "PERMISSION_DENIED");
  EXPECT_EQ(e.message, "Vertex AI API has not been used in project 42");
  const auto html = classify_vertex_error(ApiCall::read, 502, "<html>Bad Gateway</html>", {}, kNow);
  EXPECT_EQ(html.message, "HTTP 502");
  EXPECT_EQ(html.kind, ApiErrorKind::retry);
}

TEST(VertexApiErrors, StorageTable) {
  auto gcs = [](int code, const std::string& reason, const std::string& message) {
    return json{{"error",
                 {{"code", code},
                  {"message", message},
                  {"errors", {{{"domain", "global"}, {"reason", reason}, {"message", message}}}}}}}
        .dump();
  };
  struct Row {
    int status;
    std::string body;
    ApiErrorKind want;
    std::string want_reason;
  };
  const Row rows[] = {
      {409,
       gcs(409, "conflict",
           "Your previous request to create the named bucket succeeded and you already own it."),
       ApiErrorKind::conflict, "conflict"},
      {412, gcs(412, "conditionNotMet", "At least one of the pre-conditions did not hold."),
       ApiErrorKind::precondition_failed, "conditionNotMet"},
      {401, gcs(401, "required", "Login Required"), ApiErrorKind::renew_token, "required"},
      {403, gcs(403, "forbidden", "no access"), ApiErrorKind::fatal, "forbidden"},
      {404, gcs(404, "notFound", "No such bucket"), ApiErrorKind::not_found, "notFound"},
      {400, gcs(400, "invalid", "Invalid bucket name"), ApiErrorKind::fatal, "invalid"},
      {408, "", ApiErrorKind::retry, ""},
      {429, gcs(429, "rateLimitExceeded", "slow"), ApiErrorKind::retry, "rateLimitExceeded"},
      {503, gcs(503, "backendError", "try later"), ApiErrorKind::retry, "backendError"},
  };
  for (const auto& row : rows) {
    const auto e = classify_storage_error(row.status, row.body, std::nullopt, kNow);
    EXPECT_EQ(to_string(e.kind), to_string(row.want)) << row.status;
    EXPECT_EQ(e.status, row.want_reason) << row.status;
  }
  const auto with_delay = classify_storage_error(503, "", std::string("3"), kNow);
  EXPECT_EQ(with_delay.retry_after, milliseconds(3000));
}

TEST(VertexApiErrors, RetryAfterAndDurations) {
  EXPECT_EQ(parse_retry_after("120", kNow), milliseconds(120000));
  EXPECT_EQ(parse_retry_after(" 0 ", kNow), milliseconds(0));
  // 2026-11-26 is a Thursday; 18:00:30 is 30 s after kNow.
  EXPECT_EQ(parse_retry_after("Thu, 26 Nov 2026 18:00:30 GMT", kNow), milliseconds(30000));
  EXPECT_EQ(parse_retry_after("Thu, 26 Nov 2026 17:00:00 GMT", kNow), milliseconds(0));
  for (const char* bad : {"", "soon", "-5", "12abc", "Thu, 26 Foo 2026 18:00:30 GMT"}) {
    EXPECT_FALSE(parse_retry_after(bad, kNow)) << bad;
  }
  EXPECT_EQ(parse_proto_duration("3s"), milliseconds(3000));
  EXPECT_EQ(parse_proto_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_proto_duration("0.250000001s"), milliseconds(250));
  for (const char* bad : {"", "s", "3", "-1s", "1.s", "1.5ms", "x1s"}) {
    EXPECT_FALSE(parse_proto_duration(bad)) << bad;
  }
}

TEST(VertexApiNames, EndpointsAndJobUrls) {
  EXPECT_EQ(region_endpoint("https://{region}-aiplatform.googleapis.com", "europe-west4"),
            "https://europe-west4-aiplatform.googleapis.com");
  EXPECT_EQ(region_endpoint("http://127.0.0.1:8080/r/{region}/", "us-central1"),
            "http://127.0.0.1:8080/r/us-central1");
  EXPECT_EQ(custom_jobs_url("http://127.0.0.1:8080/r/{region}", "my-proj", "us-central1"),
            "http://127.0.0.1:8080/r/us-central1/v1/projects/my-proj/locations/us-central1/"
            "customJobs");
  EXPECT_EQ(job_label_filter("7f3c-2a"), "labels.gridshift-job=\"7f3c-2a\"");
  EXPECT_EQ(custom_jobs_list_url("https://{region}-aiplatform.googleapis.com", "p", "us-east1",
                                 "j-1", ""),
            "https://us-east1-aiplatform.googleapis.com/v1/projects/p/locations/us-east1/"
            "customJobs?filter=labels.gridshift-job%3D%22j-1%22&pageSize=100");
  EXPECT_EQ(custom_jobs_list_url("http://h/{region}", "p", "r", "j", "a+b="),
            "http://h/r/v1/projects/p/locations/r/customJobs?filter=labels.gridshift-job%3D%22j%22"
            "&pageSize=100&pageToken=a%2Bb%3D");

  auto url = custom_job_url("https://{region}-aiplatform.googleapis.com",
                            "projects/123/locations/europe-west4/customJobs/456", ":cancel");
  ASSERT_TRUE(url);
  EXPECT_EQ(*url,
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/123/locations/"
            "europe-west4/customJobs/456:cancel");
  for (const char* bad :
       {"", "projects/1/locations/r/customJobs/", "projects/1/locations/r",
        "projects/1/zones/r/customJobs/2", "projects/1/locations/r/customJobs/2/x"}) {
    auto r = parse_custom_job_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().details[0].field, "name");
  }
}

TEST(VertexApiNames, StagingBucketNames) {
  struct Row {
    std::string prefix;
    std::string job_id;
    std::string want;  // empty: an error naming the prefix
  };
  const std::string id40 = "0123456789abcdef0123456789abcdef01234567";
  const Row rows[] = {
      {"gridshift-staging", "7f3c2a1e-5b6d", "gridshift-staging-7f3c2a1e-5b6d"},
      {"GridShift_Staging", "j1", "gridshift_staging-j1"},
      {"--acme--", "j1", "acme-j1"},
      {"acme corp!", "j1", "acme-corp-j1"},
      {"", "job-1", "job-1"},
      {std::string(70, 'p'), "j1", std::string(60, 'p') + "-j1"},
      {"gridshift-staging-long-prefix", id40, "gridshift-staging-long-" + id40},
      {"google-things", "j1", ""},
      {"goog", "j1", ""},
      {"", "j", ""},
  };
  for (const auto& row : rows) {
    auto name = staging_bucket_name(row.prefix, row.job_id);
    if (row.want.empty()) {
      ASSERT_FALSE(name) << row.prefix;
      EXPECT_EQ(name.error().details[0].field, "dispatch.vertex_ai.staging_bucket.prefix");
      continue;
    }
    ASSERT_TRUE(name) << row.prefix << ": " << to_string(name.error());
    EXPECT_EQ(*name, row.want);
    EXPECT_LE(name->size(), kMaxBucketNameChars);
  }
}

TEST(VertexApiNames, StorageUrls) {
  const std::string base = "http://127.0.0.1:9/";
  EXPECT_EQ(bucket_create_url(base, "my-proj"), "http://127.0.0.1:9/storage/v1/b?project=my-proj");
  EXPECT_EQ(bucket_url(base, "b-1"), "http://127.0.0.1:9/storage/v1/b/b-1");
  EXPECT_EQ(object_upload_url(base, "b-1", kStagingSpecObject),
            "http://127.0.0.1:9/upload/storage/v1/b/b-1/o?uploadType=media&name=gridshift%2Fjob-"
            "spec.json&ifGenerationMatch=0");
  EXPECT_EQ(object_list_url(base, "b-1", ""),
            "http://127.0.0.1:9/storage/v1/b/b-1/o?versions=true&maxResults=1000");
  EXPECT_EQ(object_list_url(base, "b-1", "t/1"),
            "http://127.0.0.1:9/storage/v1/b/b-1/o?versions=true&maxResults=1000&pageToken=t%2F1");
  EXPECT_EQ(object_url(base, "b-1", "output/model/a b.pt", "17"),
            "http://127.0.0.1:9/storage/v1/b/b-1/o/output%2Fmodel%2Fa%20b.pt?generation=17");
  EXPECT_EQ(object_url(base, "b-1", "x", ""), "http://127.0.0.1:9/storage/v1/b/b-1/o/x");
  EXPECT_EQ(staging_output_uri("b-1"), "gs://b-1/output/");
}

}  // namespace
}  // namespace gridshift

namespace gridshift {
namespace {

TEST(VertexApiBody, ASegmentCarriesItsLabelAndTheTrainerContract) {
  Job job = container_job();
  job.spec.interruptible = InterruptibleSpec{3, Seconds{3600}, Seconds{300}};
  job.spec.vertex->container->env["GRIDSHIFT_SEGMENT"] = "99";  // ours win
  JobSegment first;
  first.n = 1;
  JobSegment second;
  second.n = 2;
  second.end = TimePoint{Seconds{1796245200}};
  job.segments = {first, second};
  auto body = custom_job_body(job, "europe-west4", "gs://b/output/", "gs://b/checkpoints/");
  ASSERT_TRUE(body) << to_string(body.error());
  EXPECT_EQ((*body)["labels"]["gridshift-segment"], "2");
  EXPECT_EQ((*body)["labels"]["gridshift-job"], job.id);
  EXPECT_EQ((*body)["displayName"], "gridshift-7f3c2a1e-5b6d-s2-resnet50");
  std::map<std::string, std::string> env;
  for (const auto& e : (*body)["jobSpec"]["workerPoolSpecs"][0]["containerSpec"]["env"])
    env[e["name"]] = e["value"];
  EXPECT_EQ(env["GRIDSHIFT_CHECKPOINT_DIR"], "gs://b/checkpoints/");
  EXPECT_EQ(env["GRIDSHIFT_SEGMENT"], "2");
  EXPECT_EQ(env["GRIDSHIFT_SEGMENT_END"], "2026-12-02T21:00:00Z");
  EXPECT_EQ(env["A"], "1");
  // A job that is not interruptible has none of it.
  auto plain = custom_job_body(container_job(), "europe-west4", "", "");
  ASSERT_TRUE(plain);
  EXPECT_FALSE((*plain)["labels"].contains("gridshift-segment"));
  for (const auto& e : (*plain)["jobSpec"]["workerPoolSpecs"][0]["containerSpec"]["env"])
    EXPECT_NE(e["name"], "GRIDSHIFT_SEGMENT");
}

}  // namespace
}  // namespace gridshift
