#include "deploy/vertex_ai/vertex_target.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/logging.h"
#include "core/backoff.h"
#include "core/job_spec.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

constexpr std::string_view kJsonType = "application/json; charset=utf-8";
// A LIST answering more pages than this for one label is not a real answer.
constexpr int kMaxListPages = 50;

std::shared_ptr<spdlog::logger> vlog() {
  return subsystem_logger("vertex");
}

// The request never left this host: resending cannot create anything twice.
bool nothing_sent(const Error& error) {
  return error.is(errc::kHttpConnectFailed) || error.is(errc::kHttpResolveFailed) ||
         error.is(errc::kHttpTlsFailed) || error.is(errc::kHttpProxyFailed);
}

bool is_2xx(int status) {
  return status >= 200 && status < 300;
}

Error gave_up(const std::string& job_id, const std::string& region, const std::string& why) {
  return make_error(errc::kRetry, fmt::format("creating the Vertex AI job for {} in {} did not "
                                              "complete ({}); will try again later",
                                              job_id, region, why));
}

}  // namespace

// What one request came to: no answer (`failure`), or an answer, classified when not 2xx.
struct VertexTarget::Outcome {
  std::optional<Error> failure;
  HttpResponse response;
  ApiError error;

  bool ok() const { return !failure && is_2xx(response.status); }
  bool is(ApiErrorKind kind) const { return !failure && !ok() && error.kind == kind; }
  std::string describe() const {
    if (failure) return failure->message;
    return error.status.empty()
               ? fmt::format("HTTP {}: {}", response.status, error.message)
               : fmt::format("HTTP {} {}: {}", response.status, error.status, error.message);
  }
  // Transient trouble is "retry"; an answer that refuses is `refused_code`.
  Error to_error(std::string_view what, std::string_view refused_code) const {
    const bool transient = failure || error.kind == ApiErrorKind::retry ||
                           error.kind == ApiErrorKind::renew_token ||
                           error.kind == ApiErrorKind::reconcile;
    return make_error(transient ? errc::kRetry : refused_code,
                      fmt::format("{}: {}", what, describe()));
  }
};

VertexTarget::VertexTarget(asio::any_io_executor executor, const VertexAiConfig& config,
                           HttpClient& http, TokenSource& tokens, const Clock& clock,
                           VertexTargetOptions options)
    : executor_(std::move(executor)),
      config_(config),
      http_(http),
      tokens_(tokens),
      clock_(clock),
      options_(options),
      jitter_(options.jitter_seed != 0 ? options.jitter_seed : std::random_device{}()) {}

HttpRequest VertexTarget::request(std::string method, std::string url, std::string body,
                                  milliseconds timeout) const {
  HttpRequest req;
  req.method = std::move(method);
  req.url = std::move(url);
  req.body = std::move(body);
  req.timeout = timeout;
  return req;
}

asio::awaitable<void> VertexTarget::wait(milliseconds delay) {
  asio::steady_timer timer(executor_, delay);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

milliseconds VertexTarget::backoff(int attempt) {
  return Backoff{options_.backoff_initial, options_.backoff_cap}.full_jitter(attempt, jitter_);
}

// One request with credentials; a 401 renews the token and sends once more (a 401 is given
// before anything executes, so this is safe even for a create).
asio::awaitable<VertexTarget::Outcome> VertexTarget::exchange(HttpRequest req, Api api,
                                                              ApiCall call) {
  const std::vector<std::pair<std::string, std::string>> base_headers = req.headers;
  Outcome out;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto token = co_await tokens_.token();
    if (!token) {
      // Even a rejected credential is the daemon's trouble, not the job's: the job waits.
      out.failure = make_error(errc::kRetry,
                               fmt::format("no Google access token ({}, {}): {}", tokens_.kind(),
                                           token.error().code, token.error().message));
      co_return out;
    }
    req.headers = base_headers;
    req.headers.emplace_back("Authorization", "Bearer " + *token);
    if (auto project = tokens_.quota_project(); !project.empty()) {
      req.headers.emplace_back("x-goog-user-project", std::move(project));
    }
    if (!req.body.empty()) {
      const bool has_type = std::any_of(base_headers.begin(), base_headers.end(),
                                        [](const auto& h) { return h.first == "Content-Type"; });
      if (!has_type) req.headers.emplace_back("Content-Type", std::string(kJsonType));
    }
    auto response = co_await http_.request(req);
    if (!response) {
      out.failure = response.error();
      co_return out;
    }
    out.response = std::move(*response);
    if (is_2xx(out.response.status)) co_return out;
    const auto retry_after = out.response.header("retry-after");
    out.error = api == Api::vertex
                    ? classify_vertex_error(call, out.response.status, out.response.body,
                                            retry_after, clock_.now())
                    : classify_storage_error(out.response.status, out.response.body, retry_after,
                                             clock_.now());
    if (out.error.kind != ApiErrorKind::renew_token || attempt > 0) co_return out;
    vlog()->warn("{} {}: credentials refused ({}), renewing the {} token once", req.method,
                 api == Api::vertex ? "Vertex AI" : "Cloud Storage", out.error.message,
                 tokens_.kind());
    tokens_.invalidate();
  }
  co_return out;
}

