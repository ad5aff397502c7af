// The Google fake (tests/fakes/fake_google.h) driven over HTTP by gridshift's own HttpClient, so
// the tests that rely on it can trust it: Vertex AI create/get/list/cancel with the proto3 JSON
// shapes, create validation, quota, scripted lifecycles, faults (commit_then_fail, hang, ...),
// OAuth2 token grants with a JWT signed here with OpenSSL, the metadata server, Cloud Storage
// buckets and objects, and the request record.
#include "fakes/fake_google.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <regex>

#include "core/encoding.h"
#include "fakes/feed_test_env.h"
#include "net/http_client.h"

namespace gridshift::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr const char* kUuid = "7f3c2a1e-5b6d-4c1a-9e0f-2a3b4c5d6e7f";
constexpr const char* kScope = "https://www.googleapis.com/auth/cloud-platform";

std::string jobs_path(const std::string& region, const std::string& project = "gridshift-test",
                      const std::string& location = "") {
  return fmt::format("/r/{}/v1/projects/{}/locations/{}/customJobs", region, project,
                     location.empty() ? region : location);
}

// The CustomJob create body (replicaCount given as a number on purpose).
json job_body(const std::string& uuid = kUuid) {
  return json::parse(R"({
    "displayName": "gridshiftd-7f3c2a1e-resnet50",
    "labels": {"managed-by": "gridshiftd", "gridshift-job": ")" +
                     uuid + R"("},
    "jobSpec": {
      "workerPoolSpecs": [{
        "machineSpec": {"machineType": "g2-standard-8", "acceleratorType": "NVIDIA_L4",
                        "acceleratorCount": 1},
        "replicaCount": 1,
        "diskSpec": {"bootDiskType": "pd-ssd", "bootDiskSizeGb": 100},
        "containerSpec": {"imageUri": "europe-docker.pkg.dev/p/train/resnet:1.4",
                          "command": ["python", "-m", "trainer.task"],
                          "env": [{"name": "CARBOND_JOB", "value": "x"}]}
      }],
      "scheduling": {"timeout": "86400s", "restartJobOnWorkerRestart": false, "strategy": "SPOT"},
      "serviceAccount": "trainer@p.iam.gserviceaccount.com",
      "baseOutputDirectory": {"outputUriPrefix": "gs://bucket/jobs/7f3c2a1e/"}
    }
  })");
}

// An RS256 JWT over `claims`, signed here with OpenSSL (not with gridshift's own JWT code).
std::string sign_jwt(const std::string& private_pem, const json& claims) {
  const std::string signing_input =
      base64url_encode(json{{"alg", "RS256"}, {"typ", "JWT"}}.dump()) + "." +
      base64url_encode(claims.dump());
  BIO* bio = BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t size = 0;
  std::string signature;
  if (key && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestSign(ctx, nullptr, &size,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) == 1) {
    signature.resize(size);
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &size,
                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                   signing_input.size());
    signature.resize(size);
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return signing_input + "." + base64url_encode(signature);
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class FakeGoogleTest : public ::testing::Test {
 protected:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  Result<HttpResponse> try_call(const std::string& method, const std::string& target,
                                const std::string& body = "", std::optional<Headers> headers = {},
                                milliseconds timeout = milliseconds(5000)) {
    HttpRequest request;
    request.method = method;
    request.url = google_.base_url() + target;
    request.body = body;
    request.timeout = timeout;
    request.headers = headers ? *headers : Headers{{"Authorization", "Bearer " + token_}};
    if (!body.empty() && !headers) request.headers.emplace_back("Content-Type", "application/json");
    return run_on(io_, http_.request(std::move(request)));
  }
  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "", std::optional<Headers> headers = {}) {
    auto r = try_call(method, target, body, std::move(headers));
    if (!r) throw std::runtime_error(to_string(r.error()));
    return *r;
  }
  json call_json(const std::string& method, const std::string& target,
                 const std::string& body = "") {
    return json::parse(call(method, target, body).body);
  }
  HttpResponse create(const json& body, const std::string& region = "europe-west4") {
    return call("POST", jobs_path(region), body.dump());
  }
  HttpResponse list(const std::string& region, const std::string& query) {
    return call("GET", jobs_path(region) + "?" + query);
  }
  HttpResponse token_grant(const std::string& form) {
    return call("POST", "/token", form,
                Headers{{"Content-Type", "application/x-www-form-urlencoded"}});
  }
  json claims(std::int64_t iat, std::int64_t exp) const {
    return {{"iss", google_.options().client_email},
            {"scope", kScope},
            {"aud", google_.token_uri()},
            {"iat", iat},
            {"exp", exp}};
  }

  FakeGoogle google_;
  std::string token_ = google_.issue_token();
  boost::asio::io_context io_;
  HttpClient http_{io_.get_executor(), HttpClientOptions{}};
};

