#include "daemon/api/job_service.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <limits>
#include <map>

#include "common/logging.h"
#include "common/spawn.h"
#include "common/version.h"
#include "core/accelerators.h"
#include "core/accounting.h"
#include "core/units.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;

constexpr std::size_t kDefaultPageSize = 100;
constexpr std::size_t kMaxPageSize = 1000;
constexpr std::size_t kMaxIdempotencyKey = 128;
constexpr int kMaxJsonDepth = 64;
constexpr std::array kAllStates = {JobState::queued,    JobState::dispatching, JobState::running,
                                   JobState::succeeded, JobState::failed,      JobState::cancelled};

nlohmann::json time_or_null(const std::optional<TimePoint>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json();
}

nlohmann::json string_or_null(const std::optional<std::string>& s) {
  return s ? nlohmann::json(*s) : nlohmann::json();
}

nlohmann::json object_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json() : parsed;
}

// The job's figures once it has ended, with the plan's forecast score; null before either.
nlohmann::json accounting_json(const Job& job) {
  nlohmann::json out;
  if (job.accounting) out = nlohmann::json::parse(accounting_to_json(*job.accounting));
  if (job.planned_score) {
    if (out.is_null()) out = nlohmann::json::object();
    out["planned_score"] = *job.planned_score;
  }
  return out;
}

// Nesting depth of JSON text, counted before any parser sees it (brackets inside strings do
// not count), so that a deeply nested body cannot exhaust a recursive parser's stack.
int json_depth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

// The checks every JSON body passes before the spec parser sees it: media type, depth, syntax
// and UTF-8, and an object at the top. Returns the error response, or nothing when fine.
std::optional<ApiResponse> check_json_body(const ApiRequest& request) {
  auto type = request.headers.find("content-type");
  std::string media = type == request.headers.end() ? "" : type->second;
  media = media.substr(0, media.find(';'));
  while (!media.empty() && media.back() == ' ')
    media.pop_back();
  std::transform(media.begin(), media.end(), media.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (media != "application/json") {
    return ApiResponse::error(
        415, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)",
        {{"Content-Type", "expected application/json, got '" +
                              (type == request.headers.end() ? std::string() : type->second) +
                              "'"}});
  }
  if (json_depth(request.body) > kMaxJsonDepth) {
    return ApiResponse::error(400, "invalid_json",
                              fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth));
  }
  try {
    auto parsed = nlohmann::json::parse(request.body);
    if (!parsed.is_object()) {
      return ApiResponse::error(
          400, "invalid_job", "the body must be a JSON object",
          {{"", std::string("expected an object, got ") + parsed.type_name()}});
    }
  } catch (const nlohmann::json::parse_error& e) {
    return ApiResponse::error(400, "invalid_json",
                              std::string("the body is not valid JSON: ") + e.what());
  } catch (const nlohmann::json::out_of_range&) {
    // A number beyond a double (1e400): valid JSON syntax. The spec parser names the field.
  }
  return std::nullopt;
}

std::optional<std::string> header(const ApiRequest& request, const std::string& name) {
  auto found = request.headers.find(name);
  if (found == request.headers.end()) return std::nullopt;
  return found->second;
}

// "no job ID", with no more of the asked id than a real one can hold: an answer never echoes
// 10,000 characters of whatever a client sent.
Error no_such_job(std::string_view id) {
  constexpr std::size_t kLongestId = 40;
  if (id.size() <= kLongestId && is_valid_job_id(id)) {
    return make_error(errc::kNotFound, fmt::format("no job {}", id));
  }
  return make_error(errc::kNotFound, fmt::format("no such job: the {} characters asked for are not "
                                                 "a job id (lowercase [a-z0-9-], at most {})",
                                                 id.size(), kLongestId));
}

}  // namespace

int status_for(const Error& error) {
  const auto& c = error.code;
  if (c == "invalid_job" || c == "invalid_request" || c == "invalid_json") return 400;
  if (c == "forbidden") return 403;
  if (error.is(errc::kNotFound)) return 404;
  if (error.is(errc::kConflict) || c == "idempotency_conflict") return 409;
  if (c == "payload_too_large") return 413;
  if (c == "queue_full") return 429;
  if (c.rfind("storage_", 0) == 0 || c == "planner_unavailable") return 503;
  // BigQuery's refusal or odd answer is an upstream fault; "retry" is one that may pass.
  if (c == "bigquery_refused" || c == "bigquery_invalid_answer") return 502;
  if (c == "retry") return 503;
  return 500;
}