// An idempotent request: transient failures (no answer, 408/429/5xx, ABORTED) back off and
// go again, at most max_retries times. The last outcome is returned either way.
asio::awaitable<VertexTarget::Outcome> VertexTarget::call(HttpRequest req, Api api,
                                                          ApiCall call_kind) {
  for (int attempt = 0;; ++attempt) {
    auto out = co_await exchange(req, api, call_kind);
    const bool transient =
        (out.failure && !out.failure->is(errc::kHttpBadUrl) && !out.failure->is(errc::kRetry)) ||
        out.is(ApiErrorKind::retry);
    if (!transient || attempt >= options_.max_retries) co_return out;
    auto delay = backoff(attempt);
    if (!out.failure && out.error.retry_after) delay = *out.error.retry_after;
    vlog()->info("{} {}: {}; again in {} ms", req.method, req.url.substr(0, req.url.find('?')),
                 out.describe(), delay.count());
    co_await wait(delay);
  }
}

asio::awaitable<Result<DispatchStarted>> VertexTarget::create(Job job, std::string region) {
  const bool staging = config_.staging_bucket.enabled;
  std::string bucket;
  if (staging) {
    auto name = staging_bucket_name(config_.staging_bucket.prefix, job.id);
    if (!name) co_return name.error();
    bucket = std::move(*name);
  }
  if (current_segment(job) > 0 && !staging) {
    co_return make_error("invalid_job",
                         "interruptible jobs checkpoint in their staging bucket: set "
                         "dispatch.vertex_ai.staging_bucket.enabled to true",
                         {FieldError{"interruptible", "needs the Vertex AI staging bucket"}});
  }
  auto body = custom_job_body(job, region, staging ? staging_output_uri(bucket) : std::string(),
                              staging ? staging_checkpoint_uri(bucket) : std::string());
  if (!body) co_return body.error();

  // An earlier create of this job whose fate is still unknown is settled before anything else.
  auto earlier = co_await settle_unresolved(job, region);
  if (!earlier) co_return earlier.error();
  if (*earlier) co_return **earlier;

  if (staging) {
    auto staged = co_await stage(job, region, bucket);
    if (!staged) co_return staged.error();
  }
  auto created = co_await create_remote(job, region, body->dump());
  // A later segment's bucket holds the checkpoint: it stays unless the job fails with this
  // refusal (anything but retry or region_unavailable fails it).
  const bool job_fails = !created && !created.error().is(errc::kRetry) &&
                         !created.error().is(errc::kRegionUnavailable);
  if (!created && staging && config_.staging_bucket.delete_after && !unresolved_.contains(job.id) &&
      (current_segment(job) <= 1 || job_fails)) {
    // Nothing runs for this job: its bucket would only linger (and sit in the wrong region
    // when the job is re-planned elsewhere).
    auto cleaned = co_await clean_up(job.id);
    if (!cleaned)
      vlog()->warn("job {}: staging cleanup failed: {}", job.id, cleaned.error().message);
  }
  co_return created;
}