TEST_F(FakeGoogleTest, CreateGetListCancelSpeakTheV1Shapes) {
  google_.set_job_script(JobScript::run_forever(milliseconds(0)));
  auto created = create(job_body());
  ASSERT_EQ(created.status, 200) << created.body;
  const json job = json::parse(created.body);
  // Created with the project id, named with the project number and a numeric id.
  const std::regex name_re(R"(projects/123456789012/locations/europe-west4/customJobs/[0-9]{10,})");
  const std::string name = job["name"];
  EXPECT_TRUE(std::regex_match(name, name_re)) << name;
  EXPECT_EQ(job["state"], "JOB_STATE_RUNNING");
  const std::regex time_re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
  EXPECT_TRUE(std::regex_match(job["createTime"].get<std::string>(), time_re));
  EXPECT_TRUE(std::regex_match(job["startTime"].get<std::string>(), time_re));
  EXPECT_FALSE(job.contains("endTime"));
  const json& pool = job["jobSpec"]["workerPoolSpecs"][0];
  EXPECT_EQ(pool["replicaCount"], "1");  // int64 as a string
  EXPECT_EQ(pool["machineSpec"]["acceleratorCount"], 1);
  EXPECT_EQ(job["jobSpec"]["serviceAccount"], "trainer@p.iam.gserviceaccount.com");
  EXPECT_EQ(job["labels"]["gridshift-job"], kUuid);
  EXPECT_EQ(job["satisfiesPzi"], false);  // an extra field clients must tolerate

  const std::string id = name.substr(name.rfind('/') + 1);
  auto got = call_json("GET", jobs_path("europe-west4", "123456789012") + "/" + id);
  EXPECT_EQ(got["name"], name);

  for (const std::string filter :
       {"labels.gridshift-job%3D%227f3c2a1e-5b6d-4c1a-9e0f-2a3b4c5d6e7f%22",
        "labels.gridshift-job%3D7f3c2a1e-5b6d-4c1a-9e0f-2a3b4c5d6e7f",
        "labels.managed-by%3A*%20AND%20labels.gridshift-job%20%3D%20%227f3c2a1e-5b6d-4c1a-9e0f-"
        "2a3b4c5d6e7f%22"}) {
    auto listed = json::parse(list("europe-west4", "filter=" + filter).body);
    ASSERT_EQ(listed["customJobs"].size(), 1u) << filter;
    EXPECT_EQ(listed["customJobs"][0]["name"], name);
  }
  EXPECT_EQ(list("europe-west4", "filter=labels.gridshift-job%3D%22other%22").body, "{}");
  EXPECT_EQ(list("us-central1", "").body, "{}");  // jobs live in their region
  EXPECT_EQ(list("europe-west4", "filter=labels.a%3Db%20OR%20labels.c%3Dd").status, 400);

  auto cancelled = call("POST", jobs_path("europe-west4") + "/" + id + ":cancel", "{}");
  EXPECT_EQ(cancelled.status, 200);
  EXPECT_EQ(cancelled.body, "{}");
  got = call_json("GET", jobs_path("europe-west4") + "/" + id);
  EXPECT_EQ(got["state"], "JOB_STATE_CANCELLED");
  EXPECT_EQ(got["error"]["code"], 1);
  EXPECT_TRUE(got.contains("endTime"));
  auto again = call("POST", jobs_path("europe-west4") + "/" + id + ":cancel", "{}");
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(json::parse(again.body)["error"]["status"], "FAILED_PRECONDITION");
  EXPECT_EQ(call("GET", jobs_path("europe-west4") + "/999").status, 404);
  ASSERT_EQ(google_.jobs().size(), 1u);
  EXPECT_EQ(google_.jobs()[0].state, "JOB_STATE_CANCELLED");
}

TEST_F(FakeGoogleTest, CancellingLastsAsScriptedAndMayLoseTheRace) {
  auto script = JobScript::run_forever(milliseconds(0));
  script.cancelling_for = kForever;
  google_.set_job_script(script, "europe-west4");
  script.cancelling_for = milliseconds(0);
  script.cancel_loses_race = true;
  google_.set_job_script(script, "us-central1");
  const std::string a = json::parse(create(job_body()).body)["name"];
  const std::string b = json::parse(create(job_body(), "us-central1").body)["name"];
  const std::string a_path = jobs_path("europe-west4") + a.substr(a.rfind('/'));
  const std::string b_path = jobs_path("us-central1") + b.substr(b.rfind('/'));
  EXPECT_EQ(call("POST", a_path + ":cancel", "{}").status, 200);
  EXPECT_EQ(call_json("GET", a_path)["state"], "JOB_STATE_CANCELLING");
  EXPECT_EQ(call("POST", a_path + ":cancel", "{}").status, 200);  // still cancelling: fine
  EXPECT_EQ(call("POST", b_path + ":cancel", "{}").status, 200);
  const json lost = call_json("GET", b_path);
  EXPECT_EQ(lost["state"], "JOB_STATE_SUCCEEDED");
  EXPECT_FALSE(lost.contains("error"));
}