bool may_see_spec(const Job& job, std::uint32_t viewer) {
  return viewer == 0 || viewer == job.owner_uid;
}

nlohmann::json job_to_json(const Job& job, std::uint32_t viewer) {
  // Other users see what the job is (name, hardware, windows), never how it runs: env values,
  // command lines and arguments may hold secrets. Lists carry summaries for everyone.
  const bool whole = !job.spec_is_summary && may_see_spec(job, viewer);
  const std::string spec_json = job_spec_to_json(whole ? job.spec : summarize(job.spec));
  nlohmann::json out = {{"id", job.id},
                        {"name", job.spec.name},
                        {"owner_uid", job.owner_uid},
                        {"state", to_string(job.state)},
                        {"submitted_at", format_rfc3339(job.submitted_at)},
                        {"updated_at", format_rfc3339(job.updated_at)},
                        {"deadline", format_rfc3339(job.deadline)},
                        {"regions", job.regions},
                        {"power_watts", job.power_watts},
                        {"spec", object_or_null(spec_json)},
                        {"spec_complete", whole},
                        {"region", string_or_null(job.region)},
                        {"planned_start", time_or_null(job.planned_start)},
                        {"started_at", time_or_null(job.started_at)},
                        {"finished_at", time_or_null(job.finished_at)},
                        {"remote_name", string_or_null(job.remote_name)},
                        {"error", job.error.empty() ? nlohmann::json() : nlohmann::json(job.error)},
                        {"accounting", accounting_json(job)}};
  // The candidates the planner did not rank at its last decision, and why.
  out["excluded"] = nlohmann::json::array();
  for (const auto& e : job.excluded)
    out["excluded"].push_back({{"region", e.region}, {"reason", e.reason}});
  // An interruptible job's segments so far ([] for other jobs).
  out["segments"] = segments_to_json(job.segments);
  // The hardware it runs on: 0 = the main spec, k = spec.alternatives[k - 1].
  out["alternative"] = job.alternative;
  return out;
}

nlohmann::json event_to_json(const JobEvent& event) {
  return {{"seq", event.seq},
          {"at", format_rfc3339(event.at)},
          {"type", event.type},
          {"message", event.message},
          {"data", object_or_null(event.data_json)}};
}

std::string make_job_id(std::mt19937_64& random) {
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
  std::string id = "j-";
  for (int i = 0; i < 20; ++i)
    id += kAlphabet[pick(random)];
  return id;
}

struct JobService::Pending {
  explicit Pending(asio::any_io_executor executor) : done(std::move(executor)) {}
  JobInsert item;
  asio::steady_timer done;
  std::optional<Result<Job>> result;
};

JobService::JobService(JobStore& store, const ServiceConfig& config, const Clock& clock,
                       asio::any_io_executor executor)
    : store_(store), config_(config), clock_(clock), executor_(std::move(executor)) {
  std::random_device seed;
  random_.seed((std::uint64_t{seed()} << 32) ^ seed());
}

JobSpecContext JobService::spec_context() const {
  JobSpecContext context;
  context.known_regions = config_.region_names();
  context.now = clock_.now();
  context.default_deadline = config_.scheduler.default_deadline;
  context.dispatch_slack = config_.scheduler.dispatch_slack;
  return context;
}

Result<JobSpec> JobService::load_spec(std::string_view text, const JobSpecContext& context) const {
  auto spec = load_json_job_spec(text, context);
  if (!spec || !check_for_target) return spec;
  if (auto errors = check_for_target(*spec); !errors.empty()) {
    return invalid_job_spec(std::move(errors));
  }
  return spec;
}

Result<Job> JobService::prepare(std::string_view spec_text, std::uint32_t uid,
                                std::optional<std::string> idempotency_key) {
  const auto limit = config_.limits.max_spec_bytes;
  if (spec_text.size() > limit) {
    return make_error("payload_too_large",
                      fmt::format("the job spec is {} bytes; limits.max_spec_bytes is {}",
                                  spec_text.size(), limit),
                      {FieldError{"spec", fmt::format("at most {} bytes", limit)}});
  }
  const auto context = spec_context();
  auto spec = load_spec(spec_text, context);
  if (!spec) return spec.error();
  Job job;
  job.id = make_job_id(random_);
  job.owner_uid = uid;
  job.submitted_at = context.now;
  job.updated_at = context.now;
  job.deadline = spec->deadline.value_or(context.now + context.default_deadline);
  job.regions = spec->regions.empty() ? context.known_regions : spec->regions;
  job.power_watts = derive_power_watts(*spec, *context.accelerators);
  job.idempotency_key = std::move(idempotency_key);
  job.spec = std::move(*spec);
  if (auto errors = lever_errors(job, lever_context(config_)); !errors.empty()) {
    return invalid_job_spec(std::move(errors));
  }
  return job;
}