asio::awaitable<Result<DispatchStarted>> VertexTarget::create_remote(const Job& job,
                                                                     const std::string& region,
                                                                     const std::string& body) {
  const auto url = custom_jobs_url(config_.endpoint, config_.project, region);
  const auto deadline = std::chrono::steady_clock::now() + options_.create_deadline;
  int posts = 0;
  int waits = 0;
  std::string last_problem = "no attempt made";
  while (true) {
    if (posts >= options_.max_create_requests) {
      co_return gave_up(job.id, region, fmt::format("{} attempts, last: {}", posts, last_problem));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return gave_up(job.id, region, "deadline passed, last: " + last_problem);
    }
    ++posts;
    vlog()->info("job {}: creating CustomJob in {} (attempt {})", job.id, region, posts);
    auto out = co_await exchange(request("POST", url, body, options_.create_timeout), Api::vertex,
                                 ApiCall::create);
    bool ambiguous = false;
    if (out.ok()) {
      auto created = parse_custom_job(out.response.body);
      if (created && !created->name.empty()) {
        unresolved_.erase(job.id);
        vlog()->info("job {}: created {} in {} ({})", job.id, created->name, region,
                     created->state.empty() ? "no state yet" : created->state);
        co_return DispatchStarted{created->name, created->start_time};
      }
      // Created, but the answer does not say as what: the LIST will.
      last_problem = created ? "the answer has no job name" : created.error().message;
      ambiguous = true;
    } else if (out.failure) {
      last_problem = out.failure->message;
      if (out.failure->is(errc::kHttpBadUrl)) {
        co_return make_error(errc::kInvalidConfig,
                             "dispatch.vertex_ai.endpoint gives a bad URL: " + last_problem,
                             {FieldError{"dispatch.vertex_ai.endpoint", last_problem}});
      }
      if (out.failure->is(errc::kRetry)) co_return *out.failure;  // no token
      if (nothing_sent(*out.failure)) {
        --posts;  // nothing reached Vertex: not an attempt at creating
        if (waits >= options_.max_retries) co_return gave_up(job.id, region, last_problem);
        co_await wait(backoff(waits++));
        continue;
      }
      ambiguous = true;
    } else {
      last_problem = out.describe();
      switch (out.error.kind) {
        case ApiErrorKind::region_unavailable:
          vlog()->warn("job {}: {} cannot take it now: {}", job.id, region, last_problem);
          co_return make_error(errc::kRegionUnavailable,
                               fmt::format("Vertex AI in {}: {}", region, out.error.message));
        case ApiErrorKind::renew_token:
          // Refused twice, with a fresh token too: the daemon's credentials, not the job.
          vlog()->error("job {}: Vertex AI refuses the {} credentials: {}", job.id, tokens_.kind(),
                        last_problem);
          co_return gave_up(job.id, region, last_problem);
        case ApiErrorKind::retry: {
          --posts;  // rejected before execution (rate limit)
          auto delay =
              out.error.retry_after.value_or(std::max(backoff(waits), options_.rate_limit_floor));
          if (waits++ >= options_.max_retries ||
              std::chrono::steady_clock::now() + delay >= deadline) {
            co_return gave_up(job.id, region, last_problem);
          }
          vlog()->info("job {}: {}; creating again in {} ms", job.id, last_problem, delay.count());
          co_await wait(delay);
          continue;
        }
        case ApiErrorKind::reconcile:
          ambiguous = true;
          break;
        default:
          vlog()->error("job {}: Vertex AI refused the job in {}: {}", job.id, region,
                        last_problem);
          co_return make_error("vertex_refused",
                               fmt::format("Vertex AI refused the job ({})", last_problem));
      }
    }
    if (!ambiguous) continue;
    // The job may exist: look before posting again (list by the gridshift-job label).
    unresolved_[job.id].insert(region);
    vlog()->warn("job {}: create in {} ended ambiguously ({}); listing by label", job.id, region,
                 last_problem);
    auto found = co_await find_existing(job.id, region, current_segment(job));
    if (!found) {
      co_return gave_up(job.id, region, "cannot list to confirm: " + found.error().message);
    }
    if (*found) {
      unresolved_.erase(job.id);
      vlog()->info("job {}: adopted {} created by the ambiguous request", job.id, (*found)->name);
      co_return DispatchStarted{(*found)->name, (*found)->start_time};
    }
    unresolved_[job.id].erase(region);
    if (unresolved_[job.id].empty()) unresolved_.erase(job.id);
    vlog()->info("job {}: no job exists in {}; creating again", job.id, region);
  }
}

