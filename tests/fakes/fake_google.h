// Test fake: Google's Vertex AI CustomJob API (v1), Cloud Storage JSON API, the OAuth2 token
// endpoint and the GCE metadata server, on one plain-HTTP port of 127.0.0.1, with the wire
// formats of the public Vertex AI, Cloud Storage and OAuth2 references, scripted job lifecycles on
// the wall clock (std::chrono::steady_clock), fault injection and a record of every request. Runs
// its own io_context on a background thread; every public method is thread-safe (one mutex), so
// tests call it while gridshiftd (another process) or in-process adapters talk to it.
//
// Routes (all relative to base_url()):
//   Vertex   /r/{region}/v1/projects/{project}/locations/{location}/customJobs[/{id}[:cancel]]
//            /r/{region}/v1/projects/{project}/locations/{location}/operations/{id}
//            (the daemon's endpoint is vertex_endpoint(region) = base_url() + "/r/{region}")
//   Storage  /storage/v1/b[/{bucket}[/o[/{object}]]], /upload/storage/v1/b/{bucket}/o
//   BigQuery POST /bigquery/v2/projects/{project}/queries (jobs.query),
//            GET /bigquery/v2/projects/{project}/queries/{jobId} (jobs.getQueryResults),
//            answering the Carbon Footprint export tables set with set_footprint_table()
//   OAuth2   POST /token (jwt-bearer and refresh_token grants)
//   Metadata /computeMetadata/v1/instance/service-accounts/default/token,
//            /computeMetadata/v1/instance/service-accounts/default/?recursive=true,
//            /computeMetadata/v1/project/project-id, /computeMetadata/v1/project/numeric-project-id
// Vertex, Storage and BigQuery calls need a valid "Authorization: Bearer <token>" (from /token, the
// metadata server or issue_token()); token and metadata calls need none.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fakes/fake_http_server.h"

namespace gridshift::testing {

// A duration meaning "until forced, cancelled or the fake stops".
inline constexpr std::chrono::milliseconds kForever = std::chrono::milliseconds::max();

struct FakeGoogleOptions {
  std::string project_id = "gridshift-test";
  std::string project_number = "123456789012";
  std::string client_email = "gridshiftd@gridshift-test.iam.gserviceaccount.com";
  std::chrono::seconds token_lifetime{3600};  // expires_in of issued tokens
};

// One step of a job's scripted life. `state` is any string ("JOB_STATE_RUNNING", or a future
// value the API might add). `error_code`/`error_message` fill the job's `error` (a google.rpc
// Status with the numeric code) while in this state; "{region}" and "{metric}" in the message
// become the job's region and its accelerator's quota_metric() (see the end of this file).
struct JobPhase {
  JobPhase() = default;
  JobPhase(std::string state_in, std::chrono::milliseconds duration_in = kForever,
           std::optional<int> error_code_in = std::nullopt, std::string error_message_in = "")
      : state(std::move(state_in)),
        duration(duration_in),
        error_code(error_code_in),
        error_message(std::move(error_message_in)) {}

  std::string state;
  std::chrono::milliseconds duration = kForever;
  std::optional<int> error_code;
  std::string error_message;
};

// The life of a job from its creation: phases in order, the last one lasting for ever unless
// its duration says otherwise (then the job stays in it anyway). Cancel interrupts a
// non-terminal job: CANCELLING for `cancelling_for`, then CANCELLED with error {code: 1}, or
// SUCCEEDED when `cancel_loses_race`. Timestamps as Vertex AI sets them: createTime at creation,
// startTime at the first entry into RUNNING, endTime at the entry into SUCCEEDED, FAILED,
// CANCELLED, EXPIRED or PARTIALLY_SUCCEEDED, updateTime at every change.
struct JobScript {
  std::vector<JobPhase> phases;
  std::chrono::milliseconds cancelling_for{0};
  bool cancel_loses_race = false;

