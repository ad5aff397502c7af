// The Vertex AI CustomJob and Cloud Storage REST shapes (Vertex AI v1
// `projects.locations.customJobs` and the Cloud Storage JSON API): request bodies, response
// parsing, error classification, URLs and names. Pure: no I/O and no clock reads (callers pass
// `now`); plain values, safe on any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/encoding.h"  // percent_encode for paths and queries
#include "core/job.h"
#include "core/result.h"
#include "core/time.h"
#include "net/http_client.h"  // parse_retry_after

namespace gridshift {

inline constexpr std::string_view kManagedByLabel = "managed-by";
inline constexpr std::string_view kManagedByValue = "gridshiftd";
inline constexpr std::string_view kJobLabel = "gridshift-job";
inline constexpr std::string_view kSegmentLabel = "gridshift-segment";
inline constexpr std::string_view kJobIdEnv = "GRIDSHIFT_JOB_ID";
inline constexpr std::string_view kRegionEnv = "GRIDSHIFT_REGION";
inline constexpr std::size_t kMaxDisplayNameChars = 128;
inline constexpr std::size_t kMaxBucketNameChars = 63;
// Inside a job's staging bucket: the submitted spec, and the directory Vertex writes to.
inline constexpr std::string_view kStagingSpecObject = "gridshift/job-spec.json";
inline constexpr std::string_view kStagingOutputPrefix = "output/";
// Interruptible jobs checkpoint under this prefix and write its COMPLETE object when done.
inline constexpr std::string_view kStagingCheckpointPrefix = "checkpoints/";
inline constexpr std::string_view kCompleteObject = "checkpoints/COMPLETE";

// Error code of a response that is not the documented shape; the detail names the field.
inline constexpr std::string_view kVertexBadResponse = "vertex_bad_response";

// ---- Request bodies ----

// The CustomJob to create for `job` in `region` (projects.locations.customJobs.create).
// `output_uri` ("gs://b/output/") becomes jobSpec.baseOutputDirectory when non-empty. An
// interruptible job's segment (job.segments.back()) adds the gridshift-segment label and the
// trainer's env: GRIDSHIFT_CHECKPOINT_DIR (`checkpoint_uri`), GRIDSHIFT_SEGMENT and
// GRIDSHIFT_SEGMENT_END. Error
// "invalid_job" naming field `vertex` when the spec has no vertex section (or `vertex.container`
// when it has neither workload).
Result<nlohmann::json> custom_job_body(const Job& job, const std::string& region,
                                       const std::string& output_uri,
                                       const std::string& checkpoint_uri = "");

// The bucket to create for a job's staging (buckets.insert): regional, uniform access, no public
// access, labelled like the job.
nlohmann::json staging_bucket_body(const std::string& bucket, const std::string& region,
                                   const std::string& job_id);

// ---- Responses ----

// A JOB_STATE_* name as gridshift sees it: QUEUED/PENDING/RUNNING/UPDATING/CANCELLING/PAUSED ->
// running, SUCCEEDED -> succeeded, PARTIALLY_SUCCEEDED/FAILED/EXPIRED -> failed, CANCELLED ->
// cancelled; nullopt for an unknown (future) name, which callers treat as still running.
std::optional<JobState> known_vertex_state(std::string_view state);

struct VertexJob {
  std::string name;          // projects/{number}/locations/{region}/customJobs/{id}
  std::string display_name;  // empty when absent
  std::string state;         // the API's name, e.g. "JOB_STATE_RUNNING"; empty when absent
  JobState job_state = JobState::running;
  bool known_state = false;  // false: absent or a state this build does not know
  std::map<std::string, std::string> labels;
  std::optional<TimePoint> create_time;
  std::int64_t create_time_nanos = 0;  // createTime's fraction of a second, for ordering
  std::optional<TimePoint> start_time;
  std::optional<TimePoint> end_time;
  std::optional<std::int64_t> replica_count;  // of the first worker pool
  std::optional<int> error_code;              // numeric google.rpc.Code
  std::string error_message;
  // FAILED because of the region (quota code 8, capacity stock-out), not the job.
  bool region_unavailable = false;
};

// Every field optional, unknown fields ignored, int64 as string or number. Error
// kVertexBadResponse naming the field when a known field has the wrong type or form.
Result<VertexJob> parse_custom_job_resource(const nlohmann::json& resource);
Result<VertexJob> parse_custom_job(std::string_view body);

struct VertexJobPage {
  std::vector<VertexJob> jobs;
  std::string next_page_token;  // empty on the last page
};
// `{}` is an empty last page.
Result<VertexJobPage> parse_custom_job_list(std::string_view body);

// Oldest createTime first, to the nanosecond (jobs without one last), then by name: the order
// adopt() keeps.
void sort_oldest_first(std::vector<VertexJob>& jobs);

struct StorageObject {
  std::string name;
  std::string generation;  // int64 as decimal text; empty when absent
};
struct StorageObjectPage {
  std::vector<StorageObject> items;
  std::string next_page_token;
};
// A GCS objects list (objects.list); `items` is absent when the bucket is empty.
Result<StorageObjectPage> parse_object_list(std::string_view body);

// ---- Errors ----

enum class ApiCall { create, read, cancel };

enum class ApiErrorKind {
  retry,               // transient: back off (honour retry_after) and send again
  reconcile,           // create only: it may have taken effect; list by label before resending
  renew_token,         // 401: invalidate the token, renew once, send again once
  region_unavailable,  // quota or accelerator/machine not offered here: try another region
  fatal,               // the request is wrong or not allowed; message is the API's
  not_found,
  already_terminal,     // cancel only: 400 FAILED_PRECONDITION, the job has ended already
  conflict,             // GCS 409 (bucket exists, bucket not empty)
  precondition_failed,  // GCS 412 (ifGenerationMatch=0 and the object exists)
};
std::string_view to_string(ApiErrorKind kind);

struct ApiError {
  ApiErrorKind kind = ApiErrorKind::fatal;
  int http_status = 0;
  std::string status;   // google.rpc status name or GCS reason; empty when the body has none
  std::string message;  // the API's words, or "HTTP <status>" when the body has none
  std::optional<std::chrono::milliseconds> retry_after;  // Retry-After header or RetryInfo
};

// A non-2xx Vertex AI answer classified by its HTTP status and error status (see
// docs/configuration.md, "How Vertex AI dispatch works"). `retry_after_header` is the
// Retry-After header (seconds or an HTTP-date, which is judged against `now`).
ApiError classify_vertex_error(ApiCall call, int http_status, std::string_view body,
                               const std::optional<std::string>& retry_after_header, TimePoint now);

// A non-2xx Cloud Storage answer (the JSON error body, old and new shapes): 401 renew_token, 404
// not_found, 409 conflict, 412 precondition_failed, 408/429/5xx retry, anything else fatal.
ApiError classify_storage_error(int http_status, std::string_view body,
                                const std::optional<std::string>& retry_after_header,
                                TimePoint now);

// A protobuf Duration in JSON form: "3s", "1.5s", "0.250s". nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_proto_duration(std::string_view text);

// ---- Names and URLs ----

// labels.gridshift-job="<id>" (AIP-160; quoted because ids contain '-').
std::string job_label_filter(std::string_view job_id);

// `endpoint_template` with every "{region}" replaced, without a trailing '/'. The template may
// carry a path prefix (http://127.0.0.1:PORT/r/{region}).
std::string region_endpoint(std::string_view endpoint_template, std::string_view region);

// {endpoint}/v1/projects/{project}/locations/{region}/customJobs
std::string custom_jobs_url(std::string_view endpoint_template, std::string_view project,
                            std::string_view region);
// The list URL filtered by the job's label, one page (pageSize 100) from `page_token`.
std::string custom_jobs_list_url(std::string_view endpoint_template, std::string_view project,
                                 std::string_view region, std::string_view job_id,
                                 std::string_view page_token);

struct CustomJobName {
  std::string project;
  std::string location;
  std::string id;
};
// "projects/P/locations/L/customJobs/ID"; error kVertexBadResponse naming "name".
Result<CustomJobName> parse_custom_job_name(std::string_view name);

// {endpoint of the name's location}/v1/{name}; `suffix` is e.g. ":cancel".
Result<std::string> custom_job_url(std::string_view endpoint_template, std::string_view name,
                                   std::string_view suffix = {});

// "<prefix>-<job id>" lowercased, characters outside [a-z0-9-_.] replaced by '-', at most 63
// characters (the prefix is cut, never the id), starting and ending with a letter or digit.
// Error "invalid_config" naming "dispatch.vertex_ai.staging_bucket.prefix" when no valid GCS
// name results (e.g. it would contain "google").
Result<std::string> staging_bucket_name(std::string_view prefix, std::string_view job_id);
// "gs://<bucket>/output/"
std::string staging_output_uri(std::string_view bucket);
// "gs://{bucket}/checkpoints/": an interruptible job's GRIDSHIFT_CHECKPOINT_DIR.
std::string staging_checkpoint_uri(std::string_view bucket);

// Cloud Storage JSON API URLs under `storage_endpoint` (https://storage.googleapis.com).
std::string bucket_create_url(std::string_view storage_endpoint, std::string_view project);
std::string bucket_url(std::string_view storage_endpoint, std::string_view bucket);
// A create-only media upload (ifGenerationMatch=0).
std::string object_upload_url(std::string_view storage_endpoint, std::string_view bucket,
                              std::string_view object);
// Every version of every object, one page from `page_token`.
std::string object_list_url(std::string_view storage_endpoint, std::string_view bucket,
                            std::string_view page_token);
// One object (one generation when `generation` is non-empty).
std::string object_url(std::string_view storage_endpoint, std::string_view bucket,
                       std::string_view object, std::string_view generation);

}  // namespace gridshift