struct BadCreate {
  std::string name;
  std::function<void(json&)> edit;
  std::string field;  // the violation's field
};

TEST_F(FakeGoogleTest, CreateValidationNamesTheField) {
  google_.set_region("europe-north1", RegionCapacity{{{"NVIDIA_TESLA_T4", 4}}});
  const std::string pool = "custom_job.job_spec.worker_pool_specs[0]";
  const std::vector<BadCreate> cases = {
      {"no display name", [](json& j) { j.erase("displayName"); }, "custom_job.display_name"},
      {"no pools", [](json& j) { j["jobSpec"]["workerPoolSpecs"] = json::array(); },
       "custom_job.job_spec.worker_pool_specs"},
      {"no machine type",
       [](json& j) { j["jobSpec"]["workerPoolSpecs"][0]["machineSpec"].erase("machineType"); },
       pool + ".machine_spec.machine_type"},
      {"both specs",
       [](json& j) {
         j["jobSpec"]["workerPoolSpecs"][0]["pythonPackageSpec"] = {
             {"executorImageUri", "x"}, {"packageUris", {"gs://b/p.tgz"}}, {"pythonModule", "m"}};
       },
       pool + ".task"},
      {"neither spec", [](json& j) { j["jobSpec"]["workerPoolSpecs"][0].erase("containerSpec"); },
       pool + ".task"},
      {"unknown accelerator",
       [](json& j) {
         j["jobSpec"]["workerPoolSpecs"][0]["machineSpec"]["acceleratorType"] = "NVIDIA_X9000";
       },
       pool + ".machine_spec.accelerator_type"},
      {"no accelerator count",
       [](json& j) { j["jobSpec"]["workerPoolSpecs"][0]["machineSpec"].erase("acceleratorCount"); },
       pool + ".machine_spec.accelerator_count"},
      {"label key upper case", [](json& j) { j["labels"]["Managed"] = "x"; }, "custom_job.labels"},
      {"label value too long", [](json& j) { j["labels"]["k"] = std::string(65, 'a'); },
       "custom_job.labels"},
      {"label value bad char", [](json& j) { j["labels"]["k"] = "a.b"; }, "custom_job.labels"},
      {"duration without s", [](json& j) { j["jobSpec"]["scheduling"]["timeout"] = "24h"; },
       "custom_job.job_spec.scheduling.timeout"},
      {"numeric duration", [](json& j) { j["jobSpec"]["scheduling"]["maxWaitDuration"] = 60; },
       "custom_job.job_spec.scheduling.max_wait_duration"},
      {"serviceAccount at the top",
       [](json& j) { j["serviceAccount"] = j["jobSpec"]["serviceAccount"]; }, "custom_job"},
      {"replica count zero",
       [](json& j) { j["jobSpec"]["workerPoolSpecs"][0]["replicaCount"] = "0"; },
       pool + ".replica_count"},
  };
  for (const auto& c : cases) {
    json body = job_body();
    c.edit(body);
    auto r = create(body);
    ASSERT_EQ(r.status, 400) << c.name << ": " << r.body;
    const json error = json::parse(r.body)["error"];
    EXPECT_EQ(error["code"], 400) << c.name;
    EXPECT_EQ(error["status"], "INVALID_ARGUMENT") << c.name;
    ASSERT_EQ(error["details"][0]["@type"], "type.googleapis.com/google.rpc.BadRequest");
    EXPECT_EQ(error["details"][0]["fieldViolations"][0]["field"], c.field) << c.name;
  }
  // The region's table: NVIDIA_L4 is a real type, but europe-north1 does not offer it.
  auto r = create(job_body(), "europe-north1");
  ASSERT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["message"],
            "Accelerator type NVIDIA_L4 is not supported in location europe-north1.");
  // snake_case field names are proto3 JSON too.
  json snake = job_body();
  snake["display_name"] = snake["displayName"];
  snake.erase("displayName");
  EXPECT_EQ(create(snake).status, 200);
  EXPECT_TRUE(google_.jobs_with_label("gridshift-job", kUuid).size() == 1u);
  EXPECT_EQ(google_.jobs()[0].display_name, "gridshiftd-7f3c2a1e-resnet50");
}