  // QUEUED for `queued`, PENDING for `pending`, RUNNING for `run`, then SUCCEEDED. The default
  // script of the fake is succeed(0ms, 50ms, 200ms).
  static JobScript succeed(std::chrono::milliseconds queued, std::chrono::milliseconds pending,
                           std::chrono::milliseconds run);
  // PENDING for `pending`, then FAILED {8, "Resources are insufficient in region: <r>"}.
  static JobScript stockout(std::chrono::milliseconds pending);
  // PENDING for `pending`, then FAILED {8, "The following quota metrics exceed quota limits:
  // aiplatform.googleapis.com/custom_model_training_<gpu>_gpus"} (quota failure after create).
  static JobScript quota_failure(std::chrono::milliseconds pending);
  // PENDING, RUNNING, then JOB_STATE_PARTIALLY_SUCCEEDED.
  static JobScript partially_succeed(std::chrono::milliseconds pending,
                                     std::chrono::milliseconds run);
  // PENDING for `pending`, then `state` (default "JOB_STATE_SOMETHING_NEW") for ever.
  static JobScript unknown_state(std::chrono::milliseconds pending,
                                 std::string state = "JOB_STATE_SOMETHING_NEW");
  // PENDING for `pending`, then RUNNING for ever (tests force or cancel it).
  static JobScript run_forever(std::chrono::milliseconds pending);
};

// What a region offers: accelerator type -> number of accelerators the project may use there
// at once (its quota). Creating a job whose acceleratorType is absent answers 400
// INVALID_ARGUMENT; one whose acceleratorCount * replicaCount, added to what the region's
// non-terminal jobs already hold, exceeds the quota answers 429 RESOURCE_EXHAUSTED. Regions
// never set offer every AcceleratorType without limit. CPU-only jobs always pass.
struct RegionCapacity {
  std::map<std::string, int> accelerators;
};

// One injected fault, for requests whose method equals `method` (empty = any) and whose path
// (without query, not decoded) matches `path`, a glob where '*' matches any run of characters
// ("*/customJobs", "/token", "/storage/v1/b*"). Faults are tried in the order injected; the
// first match is used and loses one of its `times` (< 0: until cleared).
struct GoogleFault {
  enum class Kind {
    status,               // answer `status` without executing the request
    delay,                // wait `delay`, then answer normally
    hang,                 // accept the request, never answer (until the fake stops)
    reset,                // close the connection without answering; request not executed
    bad_json,             // execute, then answer 200 with a body that is not JSON
    truncated_body,       // execute, then announce the full length, send half and close
    commit_then_fail,     // execute (the job IS created), then answer `status`, or close
                          // the connection without answering when `status` is 0
    duplicate_on_create,  // a create makes two identical jobs; the first one is answered
  };
  std::string method;
  std::string path;
  Kind kind = Kind::status;
  int status = 503;
  // Error body message; empty: a default for the status (a rate-limit text for 429).
  std::string message;
  std::optional<int> retry_after;      // Retry-After header (seconds) on an error answer
  std::chrono::milliseconds delay{0};  // waited before any answer of any kind
  int times = 1;

  // Convenience constructors.
  static GoogleFault error(std::string method, std::string path, int status, int times = 1);
  // 429 RESOURCE_EXHAUSTED with a request-rate message, RetryInfo and Retry-After.
  static GoogleFault rate_limit(std::string method, std::string path, int retry_after_s,
                                int times = 1);
  // 429 RESOURCE_EXHAUSTED "The following quota metrics exceed quota limits: aiplatform.
  // googleapis.com/custom_model_training_<gpu>_gpus" for accelerator type `accelerator`.
  static GoogleFault quota(std::string method, std::string path, const std::string& accelerator,
                           int times = 1);
  static GoogleFault of(Kind kind, std::string method, std::string path, int times = 1);
};

// Requests are recorded as FakeRequest (fake_http_server.h): method, target, raw path and
// query, params(), lower-case headers with "authorization" redacted to "Bearer <present>"
// (or "<present>" for another scheme), body, body_json(), arrival time.
using RecordedRequest = FakeRequest;

struct FakeJob {
  std::string name;  // projects/{number}/locations/{region}/customJobs/{id}
  std::string id;
  std::string region;
  std::string display_name;
  std::map<std::string, std::string> labels;
  std::string state;
  nlohmann::json resource;  // exactly what a GET would answer now
};

struct FakeObject {
  std::string name;
  std::string data;
  std::string content_type;
  std::int64_t generation = 0;
};

struct FakeBucket {
  std::string name;
  std::string location;  // upper case, as GCS answers
  std::string project_number;
  std::map<std::string, std::string> labels;
  std::vector<FakeObject> objects;  // by name
};

// A row of a Carbon Footprint export table in the fake BigQuery (the columns gridshift reads).
struct FakeFootprintRow {
  std::string usage_month;   // DATE, "2026-11-01"
  std::string region;        // location.region
  std::string service;       // service.description
  std::optional<double> kg;  // carbon_footprint_total_kgCO2e.location_based; nullopt = NULL
};

enum class TokenGrant { jwt_bearer, refresh_token, metadata, direct };

class FakeGoogle {
 public:
  explicit FakeGoogle(FakeGoogleOptions options = {});
  ~FakeGoogle();
  FakeGoogle(const FakeGoogle&) = delete;
  FakeGoogle& operator=(const FakeGoogle&) = delete;

  std::string base_url() const;  // "http://127.0.0.1:PORT"
  std::uint16_t port() const;
  std::string vertex_endpoint(const std::string& region) const;  // base_url() + "/r/" + region
  std::string token_uri() const;                                 // base_url() + "/token"
  std::string metadata_base() const;                             // base_url()
  std::string storage_base() const;                              // base_url()
  const FakeGoogleOptions& options() const;
  // The `dispatch:` section of a gridshiftd config that sends everything Google to this fake,
  // with the service-account key at `credentials` (the mapping's lines, each ending in '\n').
  std::string vertex_dispatch_yaml(const std::string& credentials) const;