asio::awaitable<Result<std::pair<Job, bool>>> JobService::submit(Job job) {
  auto pending = std::make_shared<Pending>(executor_);
  pending->item.first_event.at = job.submitted_at;
  pending->item.first_event.type = "submitted";
  pending->item.first_event.message = fmt::format(
      "submitted by uid {}: {} for {}, deadline {}, power {} W", job.owner_uid, job.spec.name,
      format_duration(job.spec.duration), format_rfc3339(job.deadline), job.power_watts);
  pending->item.job = std::move(job);
  pending_.push_back(pending);
  if (!commit_scheduled_) {
    commit_scheduled_ = true;
    spawn(executor_, commit_pending(), "api", "job commit", OnFailure::log);
  }
  pending->done.expires_at(asio::steady_timer::time_point::max());
  while (!pending->result) {
    co_await pending->done.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  auto& result = *pending->result;
  if (!result) co_return result.error();
  const bool created = result->id == pending->item.job.id;
  if (created && on_submitted) on_submitted();
  co_return std::make_pair(std::move(*result), created);
}

// Group commit: waiting one turn of the event loop lets every submit that is already readable
// on other connections join the batch; each batch is one transaction (one fsync).
asio::awaitable<void> JobService::commit_pending() {
  asio::steady_timer turn(executor_);
  for (;;) {
    turn.expires_after(std::chrono::seconds(0));
    co_await turn.async_wait(asio::as_tuple(asio::use_awaitable));
    if (pending_.empty()) break;
    auto batch = std::move(pending_);
    pending_.clear();
    std::vector<JobInsert> items;
    items.reserve(batch.size());
    for (const auto& p : batch)
      items.push_back(p->item);
    auto results = store_.insert_batch(items);
    ++commits_;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      batch[i]->result = results ? (*results)[i] : Result<Job>(results.error());
      batch[i]->done.cancel();
    }
    if (!results) {
      subsystem_logger("api")->error("storing {} submitted jobs failed: {}", batch.size(),
                                     to_string(results.error()));
      storage_problem_ = "submits cannot be stored: " + results.error().message;
    } else {
      storage_problem_.clear();
    }
  }
  commit_scheduled_ = false;
}

Result<JobPage> JobService::list(const JobQuery& query) {
  return store_.list(query);
}

Result<std::pair<Job, std::vector<JobEvent>>> JobService::show(std::string_view id) {
  auto job = store_.get(id);
  if (!job) return job.error();
  if (!*job) return no_such_job(id);
  auto events = store_.events(id);
  if (!events) return events.error();
  return std::make_pair(std::move(**job), std::move(*events));
}

Result<Job> JobService::cancel(std::string_view id, std::uint32_t uid) {
  auto found = store_.get(id);
  if (!found) return found.error();
  if (!*found) return no_such_job(id);
  Job job = std::move(**found);
  if (uid != 0 && uid != job.owner_uid) {
    return make_error("forbidden", fmt::format("job {} belongs to uid {}: only its owner or root "
                                               "may cancel it",
                                               job.id, job.owner_uid));
  }
  if (is_terminal(job.state)) {
    return make_error(errc::kConflict,
                      fmt::format("job {} is already {}", job.id, to_string(job.state)));
  }
  const JobState before = job.state;
  const auto now = clock_.now();
  JobEvent event;
  event.at = now;
  if (before == JobState::queued) {
    event.type = "state";
    event.message = fmt::format("cancelled by uid {} while queued", uid);
  } else {
    event.type = "cancel_requested";
    event.message = fmt::format("cancel requested by uid {} while {}: the remote job is cancelled",
                                uid, to_string(before));
  }
  event.data_json =
      nlohmann::json{{"from", to_string(before)}, {"to", "cancelled"}, {"uid", uid}}.dump();
  job.state = JobState::cancelled;
  job.updated_at = now;
  job.finished_at = now;
  if (!job.segments.empty() && (job.segments.back().state == SegmentState::running ||
                                job.segments.back().state == SegmentState::stopping)) {
    job.segments.back().state = SegmentState::cancelled;
    job.segments.back().finished_at = now;
  }
  if (auto updated = store_.update(job, event); !updated) return updated.error();
  // An interruptible job queued between segments runs nothing, but its target may keep its
  // checkpoint (a Vertex AI staging bucket): the target is told as well.
  if ((before != JobState::queued || !job.segments.empty()) && on_cancel_requested) {
    on_cancel_requested(job);
  }
  return job;
}

