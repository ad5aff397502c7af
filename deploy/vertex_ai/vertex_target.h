// The vertex_ai dispatch target: runs a gridshift job as a Vertex AI CustomJob, with an
// optional per-job Cloud Storage staging bucket, follows it, cancels it, and adopts what a
// crashed daemon left (docs/configuration.md, "How Vertex AI dispatch works"). Never
// creates a job twice: an ambiguous create is reconciled by listing the job's label first.
// Lives on the daemon's io_context thread (no locks); the HttpClient, TokenSource and Clock
// it is given must outlive it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>

#include "core/ports/clock.h"
#include "core/ports/dispatcher.h"
#include "deploy/vertex_ai/settings.h"
#include "deploy/vertex_ai/token_source.h"
#include "deploy/vertex_ai/vertex_api.h"
#include "net/http_client.h"

namespace gridshift {

// Timings; the defaults are the production ones, tests shrink them.
struct VertexTargetOptions {
  std::chrono::milliseconds create_timeout{30000};  // per create request
  std::chrono::milliseconds read_timeout{15000};    // per other request
  // Truncated exponential backoff with full jitter: uniform in [0, min(cap, initial * 2^n)].
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_cap{60000};
  // A 429 without Retry-After or RetryInfo waits at least this long.
  std::chrono::milliseconds rate_limit_floor{30000};
  // LIST may lag a create by a few seconds: an empty LIST is repeated once after this.
  std::chrono::milliseconds settle_delay{5000};
  // One create() call, reconciles and waits included, gives up (code "retry") after this.
  std::chrono::milliseconds create_deadline{std::chrono::minutes(10)};
  int max_create_requests = 4;    // POSTs per create() call
  int max_retries = 5;            // transient failures per idempotent request
  std::uint64_t jitter_seed = 0;  // 0: seeded from std::random_device
};

class VertexTarget final : public Dispatcher {
 public:
  static constexpr std::string_view kTarget = "vertex_ai";

  VertexTarget(boost::asio::any_io_executor executor, const VertexAiConfig& config,
               HttpClient& http, TokenSource& tokens, const Clock& clock,
               VertexTargetOptions options = {});

  std::string_view target() const override { return kTarget; }

  // Stages (bucket, spec upload) when configured, then creates the CustomJob. Errors: "retry"
  // (transient trouble, or an outcome that could not be confirmed yet), "region_unavailable"
  // (quota, accelerator or machine not offered there), "vertex_refused" (the API's message),
  // "vertex_staging_failed", "invalid_job", "invalid_config".
  boost::asio::awaitable<Result<DispatchStarted>> create(Job job, std::string region) override;
  // Vertex's state, startTime/endTime and error; deletes the staging bucket once terminal
  // (delete_after). Error "retry" while Vertex cannot be reached or the cleanup must be redone.
  boost::asio::awaitable<Result<RemoteStatus>> poll(Job job) override;
  // Success also when the job had already ended or no longer exists.
  boost::asio::awaitable<Status> cancel(Job job) override;
  boost::asio::awaitable<Result<std::optional<DispatchStarted>>> adopt(Job job,
                                                                       std::string region) override;

 private:
  enum class Api { vertex, storage };
  struct Outcome;

  boost::asio::awaitable<Outcome> exchange(HttpRequest request, Api api, ApiCall call);
  boost::asio::awaitable<Outcome> call(HttpRequest request, Api api, ApiCall call);
  boost::asio::awaitable<void> wait(std::chrono::milliseconds delay);
  std::chrono::milliseconds backoff(int attempt);

  boost::asio::awaitable<Result<DispatchStarted>> create_remote(const Job& job,
                                                                const std::string& region,
                                                                const std::string& body);
  boost::asio::awaitable<Result<std::optional<DispatchStarted>>> settle_unresolved(
      const Job& job, const std::string& region);
  // Jobs labelled gridshift-job=<job_id> in `region`; with `segment` > 0 only those of that
  // segment (gridshift-segment=<segment>).
  boost::asio::awaitable<Result<std::vector<VertexJob>>> list_by_label(const std::string& job_id,
                                                                       const std::string& region,
                                                                       int segment);
  boost::asio::awaitable<Result<std::optional<VertexJob>>> find_existing(const std::string& job_id,
                                                                         const std::string& region,
                                                                         int segment);
  // Whether an interruptible job's trainer wrote gs://<staging bucket>/checkpoints/COMPLETE.
  boost::asio::awaitable<Result<bool>> complete_marker(const std::string& job_id);
  boost::asio::awaitable<Outcome> request_cancel(const std::string& name);
  boost::asio::awaitable<Result<VertexJob>> get_job(const std::string& name);

  boost::asio::awaitable<Status> stage(const Job& job, const std::string& region,
                                       const std::string& bucket);
  boost::asio::awaitable<Status> clean_up(const std::string& job_id);
  boost::asio::awaitable<Status> empty_bucket(const std::string& bucket);

  HttpRequest request(std::string method, std::string url, std::string body,
                      std::chrono::milliseconds timeout) const;

  boost::asio::any_io_executor executor_;
  VertexAiConfig config_;
  HttpClient& http_;
  TokenSource& tokens_;
  const Clock& clock_;
  VertexTargetOptions options_;
  std::mt19937_64 jitter_;
  // Job id -> regions where a create had an ambiguous outcome that no LIST has settled yet:
  // the next create() of that job looks there before posting anything.
  std::map<std::string, std::set<std::string>> unresolved_;
};

}  // namespace gridshift