TEST_F(FakeGoogleTest, WrongRegionProjectOrCredentialsAreRefused) {
  auto r =
      call("POST", jobs_path("europe-west4", "gridshift-test", "us-central1"), job_body().dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["status"], "INVALID_ARGUMENT");
  EXPECT_EQ(call("GET", jobs_path("europe-west4", "someone-else")).status, 403);

  r = call("GET", jobs_path("europe-west4"), "", Headers{});
  ASSERT_EQ(r.status, 401);
  json error = json::parse(r.body)["error"];
  EXPECT_EQ(error["status"], "UNAUTHENTICATED");
  EXPECT_EQ(error["details"][0]["reason"], "CREDENTIALS_MISSING");
  EXPECT_EQ(
      call("GET", jobs_path("europe-west4"), "", Headers{{"Authorization", "Bearer nope"}}).status,
      401);

  google_.set_token_lifetime(std::chrono::seconds(0));
  const std::string expired = google_.issue_token();
  r = call("GET", jobs_path("europe-west4"), "", Headers{{"Authorization", "Bearer " + expired}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(json::parse(r.body)["error"]["details"][0]["reason"], "ACCESS_TOKEN_EXPIRED");

  EXPECT_EQ(call("GET", jobs_path("europe-west4")).status, 200);
  google_.revoke_all_tokens();
  EXPECT_EQ(call("GET", jobs_path("europe-west4")).status, 401);
  EXPECT_EQ(google_.tokens_issued(TokenGrant::direct), 2);
}

TEST_F(FakeGoogleTest, QuotaIsHeldByUnfinishedJobs) {
  google_.set_job_script(JobScript::run_forever(milliseconds(0)));
  google_.set_region("europe-west4", RegionCapacity{{{"NVIDIA_L4", 1}}});
  json two = job_body();
  two["jobSpec"]["workerPoolSpecs"][0]["machineSpec"]["acceleratorCount"] = 2;
  auto r = create(two);
  ASSERT_EQ(r.status, 429);
  const json error = json::parse(r.body)["error"];
  EXPECT_EQ(error["status"], "RESOURCE_EXHAUSTED");
  EXPECT_EQ(error["message"],
            "The following quota metrics exceed quota limits: "
            "aiplatform.googleapis.com/custom_model_training_nvidia_l4_gpus");
  ASSERT_EQ(create(job_body()).status, 200);
  EXPECT_EQ(create(job_body()).status, 429);  // the first job holds the only L4
  ASSERT_TRUE(google_.force_job_state(google_.jobs()[0].id, "JOB_STATE_SUCCEEDED"));
  EXPECT_EQ(create(job_body()).status, 200);
  EXPECT_EQ(google_.jobs().size(), 2u);
}

TEST_F(FakeGoogleTest, ScriptedLifecycles) {
  google_.set_job_script(JobScript::succeed(milliseconds(0), milliseconds(0), milliseconds(0)),
                         "us-west1");
  google_.set_job_script(JobScript::stockout(milliseconds(0)), "us-central1");
  google_.set_job_script(JobScript::quota_failure(milliseconds(0)), "us-east1");
  google_.set_job_script(JobScript::partially_succeed(milliseconds(0), milliseconds(0)),
                         "us-east4");
  google_.set_job_script(JobScript::unknown_state(milliseconds(0)), "asia-east1");
  google_.set_job_script(JobScript::run_forever(kForever));  // every other region

  json done = json::parse(create(job_body(), "us-west1").body);
  EXPECT_EQ(done["state"], "JOB_STATE_SUCCEEDED");
  EXPECT_LE(done["startTime"].get<std::string>(), done["endTime"].get<std::string>());
  EXPECT_EQ(done["updateTime"], done["endTime"]);

  json stock = json::parse(create(job_body(), "us-central1").body);
  EXPECT_EQ(stock["state"], "JOB_STATE_FAILED");
  EXPECT_EQ(stock["error"]["code"], 8);
  EXPECT_EQ(stock["error"]["message"], "Resources are insufficient in region: us-central1.");
  EXPECT_FALSE(stock.contains("startTime"));

  json quota = json::parse(create(job_body(), "us-east1").body);
  EXPECT_EQ(quota["error"]["message"],
            "The following quota metrics exceed quota limits: "
            "aiplatform.googleapis.com/custom_model_training_nvidia_l4_gpus");
  EXPECT_EQ(json::parse(create(job_body(), "us-east4").body)["state"],
            "JOB_STATE_PARTIALLY_SUCCEEDED");
  EXPECT_EQ(json::parse(create(job_body(), "asia-east1").body)["state"], "JOB_STATE_SOMETHING_NEW");

  json pending = json::parse(create(job_body()).body);
  EXPECT_EQ(pending["state"], "JOB_STATE_PENDING");
  const std::string id =
      pending["name"].get<std::string>().substr(pending["name"].get<std::string>().rfind('/') + 1);
  ASSERT_TRUE(google_.force_job_state(id, "JOB_STATE_FAILED", 13, "boom in {region}"));
  json forced = call_json("GET", jobs_path("europe-west4") + "/" + id);
  EXPECT_EQ(forced["state"], "JOB_STATE_FAILED");
  EXPECT_EQ(forced["error"]["message"], "boom in europe-west4");
  EXPECT_FALSE(google_.force_job_state("404", "JOB_STATE_FAILED"));
}

TEST_F(FakeGoogleTest, ListPagesAndLags) {
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(create(job_body()).status, 200);
  json first = json::parse(list("europe-west4", "pageSize=2&filter=labels.managed-by%3A*").body);
  ASSERT_EQ(first["customJobs"].size(), 2u);
  ASSERT_TRUE(first.contains("nextPageToken"));
  json second = json::parse(
      list("europe-west4", "pageSize=2&pageToken=" + first["nextPageToken"].get<std::string>())
          .body);
  ASSERT_EQ(second["customJobs"].size(), 1u);
  EXPECT_FALSE(second.contains("nextPageToken"));
  EXPECT_NE(second["customJobs"][0]["name"], first["customJobs"][0]["name"]);
  EXPECT_EQ(list("europe-west4", "pageToken=garbage").status, 400);

  google_.set_list_lag(std::chrono::hours(1));
  const std::string fresh = json::parse(create(job_body("fresh")).body)["name"];
  EXPECT_EQ(list("europe-west4", "filter=labels.gridshift-job%3Dfresh").body, "{}");
  EXPECT_EQ(call("GET", jobs_path("europe-west4") + fresh.substr(fresh.rfind('/'))).status, 200);
}

TEST_F(FakeGoogleTest, CommitThenFailLeavesOneJob) {
  auto fault = GoogleFault::of(GoogleFault::Kind::commit_then_fail, "POST", "*/customJobs");
  google_.inject(fault);
  auto r = create(job_body());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(json::parse(r.body)["error"]["status"], "UNAVAILABLE");
  auto found = json::parse(
      list("europe-west4", "filter=labels.gridshift-job%3D%22" + std::string(kUuid) + "%22").body);
  EXPECT_EQ(found["customJobs"].size(), 1u);

  fault.status = 0;  // this time the connection closes without an answer
  google_.inject(fault);
  auto lost = try_call("POST", jobs_path("europe-west4"), job_body("second").dump());
  EXPECT_FALSE(lost);
  EXPECT_EQ(google_.jobs_with_label("gridshift-job", "second").size(), 1u);
  EXPECT_EQ(google_.jobs().size(), 2u);
}

TEST_F(FakeGoogleTest, DuplicateOnCreateMakesTwoJobs) {
  google_.inject(GoogleFault::of(GoogleFault::Kind::duplicate_on_create, "POST", "*/customJobs"));
  auto r = create(job_body());
  ASSERT_EQ(r.status, 200);
  const auto twins = google_.jobs_with_label("gridshift-job", kUuid);
  ASSERT_EQ(twins.size(), 2u);
  EXPECT_NE(twins[0].id, twins[1].id);
  EXPECT_EQ(json::parse(r.body)["name"], twins[0].name);
  EXPECT_EQ(create(job_body()).status, 200);  // times = 1: consumed
  EXPECT_EQ(google_.jobs().size(), 3u);
}

TEST_F(FakeGoogleTest, TransportAndStatusFaults) {
  google_.inject(GoogleFault::rate_limit("GET", "*/customJobs", 7));
  auto r = list("europe-west4", "");
  ASSERT_EQ(r.status, 429);
  EXPECT_EQ(r.header("retry-after"), "7");
  json error = json::parse(r.body)["error"];
  EXPECT_EQ(error["details"][0]["retryDelay"], "7s");
  EXPECT_EQ(error["message"].get<std::string>().find("custom_model_training"), std::string::npos);
  EXPECT_EQ(list("europe-west4", "").status, 200);  // consumed

  google_.inject(GoogleFault::quota("POST", "*/customJobs", "NVIDIA_TESLA_A100"));
  EXPECT_EQ(json::parse(create(job_body()).body)["error"]["message"],
            "The following quota metrics exceed quota limits: "
            "aiplatform.googleapis.com/custom_model_training_nvidia_a100_gpus");
  EXPECT_TRUE(google_.jobs().empty());

  for (int status : {500, 503, 504, 401, 403}) {
    google_.inject(GoogleFault::error("GET", "*/customJobs", status));
    r = list("europe-west4", "");
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(json::parse(r.body)["error"]["code"], status);
  }

  google_.inject(GoogleFault::of(GoogleFault::Kind::bad_json, "GET", "*/customJobs"));
  r = list("europe-west4", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(json::parse(r.body, nullptr, false).is_discarded());

  google_.inject(GoogleFault::of(GoogleFault::Kind::truncated_body, "GET", "*/customJobs"));
  auto truncated = try_call("GET", jobs_path("europe-west4"));
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code, "http_protocol");

  google_.inject(GoogleFault::of(GoogleFault::Kind::reset, "GET", "*/customJobs"));
  EXPECT_FALSE(try_call("GET", jobs_path("europe-west4")));

  google_.inject(GoogleFault::of(GoogleFault::Kind::hang, "GET", "*/customJobs"));
  auto hung = try_call("GET", jobs_path("europe-west4"), "", {}, milliseconds(200));
  ASSERT_FALSE(hung);
  EXPECT_EQ(hung.error().code, "http_timeout");

  // Each API family answers an injected status in its own error shape.
  google_.inject(GoogleFault::error("GET", "/storage/v1/b/*", 503));
  r = call("GET", "/storage/v1/b/any");
  EXPECT_EQ(r.status, 503);
  error = json::parse(r.body)["error"];
  EXPECT_EQ(error["errors"][0]["reason"], "backendError");
  EXPECT_FALSE(error.contains("status"));
  google_.inject(GoogleFault::error("POST", "/token", 500));
  EXPECT_EQ(json::parse(token_grant("grant_type=refresh_token").body)["error"], "internal_failure");

  auto slow = GoogleFault::of(GoogleFault::Kind::delay, "", "*/customJobs", 2);
  slow.delay = milliseconds(1);
  google_.inject(slow);
  EXPECT_EQ(list("europe-west4", "").status, 200);  // delayed, then answered normally
  google_.clear_faults();
  EXPECT_EQ(list("europe-west4", "").status, 200);
}

TEST_F(FakeGoogleTest, TokenEndpointVerifiesTheJwt) {
  const json key = json::parse(google_.service_account_key_json());
  EXPECT_EQ(key["type"], "service_account");
  EXPECT_EQ(key["project_id"], "gridshift-test");
  EXPECT_EQ(key["client_email"], "gridshiftd@gridshift-test.iam.gserviceaccount.com");
  EXPECT_EQ(key["token_uri"], google_.base_url() + "/token");
  EXPECT_EQ(key["private_key"].get<std::string>().rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u);
  EXPECT_NE(google_.service_account_key_json().find("\\n"), std::string::npos);  // escaped
  EXPECT_FALSE(key["private_key_id"].get<std::string>().empty());

  const std::string pem = key["private_key"];
  const auto now = unix_now();
  const std::string jwt = sign_jwt(pem, claims(now, now + 3600));
  auto grant = [&](const std::string& assertion) {
    return token_grant(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + assertion);
  };
  auto ok = grant(jwt);
  ASSERT_EQ(ok.status, 200) << ok.body;
  const json token = json::parse(ok.body);
  EXPECT_EQ(token["token_type"], "Bearer");
  EXPECT_EQ(token["expires_in"], 3600);
  EXPECT_EQ(google_.tokens_issued(TokenGrant::jwt_bearer), 1);
  EXPECT_EQ(call("GET", jobs_path("europe-west4"), "",
                 Headers{{"Authorization", "Bearer " + token["access_token"].get<std::string>()}})
                .status,
            200);

  // Tampered: the claims changed after signing.
  const auto dot1 = jwt.find('.'), dot2 = jwt.rfind('.');
  json changed = claims(now, now + 3600);
  changed["iss"] = "evil@example.com";
  const std::string tampered =
      jwt.substr(0, dot1 + 1) + base64url_encode(changed.dump()) + jwt.substr(dot2);
  auto refused = grant(tampered);
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(json::parse(refused.body)["error"], "invalid_grant");

  json wrong_aud = claims(now, now + 3600);
  wrong_aud["aud"] = "https://oauth2.googleapis.com/token";
  EXPECT_EQ(json::parse(grant(sign_jwt(pem, wrong_aud)).body)["error"], "invalid_grant");
  EXPECT_EQ(grant(sign_jwt(pem, claims(now, now + 7200))).status, 400);        // too long
  EXPECT_EQ(grant(sign_jwt(pem, claims(now + 600, now + 1200))).status, 400);  // future iat
  json no_scope = claims(now, now + 3600);
  no_scope["scope"] = "https://www.googleapis.com/auth/devstorage.read_only";
  EXPECT_EQ(json::parse(grant(sign_jwt(pem, no_scope)).body)["error"], "invalid_scope");
  EXPECT_EQ(grant("not.a.jwt").status, 400);
  EXPECT_EQ(google_.tokens_issued(TokenGrant::jwt_bearer), 1);

  // A key file naming another token_uri makes that audience acceptable.
  const json other = json::parse(google_.service_account_key_json("https://example.test/token"));
  json other_aud = claims(now, now + 3600);
  other_aud["aud"] = other["token_uri"];
  EXPECT_EQ(grant(sign_jwt(pem, other_aud)).status, 200);
}

TEST_F(FakeGoogleTest, RefreshTokenGrantChecksTheClient) {
  const json user = json::parse(google_.authorized_user_json());
  EXPECT_EQ(user["type"], "authorized_user");
  EXPECT_EQ(user["quota_project_id"], "gridshift-test");
  auto form = [&](const std::string& secret, const std::string& refresh) {
    return "grant_type=refresh_token&client_id=" +
           percent_encode(user["client_id"].get<std::string>()) +
           "&client_secret=" + percent_encode(secret) + "&refresh_token=" + percent_encode(refresh);
  };
  const std::string secret = user["client_secret"], refresh = user["refresh_token"];
  auto ok = token_grant(form(secret, refresh));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_FALSE(json::parse(ok.body)["access_token"].get<std::string>().empty());
  auto bad_client = token_grant(form("wrong", refresh));
  EXPECT_EQ(bad_client.status, 401);
  EXPECT_EQ(json::parse(bad_client.body)["error"], "invalid_client");
  auto bad_refresh = token_grant(form(secret, "1//wrong"));
  EXPECT_EQ(bad_refresh.status, 400);
  EXPECT_EQ(json::parse(bad_refresh.body)["error"], "invalid_grant");
  EXPECT_EQ(json::parse(token_grant("grant_type=password").body)["error"],
            "unsupported_grant_type");
  EXPECT_EQ(google_.tokens_issued(TokenGrant::refresh_token), 1);
}

TEST_F(FakeGoogleTest, SelfSignedJwtOnlyWhenSwitchedOn) {
  const auto now = unix_now();
  json self = {{"iss", google_.options().client_email},
               {"sub", google_.options().client_email},
               {"scope", kScope},
               {"iat", now},
               {"exp", now + 3600}};
  const Headers auth = {{"Authorization", "Bearer " + sign_jwt(google_.private_key_pem(), self)}};
  EXPECT_EQ(call("GET", jobs_path("europe-west4"), "", auth).status, 401);
  google_.set_accept_self_signed_jwt(true);
  EXPECT_EQ(call("GET", jobs_path("europe-west4"), "", auth).status, 200);
}

TEST_F(FakeGoogleTest, MetadataServerWantsTheFlavorHeader) {
  const std::string token_path = "/computeMetadata/v1/instance/service-accounts/default/token";
  const Headers flavor = {{"Metadata-Flavor", "Google"}};
  auto refused = call("GET", token_path, "", Headers{});
  EXPECT_EQ(refused.status, 403);
  auto ok = call("GET", token_path, "", flavor);
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(ok.header("metadata-flavor"), "Google");
  const json token = json::parse(ok.body);
  EXPECT_EQ(token["token_type"], "Bearer");
  EXPECT_EQ(call("GET", jobs_path("europe-west4"), "",
                 Headers{{"Authorization", "Bearer " + token["access_token"].get<std::string>()}})
                .status,
            200);
  EXPECT_EQ(call("GET", "/computeMetadata/v1/project/project-id", "", flavor).body,
            "gridshift-test");
  EXPECT_EQ(call("GET", "/computeMetadata/v1/project/numeric-project-id", "", flavor).body,
            "123456789012");
  EXPECT_EQ(json::parse(call("GET",
                             "/computeMetadata/v1/instance/service-accounts/default/"
                             "?recursive=true",
                             "", flavor)
                            .body)["email"],
            google_.options().client_email);
  EXPECT_EQ(google_.tokens_issued(TokenGrant::metadata), 1);
  google_.set_on_gce(false);
  EXPECT_FALSE(try_call("GET", token_path, "", flavor));
}

TEST_F(FakeGoogleTest, CloudStorageBucketsAndObjects) {
  const std::string create_path = "/storage/v1/b?project=gridshift-test";
  const std::string bucket_body = R"({"name": "gridshiftd-test-eu", "location": "europe-west4"})";
  auto r = call("POST", create_path, bucket_body, Headers{});
  ASSERT_EQ(r.status, 401);
  json error = json::parse(r.body)["error"];
  EXPECT_EQ(error["errors"][0]["reason"], "required");
  EXPECT_EQ(error["errors"][0]["location"], "Authorization");
  EXPECT_FALSE(error.contains("status"));  // the GCS shape, not google.rpc

  r = call("POST", create_path, bucket_body);
  ASSERT_EQ(r.status, 200) << r.body;
  json bucket = json::parse(r.body);
  EXPECT_EQ(bucket["kind"], "storage#bucket");
  EXPECT_EQ(bucket["location"], "EUROPE-WEST4");
  EXPECT_EQ(bucket["projectNumber"], "123456789012");
  r = call("POST", create_path, bucket_body);
  EXPECT_EQ(r.status, 409);
  error = json::parse(r.body)["error"];
  EXPECT_EQ(error["errors"][0]["reason"], "conflict");
  EXPECT_NE(error["message"].get<std::string>().find("you already own it"), std::string::npos);

  google_.add_foreign_bucket("taken-name");
  r = call("POST", create_path, R"({"name": "taken-name"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("not available"), std::string::npos);
  EXPECT_EQ(call("GET", "/storage/v1/b/taken-name").status, 403);
  EXPECT_EQ(call("GET", "/storage/v1/b/gridshiftd-test-eu").status, 200);
  EXPECT_EQ(call("GET", "/storage/v1/b/absent").status, 404);
  EXPECT_EQ(call("POST", create_path, R"({"name": "Bad_Name"})").status, 400);

  const std::string upload = "/upload/storage/v1/b/gridshiftd-test-eu/o?uploadType=media&name=" +
                             percent_encode("jobs/a/manifest.json") + "&ifGenerationMatch=0";
  r = call("POST", upload, "hello");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["size"], "5");
  EXPECT_EQ(json::parse(r.body)["name"], "jobs/a/manifest.json");
  r = call("POST", upload, "again");
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(json::parse(r.body)["error"]["errors"][0]["reason"], "conditionNotMet");
  EXPECT_EQ(call("POST", "/upload/storage/v1/b/gridshiftd-test-eu/o?name=x", "x").status, 400);
  ASSERT_EQ(google_.bucket("gridshiftd-test-eu")->objects.size(), 1u);
  EXPECT_EQ(google_.bucket("gridshiftd-test-eu")->objects[0].data, "hello");

  google_.add_object("gridshiftd-test-eu", "jobs/b", "x");
  json page = call_json("GET", "/storage/v1/b/gridshiftd-test-eu/o?maxResults=1");
  ASSERT_EQ(page["items"].size(), 1u);
  ASSERT_TRUE(page.contains("nextPageToken"));
  page = call_json("GET", "/storage/v1/b/gridshiftd-test-eu/o?maxResults=1&pageToken=" +
                              percent_encode(page["nextPageToken"].get<std::string>()));
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["name"], "jobs/b");
  EXPECT_FALSE(page.contains("nextPageToken"));

  EXPECT_EQ(call("DELETE", "/storage/v1/b/gridshiftd-test-eu").status, 409);
  EXPECT_EQ(call("DELETE", "/storage/v1/b/gridshiftd-test-eu/o/jobs/b").status, 404);  // unencoded
  EXPECT_EQ(call("DELETE", "/storage/v1/b/gridshiftd-test-eu/o/jobs%2Fb").status, 204);
  EXPECT_EQ(call("DELETE", "/storage/v1/b/gridshiftd-test-eu/o/jobs%2Fb").status, 404);
  EXPECT_EQ(call("DELETE", "/storage/v1/b/gridshiftd-test-eu/o/jobs%2Fa%2Fmanifest.json").status,
            204);
  json empty = call_json("GET", "/storage/v1/b/gridshiftd-test-eu/o");
  EXPECT_EQ(empty["kind"], "storage#objects");
  EXPECT_FALSE(empty.contains("items"));
  EXPECT_EQ(call("DELETE", "/storage/v1/b/gridshiftd-test-eu").status, 204);
  EXPECT_EQ(call("GET", "/storage/v1/b/gridshiftd-test-eu").status, 404);
  EXPECT_TRUE(google_.buckets().empty());
}

TEST_F(FakeGoogleTest, RecordsEveryRequestWithAuthorizationRedacted) {
  ASSERT_EQ(create(job_body()).status, 200);
  list("europe-west4", "filter=labels.managed-by%3A*");
  call("GET", "/computeMetadata/v1/project/project-id", "", Headers{{"Metadata-Flavor", "Google"}});
  const auto all = google_.requests();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].method, "POST");
  EXPECT_EQ(all[0].header("authorization"), "Bearer <present>");
  EXPECT_EQ(all[0].body_json()["labels"]["gridshift-job"], kUuid);
  EXPECT_EQ(all[1].params().at("filter"), "labels.managed-by:*");
  EXPECT_FALSE(all[2].header("authorization"));
  EXPECT_EQ(google_.count("POST", "*/customJobs"), 1);
  EXPECT_EQ(google_.count("", "/r/europe-west4/*"), 2);
  EXPECT_EQ(google_.requests("GET", "/computeMetadata/*").size(), 1u);
  google_.clear_requests();
  EXPECT_TRUE(google_.requests().empty());
}