namespace {

// The key a job is grouped under in a report: "2026-11" (the month its run ended, UTC), its
// region, or its owner's uid.
std::string group_key(const std::string& by, const Job& job, const Accounting& accounting) {
  if (by == "region")
    return accounting.region.empty() ? job.region.value_or("-") : accounting.region;
  if (by == "owner") return std::to_string(job.owner_uid);
  return format_rfc3339(*job.finished_at).substr(0, 7);
}

}  // namespace

Result<ReportQuery> report_query(const ApiRequest& request) {
  ReportQuery query;
  std::vector<FieldError> errors;
  for (const auto& [key, value] : request.query) {
    if (key == "group_by") {
      if (value != "month" && value != "region" && value != "owner") {
        errors.push_back({"group_by", "must be month, region or owner"});
      } else {
        query.group_by = value;
      }
    } else if (key == "from" || key == "to") {
      auto t = parse_rfc3339(value);
      if (!t) {
        errors.push_back({key, t.error().message});
      } else {
        (key == "from" ? query.from : query.to) = *t;
      }
    } else {
      errors.push_back({key, "unknown parameter (group_by, from, to)"});
    }
  }
  if (!errors.empty())
    return make_error("invalid_query", "invalid report query", std::move(errors));
  return query;
}

Result<nlohmann::json> JobService::report(const ReportQuery& query_in) {
  nlohmann::json by_state = nlohmann::json::object();
  std::size_t total = 0;
  for (auto state : kAllStates) {
    auto n = store_.count(state);
    if (!n) return n.error();
    by_state[std::string(to_string(state))] = *n;
    total += *n;
  }
  double kwh = 0;
  std::size_t measured = 0;
  // Failed and cancelled runs emitted grams but saved nothing: summed apart (docs/scheduling.md).
  double unsuccessful_g = 0;
  std::size_t unsuccessful = 0;
  // Grams are summed over jobs whose accounting has both the actual and the baseline figure, so
  // that saved = baseline - actual compares like with like; per signal type as well, since
  // average and marginal grams mean different things.
  struct Sums {
    double actual = 0, baseline = 0, oracle = 0;
    std::size_t jobs = 0, with_oracle = 0;
  };
  Sums all;
  Sums interruptible;  // baseline holds the segments oracle here
  // The other levers (docs/levers.md), over every run that ended with accounting, each summed
  // over the jobs whose figure is known and counting those without one.
  struct LeverSum {
    double total = 0;
    std::size_t known = 0, unknown = 0;
    void add(const std::optional<double>& v) {
      if (v) {
        total += *v;
        ++known;
      } else {
        ++unknown;
      }
    }
    nlohmann::json json(const char* key) const {
      return {{key, known > 0 ? nlohmann::json(total) : nlohmann::json()},
              {"jobs_known", known},
              {"jobs_unknown", unknown}};
    }
  };
  LeverSum cost, water, embodied;
  std::map<std::string, Sums> by_signal;
  std::map<std::string, Sums> by_group;
  auto visited = each_summary([&](const Job& job) {
    if (!job.started_at || !job.finished_at || *job.finished_at < *job.started_at) return;
    if ((query_in.from && *job.finished_at < *query_in.from) ||
        (query_in.to && *job.finished_at >= *query_in.to)) {
      return;
    }
    // An interruptible job ran only in its segments, not in the gaps between them.
    const auto ran = job.accounting && job.accounting->segments > 0
                         ? Seconds{job.accounting->run}
                         : std::chrono::duration_cast<Seconds>(*job.finished_at - *job.started_at);
    const double hours = std::chrono::duration<double>(ran).count() / 3600.0;
    const RegionConfig* region = job.region ? config_.find_region(*job.region) : nullptr;
    kwh += energy_kwh(job.power_watts, hours, region ? region->pue : 1.0);
    ++measured;
    if (job.accounting) {
      cost.add(job.accounting->cost_usd);
      water.add(job.accounting->water_l);
      embodied.add(job.accounting->embodied_g);
    }
    if (!job.accounting || !job.accounting->actual_g) return;
    const Accounting& accounting = *job.accounting;
    if (job.state == JobState::failed || job.state == JobState::cancelled) {
      unsuccessful_g += *accounting.actual_g;
      ++unsuccessful;
      return;
    }
    if (!accounting.baseline_g) return;
    if (accounting.segments > 0) {
      // What interruption added: the run against the best single window in hindsight, and
      // the best that segments could have done.
      ++interruptible.jobs;
      interruptible.actual += *accounting.actual_g;
      if (accounting.oracle_g) interruptible.oracle += *accounting.oracle_g;
      if (accounting.oracle_segments_g) {
        interruptible.baseline += *accounting.oracle_segments_g;
        ++interruptible.with_oracle;
      }
    }
    const std::string signal =
        accounting.signal ? std::string(to_string(*accounting.signal)) : "unknown";
    Sums* group = query_in.group_by.empty()
                      ? nullptr
                      : &by_group[group_key(query_in.group_by, job, accounting)];
    for (Sums* sums : {&all, &by_signal[signal], group}) {
      if (sums == nullptr) continue;
      sums->actual += *accounting.actual_g;
      sums->baseline += *accounting.baseline_g;
      ++sums->jobs;
      if (accounting.oracle_g) {
        sums->oracle += *accounting.oracle_g;
        ++sums->with_oracle;
      }
    }
  });
  if (!visited) return visited.error();
  auto grams = [](const Sums& sums) {
    nlohmann::json out = {{"jobs_accounted", sums.jobs}, {"emissions_g", nullptr},
                          {"baseline_g", nullptr},       {"oracle_g", nullptr},
                          {"saved_g", nullptr},          {"savings", nullptr}};
    if (sums.jobs == 0) return out;
    out["emissions_g"] = sums.actual;
    out["baseline_g"] = sums.baseline;
    out["saved_g"] = sums.baseline - sums.actual;
    if (sums.baseline > 0) out["savings"] = 1.0 - sums.actual / sums.baseline;
    if (sums.with_oracle == sums.jobs) out["oracle_g"] = sums.oracle;
    return out;
  };
  nlohmann::json report = grams(all);
  report["jobs"] = {{"total", total}, {"by_state", by_state}};
  report["energy_kwh"] = kwh;
  report["jobs_with_energy"] = measured;
  report["failed_or_cancelled"] = {{"jobs_accounted", unsuccessful},
                                   {"emissions_g", unsuccessful_g}};
  report["interruptible"] = {{"jobs", interruptible.jobs},
                             {"emissions_g", interruptible.actual},
                             {"oracle_g", interruptible.oracle},
                             {"oracle_segments_g", interruptible.with_oracle == interruptible.jobs
                                                       ? nlohmann::json(interruptible.baseline)
                                                       : nlohmann::json()}};
  report["cost"] = cost.json("cost_usd");
  report["water"] = water.json("water_l");
  // Scope 3 (the accelerators' manufacture), apart from the operational grams above.
  report["embodied"] = embodied.json("embodied_g");
  report["by_signal"] = nlohmann::json::object();
  for (const auto& [signal, sums] : by_signal)
    report["by_signal"][signal] = grams(sums);
  // Only succeeded runs with both figures are grouped, like the totals above.
  if (!query_in.group_by.empty()) {
    report["group_by"] = query_in.group_by;
    report["groups"] = nlohmann::json::array();
    for (const auto& [key, sums] : by_group) {
      auto row = grams(sums);
      row["key"] = key;
      report["groups"].push_back(std::move(row));
    }
  }
  report["from"] = time_or_null(query_in.from);
  report["to"] = time_or_null(query_in.to);
  return report;
}