  // --- credentials -------------------------------------------------------------------------
  // A service-account key file (type, project_id, private_key_id, private_key as PKCS#8 PEM,
  // client_email, client_id, auth_uri, token_uri) for the fake's RSA-2048 key. JWTs signed
  // with it are accepted at /token when their aud is `token_uri` (default: token_uri()).
  std::string service_account_key_json(const std::string& token_uri = "") const;
  // An ADC authorized_user file (client_id, client_secret, refresh_token, quota_project_id,
  // type) whose refresh token /token accepts.
  std::string authorized_user_json() const;
  std::string private_key_pem() const;  // PKCS#8 PEM of the key pair (for signing in tests)
  std::string public_key_pem() const;   // SubjectPublicKeyInfo PEM
  // A valid access token without a round trip (grant `direct`).
  std::string issue_token();
  void set_token_lifetime(std::chrono::seconds lifetime);
  void revoke_all_tokens();  // every current token answers 401 from now on
  int tokens_issued(TokenGrant grant) const;
  // Accept a self-signed service-account JWT (scope or aud form) as a Bearer token on
  // Vertex/Storage routes (off by default: only issued tokens pass).
  void set_accept_self_signed_jwt(bool accept);
  // Off: every metadata request is answered by closing the connection (not on GCE).
  void set_on_gce(bool on_gce);

  // --- Vertex AI ---------------------------------------------------------------------------
  void set_region(const std::string& region, RegionCapacity capacity);
  // The script of jobs created from now on: in `region`, or everywhere when region is empty
  // (a region's own script wins).
  void set_job_script(JobScript script, const std::string& region = "");
  // Puts a job (name or id) in `state` now; its script stops (it stays there until forced
  // again or cancelled). Returns false when no such job exists.
  bool force_job_state(const std::string& name_or_id, const std::string& state,
                       std::optional<int> error_code = std::nullopt,
                       const std::string& error_message = "");
  // New jobs stay invisible to LIST for `lag` after their creation (GET sees them).
  void set_list_lag(std::chrono::milliseconds lag);
  // Creates a job directly as if a client had POSTed `custom_job` (no validation, no quota).
  FakeJob add_job(const std::string& region, const nlohmann::json& custom_job);

  std::vector<FakeJob> jobs() const;  // in creation order
  std::vector<FakeJob> jobs_with_label(const std::string& key, const std::string& value) const;
  std::optional<FakeJob> job(const std::string& name_or_id) const;

  // --- Cloud Storage -----------------------------------------------------------------------
  // A bucket that another project owns: create answers 409 "not available", GET 403.
  void add_foreign_bucket(const std::string& name);
  // A bucket of the fake's project (as if created earlier).
  void add_bucket(const std::string& name, const std::string& location);
  void add_object(const std::string& bucket, const std::string& name, std::string data,
                  std::string content_type = "application/octet-stream");
  std::vector<FakeBucket> buckets() const;  // the fake project's buckets, by name
  std::optional<FakeBucket> bucket(const std::string& name) const;

  // --- BigQuery ----------------------------------------------------------------------------
  // A table "project.dataset.table" that queries may name (in backticks). A query answers the
  // rows whose service matches a `service.description = '...'` condition in it, if any.
  void set_footprint_table(const std::string& table, std::vector<FakeFootprintRow> rows);
  // Rows per page (pageToken paging through getQueryResults); 0 = everything at once.
  void set_bigquery_page_size(int rows);
  // The next `answers` answers about a query say jobComplete: false (it still runs).
  void set_bigquery_pending(int answers);
  std::vector<std::string> bigquery_queries() const;  // the SQL text of every jobs.query

  // --- faults and records ------------------------------------------------------------------
  void inject(GoogleFault fault);
  void clear_faults();

  std::vector<RecordedRequest> requests() const;  // every request so far, in order
  // Those whose method equals `method` (empty = any) and whose path matches the glob.
  std::vector<RecordedRequest> requests(const std::string& method,
                                        const std::string& path_glob) const;
  int count(const std::string& method, const std::string& path_glob) const;
  void clear_requests();
  int max_concurrent() const;  // most connections open at once

  struct State;  // implementation detail, public for the .cpp's free functions

 private:
  std::shared_ptr<State> state_;
  std::unique_ptr<FakeHttpServer> server_;  // declared last: stops before state_ goes
};

// The quota metric of an accelerator type: "aiplatform.googleapis.com/custom_model_training_
// nvidia_l4_gpus" for NVIDIA_L4, "..._nvidia_a100_gpus" for NVIDIA_TESLA_A100 (TESLA_ dropped),
// "..._tpu_v3" for TPU_V3 (TPUs have no _gpus suffix).
std::string quota_metric(const std::string& accelerator_type);

}  // namespace gridshift::testing