TEST(FakeHttpServerTest, GlobAndQueryHelpers) {
  EXPECT_TRUE(glob_match("*/customJobs", "/r/x/v1/projects/p/locations/x/customJobs"));
  EXPECT_FALSE(glob_match("*/customJobs", "/r/x/v1/projects/p/locations/x/customJobs/1"));
  EXPECT_TRUE(glob_match("*/customJobs/*", "/a/customJobs/1:cancel"));
  EXPECT_TRUE(glob_match("/token", "/token"));
  EXPECT_FALSE(glob_match("/token", "/tokens"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_EQ(parse_query("a=1&b=x%20y+z&c").at("b"), "x y z");
  EXPECT_EQ(split_path("/b/o/jobs%2Fa+b"), (std::vector<std::string>{"b", "o", "jobs/a+b"}));
}

TEST(FakeHttpServerTest, HangFaultHoldsTheRequestUntilTheServerStops) {
  FakeFeedServer feeds;
  FakeFault hang;
  hang.hang = true;
  hang.times = 1;
  feeds.inject("/intensity", hang);
  boost::asio::io_context io;
  HttpClient http(io.get_executor(), HttpClientOptions{});
  HttpRequest request;
  request.url = feeds.base_url() + "/intensity";
  request.timeout = milliseconds(200);
  auto r = run_on(io, http.request(request));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "http_timeout");
  EXPECT_EQ(feeds.requests("/intensity"), 1);
}

}  // namespace
}  // namespace gridshift::testing