Result<nlohmann::json> JobService::health() {
  auto depth = store_.count(JobState::queued);
  FeedsHealth feeds = feeds_health ? feeds_health() : FeedsHealth{};
  std::vector<std::string> found = problems ? problems() : std::vector<std::string>{};
  found.insert(found.end(), feeds.problems.begin(), feeds.problems.end());
  if (!storage_problem_.empty()) found.push_back(storage_problem_);
  if (!depth) found.push_back("the database cannot be read: " + depth.error().message);
  const bool degraded = feeds.degraded || !found.empty();
  nlohmann::json out{{"status", degraded ? "degraded" : "ok"},
                     {"queue_depth", depth ? nlohmann::json(*depth) : nlohmann::json()},
                     {"database", depth ? "ok" : "error"},
                     {"problems", found},
                     {"feeds", feeds.feeds}};
  if (leadership) out["leadership"] = leadership();
  return out;
}

Result<std::string> JobService::metrics() {
  std::string out;
  out += "# HELP gridshift_build_info Build of the running gridshiftd.\n";
  out += "# TYPE gridshift_build_info gauge\n";
  out += fmt::format("gridshift_build_info{{version=\"{}\"}} 1\n", kVersion);
  out += "# HELP gridshift_jobs Jobs in the store by state.\n";
  out += "# TYPE gridshift_jobs gauge\n";
  for (auto state : kAllStates) {
    auto n = store_.count(state);
    if (!n) return n.error();
    out += fmt::format("gridshift_jobs{{state=\"{}\"}} {}\n", to_string(state), *n);
  }
  out += "# HELP gridshift_job_commits_total Transactions that stored submitted jobs.\n";
  out += "# TYPE gridshift_job_commits_total counter\n";
  out += fmt::format("gridshift_job_commits_total {}\n", commits_);
  for (const auto& section : metrics_sections)
    out += section();
  return out;
}