asio::awaitable<Result<std::optional<DispatchStarted>>> VertexTarget::settle_unresolved(
    const Job& job, const std::string& region) {
  auto it = unresolved_.find(job.id);
  if (it == unresolved_.end()) co_return std::optional<DispatchStarted>{};
  const std::set<std::string> regions = it->second;
  std::optional<DispatchStarted> adopted;
  for (const auto& r : regions) {
    auto found = co_await find_existing(job.id, r, current_segment(job));
    if (!found) {
      co_return make_error(errc::kRetry,
                           fmt::format("an earlier create of {} in {} is unconfirmed and the "
                                       "list failed: {}",
                                       job.id, r, found.error().message));
    }
    if (*found && r == region && !adopted) {
      vlog()->info("job {}: adopting {} from an earlier ambiguous create", job.id, (*found)->name);
      adopted = DispatchStarted{(*found)->name, (*found)->start_time};
    } else if (*found) {
      // It runs where the scheduler no longer wants it.
      vlog()->warn("job {}: cancelling {} in {} left by an earlier ambiguous create", job.id,
                   (*found)->name, r);
      auto cancelled = co_await request_cancel((*found)->name);
      if (!cancelled.ok() && !cancelled.is(ApiErrorKind::already_terminal) &&
          !cancelled.is(ApiErrorKind::not_found)) {
        co_return cancelled.to_error("cannot cancel " + (*found)->name, "vertex_refused");
      }
    }
    unresolved_[job.id].erase(r);
  }
  unresolved_.erase(job.id);
  co_return adopted;
}

asio::awaitable<Result<std::vector<VertexJob>>> VertexTarget::list_by_label(
    const std::string& job_id, const std::string& region, int segment) {
  std::vector<VertexJob> jobs;
  std::string page_token;
  for (int page = 0; page < kMaxListPages; ++page) {
    auto out = co_await call(
        request("GET",
                custom_jobs_list_url(config_.endpoint, config_.project, region, job_id, page_token),
                "", options_.read_timeout),
        Api::vertex, ApiCall::read);
    if (!out.ok()) co_return out.to_error("listing jobs in " + region, "vertex_refused");
    auto parsed = parse_custom_job_list(out.response.body);
    if (!parsed) co_return parsed.error();
    for (auto& job : parsed->jobs) {
      // The server filters; this guards against one that ignores the filter.
      auto label = job.labels.find(std::string(kJobLabel));
      if (label == job.labels.end() || label->second != job_id) continue;
      if (segment > 0) {
        // Earlier segments ran under the same job label: only this segment's CustomJob counts.
        auto n = job.labels.find(std::string(kSegmentLabel));
        if (n == job.labels.end() || n->second != std::to_string(segment)) continue;
      }
      jobs.push_back(std::move(job));
    }
    if (parsed->next_page_token.empty()) co_return jobs;
    page_token = parsed->next_page_token;
  }
  co_return make_error(
      "vertex_bad_response",
      fmt::format("listing jobs in {} never ended after {} pages", region, kMaxListPages));
}

// What Vertex runs for the job in the region: the oldest job with its label, duplicates
// cancelled; nullopt when two LISTs a settle delay apart both find nothing.
asio::awaitable<Result<std::optional<VertexJob>>> VertexTarget::find_existing(
    const std::string& job_id, const std::string& region, int segment) {
  auto jobs = co_await list_by_label(job_id, region, segment);
  if (!jobs) co_return jobs.error();
  if (jobs->empty()) {
    vlog()->info("job {}: nothing listed in {} yet; listing again in {} ms", job_id, region,
                 options_.settle_delay.count());
    co_await wait(options_.settle_delay);
    jobs = co_await list_by_label(job_id, region, segment);
    if (!jobs) co_return jobs.error();
    if (jobs->empty()) co_return std::optional<VertexJob>{};
  }
  sort_oldest_first(*jobs);
  for (std::size_t i = 1; i < jobs->size(); ++i) {
    const auto& duplicate = (*jobs)[i];
    if (duplicate.known_state && is_terminal(duplicate.job_state)) continue;
    vlog()->warn("job {}: cancelling duplicate {} (keeping the older {})", job_id, duplicate.name,
                 jobs->front().name);
    auto cancelled = co_await request_cancel(duplicate.name);
    if (!cancelled.ok() && !cancelled.is(ApiErrorKind::already_terminal) &&
        !cancelled.is(ApiErrorKind::not_found)) {
      vlog()->error("job {}: cannot cancel duplicate {}: {}", job_id, duplicate.name,
                    cancelled.describe());
    }
  }
  co_return std::optional<VertexJob>{std::move(jobs->front())};
}

