// The job queue behind the socket API (docs/api.md): submit, list, show and cancel over a
// JobStore, plus the health, report and metrics documents. Lives on the daemon's io_context
// thread (no locks). Submits are group-committed: the submits that arrive while one commit is
// under way are inserted together in one transaction, and none is answered before it commits.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/config_slices.h"
#include "core/footprint.h"
#include "core/job_spec.h"
#include "core/ports/clock.h"
#include "core/ports/job_store.h"
#include "daemon/api/api_router.h"

namespace gridshift {

// A job as the API shows it to the caller `viewer` (docs/api.md): its owner and root get the
// whole spec (unless the job is a summary), everybody else the summary (no env, command, args).
// `events` is added by the caller when wanted.
nlohmann::json job_to_json(const Job& job, std::uint32_t viewer);
nlohmann::json event_to_json(const JobEvent& event);

// A random opaque id: "j-" and 20 characters of [a-z0-9] (fits Vertex AI label values).
std::string make_job_id(std::mt19937_64& random);

// GET /v1/report's parameters: group_by (month, region, owner), from and to (RFC 3339, on the
// time a run ended). Error "invalid_query" naming the parameter.
struct ReportQuery {
  std::string group_by;  // "" = no groups
  std::optional<TimePoint> from;
  std::optional<TimePoint> to;
};
Result<ReportQuery> report_query(const ApiRequest& request);

// What the feeds subsystem contributes to /v1/health.
struct FeedsHealth {
  nlohmann::json feeds = nlohmann::json::array();
  bool degraded = false;
  std::vector<std::string> problems;  // why it is degraded, one sentence each
};

class JobService {
 public:
  // `config` is read at each request, so a reload (SIGHUP) applies to later submits.
  JobService(JobStore& store, const ServiceConfig& config, const Clock& clock,
             boost::asio::any_io_executor executor);

  // Hooks for the other subsystems, set by the daemon at wiring time.
  std::function<FeedsHealth()> feeds_health;
  // Called after a dispatching or running job was marked cancelled: the dispatcher cancels the
  // remote job (issue 6).
  std::function<void(const Job&)> on_cancel_requested;
  // The planner's answer to POST /v1/plan for a valid spec; unset = 503 planner_unavailable.
  std::function<ApiResponse(const JobSpec&, const ApiRequest&)> plan;
  // Called after a new job was committed: the scheduler re-plans at once.
  std::function<void()> on_submitted;
  // What the configured dispatch target needs of a spec (field errors; none = fine), checked at
  // submit and plan after the spec's own rules; unset: nothing more.
  std::function<std::vector<FieldError>(const JobSpec&)> check_for_target;
  // Where a job's output is on this host (the dispatch target knows); unset or nullopt: none.
  std::function<std::optional<std::string>(const Job&)> output_path;
  // Extra Prometheus text appended to /metrics by other subsystems.
  std::vector<std::function<std::string()>> metrics_sections;

  // The Vertex AI rows of a Carbon Footprint export table in BigQuery, read with the Vertex AI
  // credentials (POST /v1/footprint {"bigquery": TABLE}); unset when the dispatch target is
  // not vertex_ai.
  std::function<boost::asio::awaitable<Result<std::vector<FootprintRow>>>(std::string table)>
      footprint_query;

  // Who leads the daemons sharing the store, for /v1/health's `leadership`.
  std::function<nlohmann::json()> leadership;
  // Problems other subsystems report for /v1/health (each makes it `degraded`).
  std::function<std::vector<std::string>()> problems;

  // Registers every job route plus /v1/health, /v1/report, /metrics and /v1/plan.
  void register_routes(ApiRouter& router);
  // Registers GET /metrics alone (the metrics.listen TCP listener serves only that).
  void register_metrics_route(ApiRouter& router);

  // The spec (YAML or JSON; JSON also gets type checks) parsed against the current config,
  // resolved into a job owned by `uid` (not stored).
  Result<Job> prepare(std::string_view spec_text, std::uint32_t uid,
                      std::optional<std::string> idempotency_key);
  // Stores the job (group commit); the flag says whether it was newly created (false: an
  // earlier submit with the same idempotency key).
  boost::asio::awaitable<Result<std::pair<Job, bool>>> submit(Job job);

  Result<JobPage> list(const JobQuery& query);
  Result<std::pair<Job, std::vector<JobEvent>>> show(std::string_view id);
  Result<Job> cancel(std::string_view id, std::uint32_t uid);
  Result<nlohmann::json> report(const ReportQuery& query = {});
  // Google's Vertex AI rows beside the accounting of the jobs gridshift ran (docs/levers.md).
  Result<nlohmann::json> footprint(const std::vector<FootprintRow>& rows);
  Result<nlohmann::json> health();
  Result<std::string> metrics();

  std::uint64_t commits() const { return commits_; }

 private:
  struct Pending;
  ApiResponse handle_list(const ApiRequest& request);
  ApiResponse handle_show(const ApiRequest& request);
  ApiResponse handle_cancel(const ApiRequest& request);
  ApiResponse handle_plan(const ApiRequest& request);
  boost::asio::awaitable<ApiResponse> handle_submit(ApiRequest request);
  boost::asio::awaitable<ApiResponse> handle_footprint(ApiRequest request);
  boost::asio::awaitable<void> commit_pending();
  // Error "queue_full" when `uid` (not root) has limits.max_queued_per_user jobs queued.
  Status check_queue_limit(std::uint32_t uid);
  JobSpecContext spec_context() const;
  // Visits every stored job's summary, page by page (report and footprint).
  Status each_summary(const std::function<void(const Job&)>& visit);
  // load_json_job_spec, then what the dispatch target needs (check_for_target).
  Result<JobSpec> load_spec(std::string_view text, const JobSpecContext& context) const;

  JobStore& store_;
  const ServiceConfig& config_;
  const Clock& clock_;
  boost::asio::any_io_executor executor_;
  std::mt19937_64 random_;
  std::vector<std::shared_ptr<Pending>> pending_;
  bool commit_scheduled_ = false;
  std::uint64_t commits_ = 0;
  std::string storage_problem_;  // why the last group commit failed; "" once one succeeds
};

// The HTTP status for an error code of the service or the store.
int status_for(const Error& error);

}  // namespace gridshift