Status JobService::check_queue_limit(std::uint32_t uid) {
  if (uid == 0) return {};
  auto queued = store_.count_owned(JobState::queued, uid);
  if (!queued) return queued.error();
  const auto in_flight =
      static_cast<std::size_t>(std::count_if(pending_.begin(), pending_.end(), [&](const auto& p) {
        return p->item.job.owner_uid == uid;
      }));
  const auto limit = config_.limits.max_queued_per_user;
  if (*queued + in_flight < limit) return {};
  return make_error(
      "queue_full",
      fmt::format("uid {} has {} jobs queued; limits.max_queued_per_user is {}", uid,
                  *queued + in_flight, limit),
      {FieldError{"limits.max_queued_per_user", "wait for queued jobs to start, or cancel some"}});
}

ApiResponse JobService::handle_list(const ApiRequest& request) {
  JobQuery query;
  query.limit = kDefaultPageSize;
  std::vector<FieldError> errors;
  for (const auto& [name, value] : request.query) {
    if (name == "state") {
      auto state = parse_job_state(value);
      if (!state) {
        errors.push_back({"state", "unknown state '" + value +
                                       "' (queued, dispatching, running, succeeded, failed, "
                                       "cancelled)"});
      }
      query.state = state;
    } else if (name == "limit") {
      std::size_t limit = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (ec != std::errc() || end != value.data() + value.size() || limit < 1 ||
          limit > kMaxPageSize) {
        errors.push_back({"limit", fmt::format("must be an integer from 1 to {}", kMaxPageSize)});
      }
      query.limit = limit;
    } else if (name == "after") {
      if (!is_valid_job_id(value)) errors.push_back({"after", "not a job id cursor"});
      query.after = value;
    } else {
      errors.push_back({name, "unknown query parameter"});
    }
  }
  if (!errors.empty()) {
    return ApiResponse::error(400, "invalid_request", "invalid query", std::move(errors));
  }
  query.summary = true;
  auto page = list(query);
  if (!page) return ApiResponse::error(status_for(page.error()), page.error());
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto& job : page->jobs)
    jobs.push_back(job_to_json(job, request.uid));
  nlohmann::json unreadable = nlohmann::json::array();
  for (const auto& bad : page->unreadable)
    unreadable.push_back({{"id", bad.id}, {"reason", bad.reason}});
  nlohmann::json out = {{"jobs", std::move(jobs)}, {"next", string_or_null(page->next)}};
  if (!unreadable.empty()) out["unreadable"] = std::move(unreadable);
  return ApiResponse::json(200, out);
}

ApiResponse JobService::handle_show(const ApiRequest& request) {
  auto shown = show(request.path_params.at("id"));
  if (!shown) return ApiResponse::error(status_for(shown.error()), shown.error());
  auto json = job_to_json(shown->first, request.uid);
  // Where a local job's output is: only its owner and root may read it, and they are told.
  const bool may_read = request.uid == 0 || request.uid == shown->first.owner_uid;
  auto log = output_path && may_read ? output_path(shown->first) : std::nullopt;
  json["log"] = log ? nlohmann::json(*log) : nlohmann::json();
  json["events"] = nlohmann::json::array();
  for (const auto& event : shown->second)
    json["events"].push_back(event_to_json(event));
  return ApiResponse::json(200, json);
}