asio::awaitable<VertexTarget::Outcome> VertexTarget::request_cancel(const std::string& name) {
  auto url = custom_job_url(config_.endpoint, name, ":cancel");
  if (!url) {
    Outcome out;
    out.failure = url.error();
    co_return out;
  }
  co_return co_await call(request("POST", *url, "{}", options_.read_timeout), Api::vertex,
                          ApiCall::cancel);
}

asio::awaitable<Result<VertexJob>> VertexTarget::get_job(const std::string& name) {
  auto url = custom_job_url(config_.endpoint, name);
  if (!url) co_return url.error();
  auto out =
      co_await call(request("GET", *url, "", options_.read_timeout), Api::vertex, ApiCall::read);
  if (out.is(ApiErrorKind::not_found)) {
    co_return make_error(errc::kNotFound, "Vertex AI has no job " + name + " (deleted?)");
  }
  if (!out.ok()) co_return out.to_error("reading " + name, "vertex_refused");
  co_return parse_custom_job(out.response.body);
}

asio::awaitable<Result<RemoteStatus>> VertexTarget::poll(Job job) {
  if (!job.remote_name || job.remote_name->empty()) {
    co_return make_error("invalid_state", "job " + job.id + " has no Vertex AI job to follow");
  }
  const std::string name = *job.remote_name;
  auto remote = co_await get_job(name);
  RemoteStatus status;
  if (!remote && remote.error().is(errc::kNotFound)) {
    status.state = JobState::failed;
    status.message = remote.error().message;
  } else if (!remote) {
    co_return remote.error();
  } else {
    if (!remote->known_state) {
      vlog()->warn(
          "job {}: {} is in state \"{}\", which this build does not know; still "
          "following it",
          job.id, name, remote->state);
    }
    status.state = remote->job_state;
    status.started_at = remote->start_time;
    status.finished_at = remote->end_time;
    status.message = remote->error_message;
    status.region_unavailable = remote->region_unavailable;
    if (status.state == JobState::failed && status.message.empty()) {
      status.message = "Vertex AI: " + remote->state;
    }
  }
  if (!is_terminal(status.state)) {
    vlog()->debug("job {}: {} is {}", job.id, name, remote ? remote->state : "?");
    co_return status;
  }
  vlog()->info("job {}: {} ended {}{}", job.id, name, to_string(status.state),
               status.message.empty() ? "" : " (" + status.message + ")");
  bool last = true;
  if (current_segment(job) > 0 && config_.staging_bucket.enabled) {
    auto complete = co_await complete_marker(job.id);
    if (!complete) co_return complete.error();
    status.complete = *complete;
    // The bucket holds the checkpoint until the job's last segment has ended.
    const bool stopped_by_us = job.segments.back().state == SegmentState::stopping;
    const bool next_follows =
        !status.complete &&
        (status.state == JobState::succeeded ||
         (status.state == JobState::cancelled && stopped_by_us)) &&
        static_cast<int>(job.segments.size()) < job.spec.interruptible->max_segments;
    last = !next_follows;
  }
  if (last && config_.staging_bucket.enabled && config_.staging_bucket.delete_after) {
    auto cleaned = co_await clean_up(job.id);
    if (!cleaned && cleaned.error().is(errc::kRetry)) {
      // Report the end once the bucket is gone: the scheduler polls again.
      co_return make_error(errc::kRetry, "job ended; its staging bucket is not deleted yet: " +
                                             cleaned.error().message);
    }
    if (!cleaned) {
      vlog()->error("job {}: staging bucket left in place: {}", job.id, cleaned.error().message);
    }
  }
  co_return status;
}