ApiResponse JobService::handle_cancel(const ApiRequest& request) {
  auto cancelled = cancel(request.path_params.at("id"), request.uid);
  if (!cancelled) return ApiResponse::error(status_for(cancelled.error()), cancelled.error());
  return ApiResponse::json(200, job_to_json(*cancelled, request.uid));
}

ApiResponse JobService::handle_plan(const ApiRequest& request) {
  if (auto rejected = check_json_body(request)) return *rejected;
  auto spec = load_spec(request.body, spec_context());
  if (!spec) return ApiResponse::error(400, spec.error());
  if (!plan) {
    return ApiResponse::error(503, "planner_unavailable",
                              "the spec is valid, but this daemon has no planner yet");
  }
  return plan(*spec, request);
}

asio::awaitable<ApiResponse> JobService::handle_submit(ApiRequest request) {
  if (auto rejected = check_json_body(request)) co_return *rejected;
  auto key = header(request, "idempotency-key");
  if (key && (key->empty() || key->size() > kMaxIdempotencyKey ||
              !std::all_of(key->begin(), key->end(), [](char c) { return c > ' ' && c < 127; }))) {
    co_return ApiResponse::error(
        400, "invalid_request", "bad Idempotency-Key",
        {{"Idempotency-Key",
          fmt::format("1 to {} printable ASCII characters without spaces", kMaxIdempotencyKey)}});
  }
  auto job = prepare(request.body, request.uid, key);
  if (!job) co_return ApiResponse::error(status_for(job.error()), job.error());
  if (auto full = check_queue_limit(request.uid); !full) {
    co_return ApiResponse::error(status_for(full.error()), full.error());
  }
  const std::string submitted_spec = job_spec_to_json(job->spec);
  auto stored = co_await submit(std::move(*job));
  if (!stored) co_return ApiResponse::error(status_for(stored.error()), stored.error());
  if (!stored->second && job_spec_to_json(stored->first.spec) != submitted_spec) {
    // The key names an earlier submit of another spec: answering with that job would pass
    // a different job off as this one.
    co_return ApiResponse::error(
        409, "idempotency_conflict",
        fmt::format("Idempotency-Key already used for job {} with a different spec",
                    stored->first.id),
        {{"Idempotency-Key", "reuse a key only to repeat the same submit"}});
  }
  auto response =
      ApiResponse::json(stored->second ? 201 : 200, job_to_json(stored->first, request.uid));
  response.headers.emplace_back("Location", "/v1/jobs/" + stored->first.id);
  co_return response;
}

Status JobService::each_summary(const std::function<void(const Job&)>& visit) {
  JobQuery query;
  query.limit = kMaxPageSize;
  query.summary = true;
  for (;;) {
    auto page = store_.list(query);
    if (!page) return page.error();
    for (const auto& job : page->jobs)
      visit(job);
    if (!page->next) return {};
    query.after = page->next;
  }
}

Result<nlohmann::json> JobService::footprint(const std::vector<FootprintRow>& rows) {
  std::vector<Job> ended;
  auto visited = each_summary([&](const Job& job) {
    if (job.accounting) ended.push_back(job);
  });
  if (!visited) return visited.error();
  auto opt = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json();
  };
  nlohmann::json lines = nlohmann::json::array();
  for (const auto& l : compare_footprint(rows, ended)) {
    lines.push_back({{"month", l.month},
                     {"region", l.region},
                     {"google_kg", opt(l.google_kg)},
                     {"gridshift_kg", opt(l.gridshift_kg)},
                     {"gridshift_embodied_kg", opt(l.embodied_kg)},
                     {"jobs", l.jobs},
                     {"ratio", opt(l.ratio)}});
  }
  const auto vertex = std::count_if(rows.begin(), rows.end(), [](const FootprintRow& r) {
    return r.service == kVertexAiService;
  });
  return nlohmann::json{{"rows_read", rows.size()}, {"vertex_ai_rows", vertex}, {"lines", lines}};
}