asio::awaitable<Status> VertexTarget::cancel(Job job) {
  if (!job.remote_name || job.remote_name->empty()) {
    vlog()->info("job {}: no Vertex AI job to cancel", job.id);
    if (current_segment(job) > 0 && config_.staging_bucket.enabled &&
        config_.staging_bucket.delete_after) {
      // Cancelled between segments: nothing runs, and the checkpoint is not needed any more.
      auto cleaned = co_await clean_up(job.id);
      if (!cleaned) {
        vlog()->warn("job {}: staging bucket not deleted: {}", job.id, cleaned.error().message);
      }
    }
    co_return Status{};
  }
  const std::string name = *job.remote_name;
  vlog()->info("job {}: cancelling {}", job.id, name);
  auto out = co_await request_cancel(name);
  if (out.ok() || out.is(ApiErrorKind::not_found)) {
    vlog()->info("job {}: cancel of {} {}", job.id, name,
                 out.ok() ? "requested" : "not needed (no such job)");
  } else if (out.is(ApiErrorKind::fatal) || out.is(ApiErrorKind::region_unavailable)) {
    co_return out.to_error("cancelling " + name, "vertex_refused");
  } else {
    // Already ended (FAILED_PRECONDITION) or no answer after retries: the job's state decides.
    auto remote = co_await get_job(name);
    if (!remote && !remote.error().is(errc::kNotFound)) co_return remote.error();
    const bool over = !remote || (remote->known_state && is_terminal(remote->job_state)) ||
                      remote->state == "JOB_STATE_CANCELLING";
    if (!over) co_return out.to_error("cancelling " + name, "vertex_refused");
    vlog()->info("job {}: {} needs no cancel ({})", job.id, name,
                 remote ? remote->state : "no such job");
  }
  const bool segment_stop =
      current_segment(job) > 0 && job.segments.back().state == SegmentState::stopping;
  if (!segment_stop && config_.staging_bucket.enabled && config_.staging_bucket.delete_after) {
    // A cancelled job is not followed any more: its bucket goes now. (A segment stopped at its
    // end keeps it: the next segment resumes from the checkpoint there.)
    auto cleaned = co_await clean_up(job.id);
    if (!cleaned) {
      vlog()->warn("job {}: staging bucket not deleted: {}", job.id, cleaned.error().message);
    }
  }
  co_return Status{};
}

asio::awaitable<Result<std::optional<DispatchStarted>>> VertexTarget::adopt(Job job,
                                                                            std::string region) {
  vlog()->info("job {}: looking for an existing CustomJob in {}", job.id, region);
  auto found = co_await find_existing(job.id, region, current_segment(job));
  if (!found) co_return found.error();
  unresolved_.erase(job.id);
  if (!*found) {
    vlog()->info("job {}: no CustomJob exists in {}", job.id, region);
    co_return std::optional<DispatchStarted>{};
  }
  vlog()->info("job {}: adopted {} ({})", job.id, (*found)->name, (*found)->state);
  co_return std::optional<DispatchStarted>{DispatchStarted{(*found)->name, (*found)->start_time}};
}

asio::awaitable<Status> VertexTarget::stage(const Job& job, const std::string& region,
                                            const std::string& bucket) {
  constexpr std::string_view kRefused = "vertex_staging_failed";
  const auto& endpoint = config_.storage_endpoint;
  auto created = co_await call(
      request("POST", bucket_create_url(endpoint, config_.project),
              staging_bucket_body(bucket, region, job.id).dump(), options_.read_timeout),
      Api::storage, ApiCall::read);
  if (created.ok()) {
    vlog()->info("job {}: created staging bucket {} in {}", job.id, bucket, region);
  } else if (created.is(ApiErrorKind::conflict)) {
    // Ours from an earlier attempt (reuse it), or another project's (a name we cannot have).
    auto owned =
        co_await call(request("GET", bucket_url(endpoint, bucket), "", options_.read_timeout),
                      Api::storage, ApiCall::read);
    if (owned.ok()) {
      vlog()->info("job {}: reusing staging bucket {}", job.id, bucket);
    } else if (owned.response.status == 403) {
      co_return make_error(std::string(kRefused),
                           fmt::format("staging bucket name {} belongs to another project; "
                                       "change dispatch.vertex_ai.staging_bucket.prefix",
                                       bucket));
    } else {
      co_return owned.to_error("checking staging bucket " + bucket, kRefused);
    }
  } else {
    co_return created.to_error("creating staging bucket " + bucket, kRefused);
  }

  std::string spec = job_spec_to_json(job.spec);
  auto upload = request("POST", object_upload_url(endpoint, bucket, kStagingSpecObject),
                        std::move(spec), options_.read_timeout);
  upload.headers.emplace_back("Content-Type", "application/json");
  auto uploaded = co_await call(std::move(upload), Api::storage, ApiCall::read);
  if (uploaded.ok()) {
    vlog()->info("job {}: uploaded gs://{}/{}", job.id, bucket, kStagingSpecObject);
  } else if (uploaded.is(ApiErrorKind::precondition_failed)) {
    vlog()->info("job {}: gs://{}/{} is already there", job.id, bucket, kStagingSpecObject);
  } else {
    co_return uploaded.to_error("uploading the job spec to " + bucket, kRefused);
  }
  co_return Status{};
}

asio::awaitable<Result<bool>> VertexTarget::complete_marker(const std::string& job_id) {
  auto bucket = staging_bucket_name(config_.staging_bucket.prefix, job_id);
  if (!bucket) co_return bucket.error();
  auto out = co_await call(
      request("GET", object_url(config_.storage_endpoint, *bucket, kCompleteObject, ""), "",
              options_.read_timeout),
      Api::storage, ApiCall::read);
  if (out.ok()) co_return true;
  if (out.is(ApiErrorKind::not_found)) co_return false;
  co_return make_error(errc::kRetry, "cannot look for gs://" + *bucket + "/" +
                                         std::string(kCompleteObject) + ": " + out.describe());
}

// Deletes every version of every object. What is deleted leaves the listing, so each round
// lists from the top again until nothing is left.
asio::awaitable<Status> VertexTarget::empty_bucket(const std::string& bucket) {
  const auto& endpoint = config_.storage_endpoint;
  for (int round = 0; round < kMaxListPages; ++round) {
    auto listed = co_await call(
        request("GET", object_list_url(endpoint, bucket, ""), "", options_.read_timeout),
        Api::storage, ApiCall::read);
    if (listed.is(ApiErrorKind::not_found)) co_return Status{};
    if (!listed.ok()) co_return listed.to_error("listing " + bucket, "vertex_staging_failed");
    auto objects = parse_object_list(listed.response.body);
    if (!objects) co_return objects.error();
    if (objects->items.empty()) co_return Status{};
    for (const auto& object : objects->items) {
      auto deleted = co_await call(
          request("DELETE", object_url(endpoint, bucket, object.name, object.generation), "",
                  options_.read_timeout),
          Api::storage, ApiCall::read);
      if (!deleted.ok() && !deleted.is(ApiErrorKind::not_found)) {
        co_return deleted.to_error("deleting gs://" + bucket + "/" + object.name,
                                   "vertex_staging_failed");
      }
    }
  }
  co_return make_error("vertex_staging_failed", "bucket " + bucket + " never became empty");
}

asio::awaitable<Status> VertexTarget::clean_up(const std::string& job_id) {
  auto name = staging_bucket_name(config_.staging_bucket.prefix, job_id);
  if (!name) co_return name.error();
  const std::string bucket = *name;
  for (int round = 0; round < 2; ++round) {
    auto emptied = co_await empty_bucket(bucket);
    if (!emptied) co_return emptied;
    auto deleted = co_await call(
        request("DELETE", bucket_url(config_.storage_endpoint, bucket), "", options_.read_timeout),
        Api::storage, ApiCall::read);
    if (deleted.ok() || deleted.is(ApiErrorKind::not_found)) {
      vlog()->info("job {}: staging bucket {} deleted", job_id, bucket);
      co_return Status{};
    }
    // 409: objects appeared meanwhile (a job still writing); list and delete once more.
    if (!deleted.is(ApiErrorKind::conflict) || round > 0) {
      co_return deleted.to_error("deleting bucket " + bucket, "vertex_staging_failed");
    }
  }
  co_return Status{};
}

}  // namespace gridshift