namespace {

// {"rows": [{"month", "region", "service", "kg"}]} as the CLI sends a parsed CSV export.
Result<std::vector<FootprintRow>> footprint_rows_from_json(const nlohmann::json& list) {
  std::vector<FootprintRow> rows;
  if (!list.is_array()) {
    return make_error("invalid_request", "rows must be a list",
                      {FieldError{"rows", "expected a list of {month, region, service, kg}"}});
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& r = list[i];
    const std::string field = fmt::format("rows[{}]", i);
    auto month = r.is_object() && r.contains("month") && r["month"].is_string()
                     ? footprint_month(r["month"].get<std::string>())
                     : std::nullopt;
    const bool kg_ok =
        r.is_object() && (!r.contains("kg") || r["kg"].is_null() || r["kg"].is_number());
    if (!month || !kg_ok || !r.value("region", nlohmann::json("")).is_string() ||
        !r.value("service", nlohmann::json("")).is_string()) {
      return make_error("invalid_request", "bad footprint row",
                        {FieldError{field, "expected {month: YYYY-MM, region, service, kg}"}});
    }
    FootprintRow row;
    row.month = *month;
    row.region = r.value("region", std::string());
    row.service = r.value("service", std::string());
    if (r.contains("kg") && r["kg"].is_number()) row.kg = r["kg"].get<double>();
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

asio::awaitable<ApiResponse> JobService::handle_footprint(ApiRequest request) {
  if (auto rejected = check_json_body(request)) co_return *rejected;
  const auto body = nlohmann::json::parse(request.body, nullptr, false);
  const bool has_rows = body.is_object() && body.contains("rows");
  const bool has_table = body.is_object() && body.contains("bigquery");
  if (has_rows == has_table) {
    co_return ApiResponse::error(
        400, "invalid_request", "give exactly one of rows and bigquery",
        {{"bigquery", "PROJECT.DATASET.TABLE of the Carbon Footprint export"},
         {"rows", "the rows of a CSV export, as gridshift footprint FILE sends them"}});
  }
  Result<std::vector<FootprintRow>> rows = std::vector<FootprintRow>{};
  if (has_rows) {
    rows = footprint_rows_from_json(body["rows"]);
  } else if (!body["bigquery"].is_string()) {
    co_return ApiResponse::error(400, "invalid_request", "bigquery must be a string",
                                 {{"bigquery", "expected PROJECT.DATASET.TABLE"}});
  } else if (!footprint_query) {
    co_return ApiResponse::error(
        400, "invalid_request", "reading BigQuery needs the vertex_ai dispatch target",
        {{"bigquery",
          "the Vertex AI credentials read it: set dispatch.type to vertex_ai, or "
          "export the table to CSV and give the file"}});
  } else {
    rows = co_await footprint_query(body["bigquery"].get<std::string>());
  }
  if (!rows) co_return ApiResponse::error(status_for(rows.error()), rows.error());
  auto answer = footprint(*rows);
  if (!answer) co_return ApiResponse::error(status_for(answer.error()), answer.error());
  (*answer)["source"] = has_rows ? "csv" : "bigquery";
  co_return ApiResponse::json(200, *answer);
}

void JobService::register_routes(ApiRouter& router) {
  router.add_async("POST", "/v1/jobs", std::bind_front(&JobService::handle_submit, this));
  router.add("GET", "/v1/jobs", std::bind_front(&JobService::handle_list, this));
  router.add("GET", "/v1/jobs/{id}", std::bind_front(&JobService::handle_show, this));
  router.add("POST", "/v1/jobs/{id}/cancel", std::bind_front(&JobService::handle_cancel, this));
  router.add("POST", "/v1/plan", std::bind_front(&JobService::handle_plan, this));
  router.add_async("POST", "/v1/footprint", std::bind_front(&JobService::handle_footprint, this));
  router.add("GET", "/v1/health", [this](const ApiRequest&) {
    auto h = health();
    return h ? ApiResponse::json(200, *h) : ApiResponse::error(status_for(h.error()), h.error());
  });
  router.add("GET", "/v1/report", [this](const ApiRequest& request) {
    auto query = report_query(request);
    if (!query) return ApiResponse::error(400, query.error());
    auto r = report(*query);
    return r ? ApiResponse::json(200, *r) : ApiResponse::error(status_for(r.error()), r.error());
  });
  register_metrics_route(router);
}

void JobService::register_metrics_route(ApiRouter& router) {
  router.add("GET", "/metrics", [this](const ApiRequest&) {
    auto m = metrics();
    return m ? ApiResponse::text(200, *m, "text/plain; version=0.0.4")
             : ApiResponse::error(status_for(m.error()), m.error());
  });
}

}  // namespace gridshift
