#include "daemon/scheduler/scheduler.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <map>

#include "common/config_slices.h"
#include "common/logging.h"
#include "common/scrub.h"
#include "common/spawn.h"
#include "core/accounting.h"
#include "core/feed_chain.h"
#include "daemon/scheduler/region_resolver.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;

// How far ahead forecasts are loaded: beyond any sensible deadline (feeds forecast at most a few
// days ahead).
constexpr Seconds kForecastLookahead{8 * 24 * 3600};
// How far back actuals and forecasts are looked for to cover the present.
constexpr Seconds kLookback{2 * 24 * 3600};
constexpr std::size_t kPageSize = 1000;
// How long a region that refused a job for quota or capacity is avoided for that accelerator
// (Vertex AI's quota errors clear on the scale of an hour: retrying at once is pointless).
constexpr Seconds kRegionCooldown{3600};
// The longest the scheduler keeps the event loop while recording a cycle's decisions.
constexpr std::chrono::milliseconds kLoopTurn{20};
// How long after max_staleness late readings may still fill a finished job's accounting in.
constexpr Seconds kLateReadingsGrace{3600};

std::string accelerator_of(const JobSpec& spec) {
  return spec.vertex ? spec.vertex->accelerator_type : std::string();
}

// The accelerator of the way `job` runs (its chosen alternative).
std::string accelerator_of(const Job& job) {
  return accelerator_of(with_alternative(job.spec, job.alternative));
}

nlohmann::json parse_object(const std::string& text) {
  if (text.empty()) return nlohmann::json::object();
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  return parsed.is_object() ? parsed : nlohmann::json::object();
}

JobEvent event_for(const Job& job, TimePoint now, std::string type, std::string message,
                   const nlohmann::json& data = {}) {
  JobEvent event;
  event.job_id = job.id;
  event.at = now;
  event.type = std::move(type);
  // Messages quote targets' and feeds' errors, which may echo a secret: none is stored.
  event.message = scrub_secrets(message);
  if (!data.is_null()) event.data_json = scrub_secrets(data.dump());
  return event;
}

nlohmann::json excluded_json(const std::vector<Exclusion>& excluded) {
  auto out = nlohmann::json::array();
  for (const auto& e : excluded)
    out.push_back({{"region", e.region}, {"reason", e.reason}});
  return out;
}

nlohmann::json decision_json(const PlanDecision& d) {
  nlohmann::json out = {
      {"action", to_string(d.action)}, {"region", d.region}, {"reason", d.reason}};
  out["start"] = d.start ? nlohmann::json(format_rfc3339(*d.start)) : nlohmann::json();
  out["end"] = d.end ? nlohmann::json(format_rfc3339(*d.end)) : nlohmann::json();
  out["score"] = d.score ? nlohmann::json(*d.score) : nlohmann::json();
  out["signal"] = d.signal ? nlohmann::json(to_string(*d.signal)) : nlohmann::json();
  out["excluded"] = excluded_json(d.excluded);
  if (!d.options.empty()) {
    // A job with hardware alternatives: the option chosen and each option's planned run.
    out["alternative"] = d.alternative;
    auto& options = out["options"] = nlohmann::json::array();
    for (const auto& o : d.options) {
      options.push_back(
          {{"alternative", o.alternative},
           {"region", o.region.empty() ? nlohmann::json() : nlohmann::json(o.region)},
           {"start", o.start ? nlohmann::json(format_rfc3339(*o.start)) : nlohmann::json()},
           {"score", o.score ? nlohmann::json(*o.score) : nlohmann::json()},
           {"emissions_g", o.grams ? nlohmann::json(*o.grams) : nlohmann::json()},
           {"reason_code", to_string(o.reason_code)}});
    }
  }
  if (!d.segments.empty()) {
    auto& segments = out["segments"] = nlohmann::json::array();
    for (const auto& w : d.segments) {
      segments.push_back(
          {{"start", format_rfc3339(w.start)}, {"end", format_rfc3339(w.end)}, {"score", w.score}});
    }
  }
  return out;
}

}  // namespace

PlannerJob to_planner_job(const Job& job) {
  PlannerJob p;
  p.id = job.id;
  p.regions = job.regions;
  p.duration = with_alternative(job.spec, job.alternative).duration;
  p.deadline = job.deadline;
  p.not_before = job.spec.not_before;
  p.policy = job.spec.policy;
  p.threshold = job.spec.threshold;
  p.power_watts = job.power_watts;
  return p;
}

Scheduler::Scheduler(asio::any_io_executor executor, const ServiceConfig& config, JobStore& jobs,
                     ReadingStore& readings, DispatchJournal& journal, const Clock& clock,
                     Dispatcher& dispatcher)
    : executor_(executor),
      config_(config),
      jobs_(jobs),
      readings_(readings),
      journal_(journal),
      clock_(clock),
      dispatcher_(dispatcher),
      timer_(executor) {}

void Scheduler::start() {
  spawn(executor_, loop(), "scheduler", "scheduler loop", OnFailure::stop);
}

void Scheduler::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Scheduler::wake() {
  wake_pending_ = true;
  if (!running_cycle_) timer_.cancel();
}

asio::awaitable<void> Scheduler::loop() {
  while (!stopped_) {
    wake_pending_ = false;
    co_await run_cycle();
    if (stopped_) break;
    if (wake_pending_) continue;
    // Wake at the next planned start when it comes before the next tick, so that a job planned
    // for a short dip starts in it (never before: the planner holds it until then).
    Seconds wait = config_.scheduler.tick;
    if (next_planned_start_) {
      wait = std::min(wait, std::max(Seconds{1}, std::chrono::ceil<Seconds>(*next_planned_start_ -
                                                                            clock_.now())));
    }
    timer_.expires_after(clock_.real_wait(wait));
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

PlannerSettings Scheduler::settings() const {
  PlannerSettings s;
  s.dispatch_slack = config_.scheduler.dispatch_slack;
  s.min_gain = config_.scheduler.min_gain;
  s.error_margin = config_.scheduler.error_margin;
  s.max_concurrent_dispatches = config_.scheduler.max_concurrent_dispatches;
  s.max_staleness = config_.scheduler.max_staleness;
  return s;
}

bool Scheduler::cooling_down(const std::string& region, const std::string& accelerator,
                             TimePoint now) const {
  auto it = cooldowns_.find({region, accelerator});
  return it != cooldowns_.end() && it->second > now;
}

PlannerJob Scheduler::planner_job(const Job& job, const std::vector<JobOption>& options,
                                  TimePoint now) const {
  auto planner = to_planner_job(job);
  if (const auto& rules = job.spec.interruptible) {
    // The work left, as one segment (a resume adds its overhead), split by the rules for the
    // segments still allowed; once a segment ran, its region holds the checkpoint (and its
    // hardware is the alternative it ran on).
    planner.duration = next_run_time(job);
    planner.segments = to_segment_rules(*rules);
    planner.segments->max_segments =
        std::max(1, rules->max_segments - static_cast<int>(job.segments.size()));
    if (!job.segments.empty()) {
      planner.regions = {job.segments.front().region};
      return planner;
    }
  }
  // Each option's regions: those offering its accelerator within max_cost_usd, and not
  // cooling down for that accelerator. Without any such region anywhere, the main spec keeps
  // its candidates (the target then says why it cannot run).
  auto usable = [&](const JobOption& option) {
    auto regions = option.regions;
    const auto accelerator = accelerator_of(option.spec);
    std::erase_if(
        regions, [&](const std::string& region) { return cooling_down(region, accelerator, now); });
    return regions;
  };
  const bool any = std::any_of(options.begin(), options.end(),
                               [](const JobOption& o) { return !o.regions.empty(); });
  if (any) planner.regions = usable(options.front());
  // The main spec is option 0 even after an alternative was tried (a refused create requeues
  // the job with that alternative recorded): every option is ranked again.
  // (No segment ran yet here, so an interruptible job's work left is the whole duration.)
  planner.power_watts = options.front().power_watts;
  planner.duration = options.front().duration;
  if (!any) {
    const auto accelerator = accelerator_of(options.front().spec);
    std::erase_if(planner.regions, [&](const std::string& region) {
      return cooling_down(region, accelerator, now);
    });
  }
  for (std::size_t k = 1; k < options.size(); ++k) {
    const auto& option = options[k];
    PlannerAlternative alternative;
    alternative.index = option.alternative;
    alternative.duration = option.duration;
    alternative.power_watts = option.power_watts;
    alternative.regions = usable(option);
    planner.alternatives.push_back(std::move(alternative));
  }
  return planner;
}

void Scheduler::explain_exclusions(const Job& job, const std::vector<JobOption>& options,
                                   PlanDecision& decision, TimePoint now) const {
  for (auto& e : decision.excluded) {
    if (config_.find_region(e.region) == nullptr) e.reason = "not configured";
  }
  // The chosen option's levers: regions without its accelerator or over max_cost_usd.
  const auto chosen = static_cast<std::size_t>(decision.alternative);
  if (chosen < options.size()) {
    for (const auto& e : options[chosen].excluded)
      decision.excluded.push_back(e);
  }
  const auto accelerator =
      accelerator_of(chosen < options.size() ? options[chosen].spec : job.spec);
  for (const auto& region : job.regions) {
    auto it = cooldowns_.find({region, accelerator});
    if (it == cooldowns_.end() || it->second <= now) continue;
    decision.excluded.push_back(
        Exclusion{region, fmt::format("avoided until {} after a quota or capacity refusal",
                                      format_rfc3339(it->second))});
  }
}

std::vector<Job> Scheduler::jobs_in(JobState state, bool summary) {
  std::vector<Job> out;
  JobQuery query;
  query.state = state;
  query.limit = kPageSize;
  query.summary = summary;
  for (;;) {
    auto page = jobs_.list(query);
    if (!page) {
      subsystem_logger("scheduler")
          ->error("cannot list {} jobs: {}", to_string(state), to_string(page.error()));
      return out;
    }
    for (auto& job : page->jobs)
      out.push_back(std::move(job));
    for (const auto& bad : page->unreadable)
      quarantine(bad);
    if (!page->next) return out;
    query.after = page->next;
  }
}

void Scheduler::quarantine(const UnreadableJob& bad) {
  auto log = subsystem_logger("scheduler");
  const std::string reason = fmt::format(
      "its stored record cannot be read ({}); quarantined so that the rest of the queue is "
      "scheduled",
      bad.reason);
  log->error("job {}: {}", bad.id, reason);
  if (auto done = jobs_.quarantine(bad.id, reason, clock_.now()); !done) {
    log->error("job {}: cannot quarantine: {}", bad.id, to_string(done.error()));
    note_storage(done);
    return;
  }
  quarantined_[bad.id] = bad.reason;
}

void Scheduler::note_storage(const Status& write) {
  if (write) {
    storage_problem_.clear();
  } else if (write.error().code.rfind("storage_", 0) == 0) {
    storage_problem_ = write.error().message;
  }
}

std::vector<std::string> Scheduler::problems() const {
  std::vector<std::string> out;
  for (const auto& [id, reason] : quarantined_) {
    out.push_back(
        fmt::format("job {} was quarantined: its record cannot be read ({})", id, reason));
  }
  if (!storage_problem_.empty()) {
    out.push_back("the scheduler cannot write to the database: " + storage_problem_);
  }
  return out;
}

std::vector<RegionSeries> Scheduler::current_series(TimePoint now) {
  auto log = subsystem_logger("scheduler");
  std::vector<RegionSeries> series;
  for (const auto& region : config_.regions) {
    const auto resolution = resolve_region(config_, region, readings_, now);
    if (!resolution) {
      log->warn("region {}: cannot read cached readings: {}", region.name,
                resolution.error().message);
      continue;
    }
    if (!resolution->winner) continue;
    const auto& feed = region.feeds[*resolution->winner];
    const auto location = feed_location(config_, feed, region);
    std::vector<Reading> readings;
    auto actuals = readings_.actuals(feed, location, now - kLookback, now + Seconds(1));
    auto forecast = readings_.forecast(feed, location, now - kLookback, now + kForecastLookahead);
    if (!actuals || !forecast) {
      log->warn("region {}: cannot read cached readings of feed {}", region.name, feed);
      continue;
    }
    readings.insert(readings.end(), actuals->begin(), actuals->end());
    readings.insert(readings.end(), forecast->begin(), forecast->end());
    const ForecastErrorModel* errors = errors_ ? errors_->find(feed, location) : nullptr;
    auto s = build_series(region.name, region.pue, readings, now, errors);
    s.feed = feed;
    // The chain already judged freshness, knowing each reading's step (a yearly average stays
    // usable all year); the planner's own age check would only see the timestamp.
    s.observed_at.reset();
    series.push_back(std::move(s));
  }
  return series;
}

RegionSeries Scheduler::hindsight_series(const RegionConfig& region, TimePoint from,
                                         TimePoint to) const {
  RegionSeries series;
  series.region = region.name;
  series.pue = region.pue;
  // The first feed of the chain that observed the period is the one to believe.
  for (const auto& feed : region.feeds) {
    auto actuals = readings_.actuals(feed, feed_location(config_, feed, region), from, to);
    if (!actuals || actuals->empty()) continue;
    series.feed = feed;
    series.signal = actuals->front().signal;
    series.points = observed_points(*actuals);
    break;
  }
  return series;
}

std::optional<Accounting> Scheduler::compute_accounting(const Job& job) const {
  if (!job.started_at || !job.finished_at || !job.region) return job.accounting;
  const TimePoint from = std::min(job.submitted_at, *job.started_at);
  const TimePoint to =
      std::max({job.deadline, *job.finished_at,
                *job.started_at + with_alternative(job.spec, job.alternative).duration});
  std::vector<RegionSeries> observed;
  for (const auto& name : job.regions) {
    if (const auto* region = config_.find_region(name)) {
      auto s = hindsight_series(*region, from - Seconds(3600), to + Seconds(3600));
      if (!s.points.empty()) observed.push_back(std::move(s));
    }
  }
  AccountingInput input;
  input.job = to_planner_job(job);
  input.submitted_at = job.submitted_at;
  input.region = *job.region;
  input.planned_score = job.planned_score;
  input.started_at = *job.started_at;
  input.finished_at = *job.finished_at;
  input.outcome = job.state == JobState::failed      ? JobOutcome::failed
                  : job.state == JobState::cancelled ? JobOutcome::cancelled
                                                     : JobOutcome::succeeded;
  if (job.spec.interruptible) {
    input.segment_rules = to_segment_rules(*job.spec.interruptible);
    for (const auto& segment : job.segments) {
      const TimePoint end = segment.finished_at.value_or(*job.finished_at);
      if (end > segment.start) input.segments.emplace_back(segment.start, end);
    }
  }
  PlannerSettings s = settings();
  // Hindsight: staleness does not apply to what was observed afterwards.
  s.max_staleness = Seconds(100LL * 365 * 24 * 3600);
  auto accounting = account_job(input, PlanningContext(std::move(observed)), s);
  account_levers(accounting, with_alternative(job.spec, job.alternative), job.power_watts,
                 lever_context(config_));
  return accounting;
}

bool Scheduler::awaits_readings(const Job& job, TimePoint now) const {
  if (!is_terminal(job.state) || !job.finished_at || !job.started_at || !job.region) return false;
  if (now > *job.finished_at + config_.scheduler.max_staleness + kLateReadingsGrace) return false;
  return !job.accounting || job.accounting->incomplete();
}

void Scheduler::fill_late_accounting(TimePoint now) {
  if (!pending_scanned_) {
    // Once per process: jobs that ended shortly before a restart may still wait for readings.
    pending_scanned_ = true;
    for (JobState state : {JobState::succeeded, JobState::failed, JobState::cancelled}) {
      for (const auto& job : jobs_in(state, /*summary=*/true)) {
        if (awaits_readings(job, now)) pending_accounting_.insert(job.id);
      }
    }
  }
  auto log = subsystem_logger("scheduler");
  for (auto it = pending_accounting_.begin(); it != pending_accounting_.end();) {
    auto stored = jobs_.get(*it);
    if (!stored || !*stored) {
      it = pending_accounting_.erase(it);
      continue;
    }
    Job job = std::move(**stored);
    if (!awaits_readings(job, now)) {
      it = pending_accounting_.erase(it);
      continue;
    }
    auto filled = compute_accounting(job);
    if (filled != job.accounting) {
      job.accounting = std::move(filled);
      job.updated_at = now;
      const auto accounting = parse_object(job_accounting_to_json(job));
      auto updated = jobs_.update_if(
          job, job.state,
          event_for(job, now, "accounting",
                    "accounting filled in from readings that arrived after the job ended",
                    accounting));
      note_storage(updated);
      if (updated) log->info("job {}: accounting filled in from late readings", job.id);
      if (updated && !awaits_readings(job, now)) {
        it = pending_accounting_.erase(it);
        continue;
      }
    }
    ++it;
  }
}

asio::awaitable<void> Scheduler::reconcile(Job job, TimePoint now) {
  // Every dispatch of this process ends within its cycle, so a job found dispatching at the
  // start of a cycle was left so by a crash or by a reconciliation that could not finish.
  auto log = subsystem_logger("scheduler");
  auto records = journal_.for_job(job.id);
  if (!records) {
    log->error("job {}: cannot read the dispatch journal: {}", job.id, to_string(records.error()));
    co_return;
  }
  // An interruptible job's earlier segments have their own records: only the current
  // segment's count (at-most-once per segment).
  if (!job.segments.empty()) {
    const int segment = job.segments.back().n;
    std::erase_if(*records, [&](const DispatchRecord& r) { return r.segment != segment; });
  }
  // The create call was confirmed but the job record not updated: the remote job is known.
  for (auto it = records->rbegin(); it != records->rend(); ++it) {
    const auto& record = *it;
    if ((record.status == DispatchStatus::created || record.status == DispatchStatus::adopted) &&
        record.remote_name) {
      mark_running(
          job, record.region, DispatchStarted{*record.remote_name, std::nullopt}, now,
          "recovered after restart: running in " + record.region + " as " + *record.remote_name);
      co_return;
    }
  }
  // An intent without a confirmed create: look for what the target may have made, in every
  // region tried (docs/design.md, "Promises"), before dispatching anew.
  std::optional<std::pair<DispatchRecord, DispatchStarted>> adopted;
  for (auto record : *records) {
    if (record.status != DispatchStatus::intent) continue;
    if (adopted) {
      record.status = DispatchStatus::abandoned;
      record.detail = "another attempt was adopted";
      record.updated_at = now;
      (void)journal_.update(record);
      continue;
    }
    auto found = co_await dispatcher_.adopt(as_run(job), record.region);
    if (!found) {
      log->warn("job {}: cannot reconcile the dispatch to {} ({}); will try again next cycle",
                job.id, record.region, found.error().message);
      co_return;
    }
    record.updated_at = clock_.now();
    if (*found) {
      record.status = DispatchStatus::adopted;
      record.remote_name = (*found)->remote_name;
      record.detail = "adopted after restart";
      adopted = {record, **found};
    } else {
      record.status = DispatchStatus::abandoned;
      record.detail = "nothing was created before the restart";
    }
    (void)journal_.update(record);
  }
  if (adopted) {
    const auto& [record, started] = *adopted;
    log->info("job {}: adopted {} in {} after restart", job.id, started.remote_name, record.region);
    mark_running(job, record.region, started, clock_.now(),
                 fmt::format("adopted after restart: {} in {} (found by its gridshift-job label)",
                             started.remote_name, record.region));
    co_return;
  }
  job.state = JobState::queued;
  if (!job.segments.empty()) job.segments.pop_back();  // that segment never ran
  if (job.segments.empty()) job.region.reset();
  job.updated_at = now;
  auto updated = jobs_.update(
      job, event_for(job, now, "state",
                     "requeued: the daemon restarted while dispatching and nothing was created"));
  if (updated) log->info("job {}: requeued after restart (was dispatching)", job.id);
}

asio::awaitable<void> Scheduler::stop_orphans(TimePoint now) {
  // An intent still open for a job that ended (cancelled while dispatching, then a crash):
  // the target may run something nobody follows. Find it and stop it.
  auto unresolved = journal_.unresolved();
  if (!unresolved) co_return;
  auto log = subsystem_logger("scheduler");
  for (auto record : *unresolved) {
    auto job = jobs_.get(record.job_id);
    if (!job || !*job || !is_terminal((*job)->state)) continue;
    Job ended = **job;
    auto found = co_await dispatcher_.adopt(as_run(ended), record.region);
    if (!found) {
      log->warn("job {}: cannot look for a remote run left by a crash in {}: {}", ended.id,
                record.region, found.error().message);
      continue;
    }
    record.updated_at = now;
    record.status = DispatchStatus::abandoned;
    record.detail = "the job ended before the dispatch was confirmed";
    if (*found) {
      ended.remote_name = (*found)->remote_name;
      ended.region = record.region;
      log->warn("job {} is {} but {} runs for it in {}: cancelling it", ended.id,
                to_string(ended.state), (*found)->remote_name, record.region);
      auto cancelled = co_await dispatcher_.cancel(as_run(ended));
      if (!cancelled) {
        log->error("job {}: cannot cancel {}: {}", ended.id, (*found)->remote_name,
                   cancelled.error().message);
        continue;  // stays unresolved: tried again next cycle
      }
      record.remote_name = (*found)->remote_name;
      record.detail += "; its remote run was cancelled";
      (void)jobs_.update(ended, event_for(ended, now, "cancel",
                                          "stopped " + (*found)->remote_name +
                                              ", created before a crash for this ended job"));
    }
    (void)journal_.update(record);
  }
}

void Scheduler::mark_running(Job& job, const std::string& region, const DispatchStarted& started,
                             TimePoint now, const std::string& message) {
  job.state = JobState::running;
  job.region = region;
  job.remote_name = started.remote_name;
  if (job.segments.size() > 1) {
    // A later segment: the job started with its first.
    job.segments.back().remote_name = started.remote_name;
  } else {
    job.started_at = started.started_at.value_or(job.started_at.value_or(now));
    if (!job.segments.empty()) job.segments.back().remote_name = started.remote_name;
  }
  job.updated_at = now;
  auto updated = jobs_.update(job, event_for(job, now, "state", message));
  if (!updated) {
    subsystem_logger("scheduler")
        ->error("job {}: cannot record the start: {}", job.id, to_string(updated.error()));
  }
}

asio::awaitable<void> Scheduler::run_cycle() {
  running_cycle_ = true;
  ++cycles_;
  const auto cycle_started = std::chrono::steady_clock::now();
  const TimePoint now = clock_.now();
  next_planned_start_.reset();
  levers_ = lever_context(config_);
  if (errors_) errors_->refresh(config_, readings_, now);
  fill_late_accounting(now);

  for (auto& job : jobs_in(JobState::dispatching))
    co_await reconcile(std::move(job), now);
  co_await stop_orphans(now);
  for (auto& job : jobs_in(JobState::running))
    co_await follow(std::move(job), now);

  // Summaries: planning needs no run section, and whole specs may be large.
  auto queued = jobs_in(JobState::queued, /*summary=*/true);
  std::erase_if(queued, [&](Job& job) { return !has_configured_region(job, now); });
  if (!queued.empty()) {
    RunningCounts running;
    for (JobState state : {JobState::dispatching, JobState::running}) {
      for (const auto& job : jobs_in(state, /*summary=*/true)) {
        if (job.region) ++running[*job.region];
      }
    }
    const auto planning_started = std::chrono::steady_clock::now();
    std::vector<PlannerJob> planner_jobs;
    std::vector<std::vector<JobOption>> options;  // per job: its hardware options' regions
    planner_jobs.reserve(queued.size());
    options.reserve(queued.size());
    for (const auto& job : queued) {
      options.push_back(job_options(job, levers_));
      planner_jobs.push_back(planner_job(job, options.back(), now));
    }
    const PlanningContext context(current_series(now));
    auto decisions = plan_all(now, planner_jobs, context, running, settings());
    for (const auto& d : decisions) {
      if (d.action == PlanAction::hold && d.start && *d.start > now &&
          (!next_planned_start_ || *d.start < *next_planned_start_)) {
        next_planned_start_ = d.start;
      }
    }
    for (std::size_t i = 0; i < decisions.size(); ++i)
      explain_exclusions(queued[i], options[i], decisions[i], now);
    replan_seconds_.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - planning_started).count());
    auto turn_started = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < decisions.size(); ++i) {
      if (stopped_) break;
      if (decisions[i].action == PlanAction::dispatch) {
        co_await dispatch(std::move(queued[i]), decisions[i], now);
      } else {
        record_hold(queued[i], decisions[i], now);
      }
      // Recording decisions writes to the database: a long queue gives the loop back now and
      // then so that API requests are answered meanwhile (the jobs' updates are conditional on
      // their state, so a cancel that comes in between wins).
      if (std::chrono::steady_clock::now() - turn_started > kLoopTurn) {
        co_await asio::post(executor_, asio::use_awaitable);
        turn_started = std::chrono::steady_clock::now();
      }
    }
  }
  cycle_seconds_.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - cycle_started).count());
  running_cycle_ = false;
}

bool Scheduler::has_configured_region(Job& job, TimePoint now) {
  const bool any = std::any_of(job.regions.begin(), job.regions.end(), [&](const auto& region) {
    return config_.find_region(region) != nullptr;
  });
  if (any) {
    regionless_.erase(job.id);
    return true;
  }
  auto log = subsystem_logger("scheduler");
  const std::string regions = fmt::format("{}", fmt::join(job.regions, ", "));
  if (now >= job.deadline) {
    const std::string message =
        fmt::format("deadline {} passed while none of its regions ({}) was configured",
                    format_rfc3339(job.deadline), regions);
    ++deadline_missed_;
    auto updated =
        jobs_.update_if(job, JobState::queued, event_for(job, now, "deadline_missed", message));
    note_storage(updated);
    if (updated) finish(job, JobState::failed, now, message, now);
    regionless_.erase(job.id);
    return false;
  }
  if (regionless_.insert(job.id).second) {
    const std::string message = fmt::format(
        "held: none of its regions ({}) is configured any more (removed by a reload?); it waits "
        "for them to return and fails at its deadline {}",
        regions, format_rfc3339(job.deadline));
    log->warn("job {}: {}", job.id, message);
    note_storage(jobs_.update_if(job, JobState::queued,
                                 event_for(job, now, "regions_unavailable", message)));
  }
  return false;
}

void Scheduler::record_hold(Job& job, const PlanDecision& decision, TimePoint now) {
  auto log = subsystem_logger("scheduler");
  const TimePoint latest_start =
      job.deadline - next_run_time(job) - config_.scheduler.dispatch_slack;
  if (now >= latest_start && deadline_reported_.insert(job.id).second) {
    // Held past the last start that finishes in time: the deadline is lost. The job stays
    // queued and starts as soon as a region can take it (the planner's deadline fallback).
    ++deadline_missed_;
    const std::string message = fmt::format(
        "cannot finish by its deadline {}: still queued after its latest start {} ({}); it "
        "starts as soon as a region can take it",
        format_rfc3339(job.deadline), format_rfc3339(latest_start), describe(decision));
    log->warn("job {}: deadline missed: {}", job.id, message);
    note_storage(
        jobs_.update_if(job, JobState::queued,
                        event_for(job, now, "deadline_missed", message, decision_json(decision))));
  }
  // The job keeps its latest exclusions (the job JSON shows them).
  const bool exclusions_changed = job.excluded != decision.excluded;
  const bool changed = job.planned_start != decision.start || exclusions_changed;
  if (!changed) {
    log->debug("{}", format_decision(decision));
    return;
  }
  log->info("{}", format_decision(decision));
  if (exclusions_changed) job.excluded = decision.excluded;
  job.planned_start = decision.start;
  job.updated_at = now;
  const std::string message = decision.start ? fmt::format("held: best window {} in {} ({})",
                                                           format_rfc3339(*decision.start),
                                                           decision.region, decision.reason)
                                             : "held: " + decision.reason;
  auto updated = jobs_.update_if(job, JobState::queued,
                                 event_for(job, now, "planned", message, decision_json(decision)));
  if (!updated && !updated.error().is(errc::kConflict)) {
    log->error("job {}: cannot record plan: {}", job.id, to_string(updated.error()));
  }
  note_storage(updated);
}

asio::awaitable<void> Scheduler::dispatch(Job job, PlanDecision decision, TimePoint now) {
  auto log = subsystem_logger("scheduler");
  if (job.spec_is_summary) {
    // The target needs the whole spec (container, command, env): read it now, for this job only.
    auto full = jobs_.get(job.id);
    if (!full) {
      if (full.error().is(errc::kStorageCorrupt)) {
        quarantine(UnreadableJob{job.id, full.error().message});
      } else {
        log->error("job {}: cannot read its spec, not dispatching: {}", job.id,
                   to_string(full.error()));
      }
      co_return;
    }
    if (!*full || (*full)->state != JobState::queued) co_return;  // cancelled meanwhile
    Job whole = std::move(**full);
    whole.planned_start = job.planned_start;
    job = std::move(whole);
  }
  log->info("{}", format_decision(decision));
  const std::string region = decision.region.empty() ? job.regions.front() : decision.region;
  if (job.segments.empty() && decision.alternative != job.alternative) {
    // The hardware chosen is recorded with the dispatch, before anything is created, so that
    // a crash reconciles (and accounts) the run on the hardware it asked for.
    job.alternative = decision.alternative;
    job.power_watts = job.alternative == 0
                          ? derive_power_watts(job.spec, AcceleratorTable::builtin())
                          : derive_power_watts(with_alternative(job.spec, job.alternative),
                                               AcceleratorTable::builtin());
  }

  auto previous = journal_.for_job(job.id);
  DispatchRecord record;
  record.job_id = job.id;
  record.attempt = previous ? static_cast<int>(previous->size()) + 1 : 1;
  record.target = std::string(dispatcher_.target());
  record.region = region;
  record.created_at = now;
  record.updated_at = now;
  if (job.spec.interruptible) {
    JobSegment segment;
    segment.n = static_cast<int>(job.segments.size()) + 1;
    segment.region = region;
    segment.start = now;
    segment.end = decision.end.value_or(now + next_run_time(job));
    job.segments.push_back(std::move(segment));
    record.segment = job.segments.back().n;
  }
  if (auto intent = journal_.record_intent(record); !intent) {
    log->error("job {}: cannot journal the dispatch intent, not dispatching: {}", job.id,
               to_string(intent.error()));
    co_return;
  }

  job.state = JobState::dispatching;
  job.region = region;
  job.planned_start = now;
  job.updated_at = now;
  if (decision.score) job.planned_score = *decision.score;
  job.excluded = decision.excluded;
  std::string what = fmt::format("dispatching to {} in {}", dispatcher_.target(), region);
  if (!job.segments.empty()) {
    what += fmt::format(" (segment {} until {})", job.segments.back().n,
                        format_rfc3339(job.segments.back().end));
  }
  auto updated =
      jobs_.update_if(job, JobState::queued,
                      event_for(job, now, "dispatch", fmt::format("{}: {}", what, decision.reason),
                                decision_json(decision)));
  note_storage(updated);
  if (!updated) {
    // The intent stays open with nothing created: stop_orphans or the next attempt settles it.
    record.status = DispatchStatus::abandoned;
    record.detail = "not dispatched: " + updated.error().message;
    (void)journal_.update(record);
    if (!updated.error().is(errc::kConflict)) {
      log->error("job {}: cannot record dispatch: {}", job.id, to_string(updated.error()));
    }
    co_return;
  }
  if (may_dispatch && !may_dispatch()) {
    log->error(
        "job {}: not dispatching: this instance no longer holds the leader lease; the "
        "next leader reconciles the open intent",
        job.id);
    co_return;
  }
  ++dispatches_;

  auto started = co_await dispatcher_.create(as_run(job), region);
  const TimePoint after = clock_.now();
  // A cancel may have arrived while the create call was under way.
  auto current = jobs_.get(job.id);
  const bool cancelled = current && *current && (*current)->state == JobState::cancelled;

  if (!started) {
    record.status = DispatchStatus::failed;
    record.updated_at = after;
    record.detail = started.error().message;
    const auto& code = started.error().code;
    const bool unavailable = started.error().is(errc::kRegionUnavailable);
    const bool retry = started.error().is(errc::kRetry) || unavailable;
    ++dispatch_outcomes_[{record.target, retry ? "retry" : "failed"}];
    (void)journal_.update(record);
    if (cancelled) co_return;
    if (!job.segments.empty() && retry) job.segments.pop_back();  // it never ran
    if (unavailable && !job.segments.empty()) {
      // A later segment must run where the checkpoint is: try the same region again later.
      requeue(job, after, "dispatch_failed",
              fmt::format("{} refused by {} in {} ({}); segment {} waits for {} (its checkpoint "
                          "is there)",
                          code, dispatcher_.target(), region, started.error().message,
                          job.segments.size() + 1, region));
    } else if (unavailable) {
      const auto until = cool_down(job, region, after);
      requeue(job, after, "dispatch_failed",
              fmt::format("{} refused by {} in {} ({}); {} avoided for this job's accelerator "
                          "until {}, trying the next-best region",
                          code, dispatcher_.target(), region, started.error().message, region,
                          format_rfc3339(until)));
      wake();
    } else if (retry) {
      requeue(job, after, "dispatch_failed",
              fmt::format("{} in {}: {}", code, region, started.error().message));
    } else {
      log->error("job {}: dispatch to {} failed: {}", job.id, region, started.error().message);
      finish(job, JobState::failed, after, started.error().message, after);
    }
    co_return;
  }

  ++dispatch_outcomes_[{record.target, "created"}];
  record.status = DispatchStatus::created;
  record.updated_at = after;
  record.remote_name = started->remote_name;
  (void)journal_.update(record);
  if (cancelled) {
    Job cancelled_job = **current;
    cancelled_job.remote_name = started->remote_name;
    cancelled_job.started_at = started->started_at.value_or(after);
    (void)jobs_.update(cancelled_job,
                       event_for(cancelled_job, after, "cancel",
                                 "cancelled while dispatching: stopping " + started->remote_name));
    co_await dispatcher_.cancel(as_run(cancelled_job));
    co_return;
  }
  log->info("job {}: running in {} as {}", job.id, region, started->remote_name);
  mark_running(job, region, *started, after,
               fmt::format("running in {} as {}", region, started->remote_name));
}

TimePoint Scheduler::cool_down(const Job& job, const std::string& region, TimePoint now) {
  const TimePoint until = now + kRegionCooldown;
  cooldowns_[{region, accelerator_of(job)}] = until;
  return until;
}

void Scheduler::requeue(Job& job, TimePoint now, const std::string& type,
                        const std::string& message) {
  subsystem_logger("scheduler")->warn("job {}: {}", job.id, message);
  job.state = JobState::queued;
  job.remote_name.reset();
  if (job.segments.empty()) {
    job.region.reset();
    job.started_at.reset();
  }
  job.updated_at = now;
  auto updated = jobs_.update(job, event_for(job, now, type, message));
  if (!updated) {
    subsystem_logger("scheduler")
        ->error("job {}: cannot requeue: {}", job.id, to_string(updated.error()));
  }
}

asio::awaitable<void> Scheduler::follow(Job job, TimePoint now) {
  if (!job.segments.empty() && job.segments.back().state == SegmentState::running &&
      now > job.segments.back().end + kSegmentOverrun) {
    job = co_await stop_segment(std::move(job), now);
  }
  auto status = co_await dispatcher_.poll(as_run(job));
  if (!status) {
    subsystem_logger("scheduler")
        ->warn("job {}: cannot poll {}: {}", job.id, job.remote_name.value_or("?"),
               status.error().message);
    co_return;
  }
  if (!is_terminal(status->state)) co_return;
  // A cancel may have been recorded while the poll was under way: it wins.
  auto current = jobs_.get(job.id);
  if (!current || !*current || (*current)->state != JobState::running) co_return;
  job = **current;
  if (status->region_unavailable && job.region) {
    // Quota or capacity ran out after the create: the region, not the job, is at fault.
    const std::string region = *job.region;
    if (auto records = journal_.for_job(job.id)) {
      for (auto record : *records) {
        if (record.remote_name != job.remote_name) continue;
        record.status = DispatchStatus::abandoned;
        record.detail = "failed for lack of quota or capacity: " + status->message;
        record.updated_at = now;
        (void)journal_.update(record);
      }
    }
    if (job.segments.size() > 1) {
      // A later segment never got to run; it must run where the checkpoint is: same region,
      // later.
      job.segments.pop_back();
      requeue(job, now, "dispatch_failed",
              fmt::format("{} failed in {} for lack of quota or capacity ({}); segment {} waits "
                          "for {} (its checkpoint is there)",
                          job.remote_name.value_or("?"), region, status->message,
                          job.segments.size() + 1, region));
      co_return;
    }
    job.segments.clear();  // the first segment never ran: the region is not fixed yet
    const auto until = cool_down(job, region, now);
    requeue(job, now, "dispatch_failed",
            fmt::format("{} failed in {} for lack of quota or capacity ({}); {} avoided for this "
                        "job's accelerator until {}, trying the next-best region",
                        job.remote_name.value_or("?"), region, status->message, region,
                        format_rfc3339(until)));
    wake();
    co_return;
  }
  if (!job.segments.empty()) {
    end_segment(job, *status, now);
    co_return;
  }
  if (status->started_at) job.started_at = status->started_at;
  finish(job, status->state, status->finished_at.value_or(now), status->message, now);
}

asio::awaitable<Job> Scheduler::stop_segment(Job job, TimePoint now) {
  // The trainer was told the segment's end and did not stop: stop it (a Vertex AI cancel, or
  // SIGTERM then SIGKILL locally). Recorded first, so that a restart knows the end was ours.
  auto& segment = job.segments.back();
  segment.state = SegmentState::stopping;
  job.updated_at = now;
  const std::string message = fmt::format(
      "segment {} overran its end {} by more than {}: stopping {}", segment.n,
      format_rfc3339(segment.end), format_duration(kSegmentOverrun), job.remote_name.value_or("?"));
  subsystem_logger("scheduler")->warn("job {}: {}", job.id, message);
  auto updated = jobs_.update_if(job, JobState::running, event_for(job, now, "segment", message));
  note_storage(updated);
  if (!updated) {
    segment.state = SegmentState::running;  // not recorded: not stopped either
    co_return job;
  }
  auto stopped = co_await dispatcher_.cancel(as_run(job));
  if (!stopped) {
    subsystem_logger("scheduler")
        ->error("job {}: cannot stop segment {}: {}", job.id, segment.n, stopped.error().message);
  }
  co_return job;
}

void Scheduler::end_segment(Job& job, const RemoteStatus& status, TimePoint now) {
  auto& segment = job.segments.back();
  // The target's end time when it is plausible; a clock of the target's behind the segment's
  // start (or ahead of ours) would count the work wrong, and what is left is planned from it.
  TimePoint ended_at = now;
  if (status.finished_at && *status.finished_at >= segment.start && *status.finished_at <= now) {
    ended_at = *status.finished_at;
  }
  segment.finished_at = ended_at;
  const bool ours = segment.state == SegmentState::stopping;
  const int allowed = job.spec.interruptible ? job.spec.interruptible->max_segments : 1;
  if (status.state == JobState::succeeded && status.complete) {
    segment.state = SegmentState::complete;
    finish(job, JobState::succeeded, ended_at, "", now);
    return;
  }
  if (status.state == JobState::succeeded || (status.state == JobState::cancelled && ours)) {
    segment.state = SegmentState::ended;
    if (static_cast<int>(job.segments.size()) >= allowed) {
      finish(job, JobState::failed, ended_at,
             fmt::format("segment {} of {} ended without the COMPLETE marker in its checkpoint "
                         "dir; no segment is left",
                         segment.n, allowed),
             now);
      return;
    }
    // The trainer checkpointed: the rest is a new, shorter problem for the planner.
    job.state = JobState::queued;
    job.remote_name.reset();
    job.planned_start.reset();
    job.updated_at = now;
    const std::string message = fmt::format(
        "segment {} ended at {}{}; {} of work left, up to {} more segment(s): re-planning",
        segment.n, format_rfc3339(ended_at), ours ? " (stopped by gridshift)" : "",
        format_duration(remaining_work(job)), allowed - static_cast<int>(job.segments.size()));
    subsystem_logger("scheduler")->info("job {}: {}", job.id, message);
    auto updated = jobs_.update_if(job, JobState::running, event_for(job, now, "segment", message));
    note_storage(updated);
    wake();
    return;
  }
  finish(job, status.state, ended_at, status.message, now);
}

void Scheduler::finish(Job& job, JobState state, TimePoint finished_at, const std::string& message,
                       TimePoint now) {
  if (!job.segments.empty()) {
    auto& segment = job.segments.back();
    if (segment.state == SegmentState::running || segment.state == SegmentState::stopping) {
      segment.state = state == JobState::cancelled ? SegmentState::cancelled
                      : state == JobState::failed  ? SegmentState::failed
                                                   : SegmentState::complete;
      if (!segment.finished_at) segment.finished_at = finished_at;
    }
  }
  job.state = state;
  job.finished_at = finished_at;
  job.updated_at = now;
  if (state == JobState::failed) job.error = scrub_secrets(message);
  job.accounting = compute_accounting(job);
  const auto accounting = parse_object(job_accounting_to_json(job));
  std::string summary = fmt::format("{} at {}", to_string(state), format_rfc3339(finished_at));
  if (job.accounting && job.accounting->actual_g) {
    summary += fmt::format(": {} CO2e", format_grams(*job.accounting->actual_g));
    if (const auto& baseline = job.accounting->baseline_g) {
      summary += fmt::format(" instead of {} if started at submission", format_grams(*baseline));
    }
  }
  if (!message.empty()) summary += " (" + message + ")";
  subsystem_logger("scheduler")->info("job {}: {}", job.id, summary);
  if (awaits_readings(job, now)) pending_accounting_.insert(job.id);
  auto updated = jobs_.update(job, event_for(job, now, "state", summary, accounting));
  if (!updated) {
    subsystem_logger("scheduler")
        ->error("job {}: cannot record the end: {}", job.id, to_string(updated.error()));
  }
}

Result<PlanDecision> Scheduler::plan(const Job& job) {
  const TimePoint now = clock_.now();
  levers_ = lever_context(config_);
  RunningCounts running;
  for (JobState state : {JobState::dispatching, JobState::running}) {
    for (const auto& j : jobs_in(state)) {
      if (j.region) ++running[*j.region];
    }
  }
  const PlanningContext context(current_series(now));
  const auto options = job_options(job, levers_);
  auto decision = plan_one(now, planner_job(job, options, now), context, running, settings());
  explain_exclusions(job, options, decision, now);
  return decision;
}

nlohmann::json Scheduler::plan_to_json(const Job& submitted, const PlanDecision& decision) const {
  // The figures are those of the option chosen (its run time and power).
  Job job = submitted;
  if (decision.alternative != 0) {
    job.spec = with_alternative(submitted.spec, decision.alternative);
    job.power_watts = derive_power_watts(job.spec, AcceleratorTable::builtin());
  }
  auto out = decision_json(decision);
  out["name"] = job.spec.name;
  out["duration"] = format_duration(job.spec.duration);
  out["deadline"] = format_rfc3339(job.deadline);
  out["power_watts"] = job.power_watts;
  const auto& levers = levers_;  // plan() refreshed them for this answer
  if (!decision.region.empty()) {
    const auto cost = cost_usd(job.spec, decision.region, job.spec.duration, levers);
    out["cost_usd"] = cost ? nlohmann::json(*cost) : nlohmann::json();
    const auto water = water_l(job.power_watts, job.spec.duration, decision.region, levers);
    out["water_l"] = water ? nlohmann::json(*water) : nlohmann::json();
    const auto embodied = embodied_g(job.spec, job.spec.duration, levers);
    out["embodied_g"] = embodied ? nlohmann::json(*embodied) : nlohmann::json();
  }
  out["mean_intensity"] =
      decision.mean_intensity ? nlohmann::json(*decision.mean_intensity) : nlohmann::json();
  nlohmann::json emissions;
  if (!decision.segments.empty()) {
    // Interruptible: each segment at its own score, the resumes' overhead included.
    double grams = 0;
    for (const auto& w : decision.segments) {
      grams += emissions_g(job.power_watts, std::chrono::duration_cast<Seconds>(w.end - w.start),
                           w.score);
    }
    emissions = grams;
  } else if (decision.score) {
    emissions = emissions_g(job.power_watts, job.spec.duration, *decision.score);
  }
  out["emissions_g"] = emissions;
  nlohmann::json baseline;
  if (decision.baseline) {
    baseline = emissions_g(job.power_watts, job.spec.duration, decision.baseline->score);
  }
  out["baseline_g"] = baseline;
  out["baseline_region"] =
      decision.baseline ? nlohmann::json(decision.baseline->region) : nlohmann::json();
  out["reason"] = describe(decision);
  out["reason_code"] = to_string(decision.reason_code);
  if (emissions.is_number() && baseline.is_number() && baseline.get<double>() > 0) {
    out["saved_g"] = baseline.get<double>() - emissions.get<double>();
    out["savings"] = 1.0 - emissions.get<double>() / baseline.get<double>();
  } else {
    out["saved_g"] = nullptr;
    out["savings"] = nullptr;
  }
  return out;
}

void Scheduler::cancel_remote(const Job& job) {
  if (!job.remote_name && job.segments.empty()) return;
  spawn(executor_, cancel_in_background(job), "scheduler", "remote cancel", OnFailure::log);
}

asio::awaitable<void> Scheduler::cancel_in_background(Job job) {
  auto result = co_await dispatcher_.cancel(as_run(job));
  if (!result) {
    subsystem_logger("scheduler")
        ->error("job {}: cannot cancel {}: {}", job.id, job.remote_name.value_or("?"),
                result.error().message);
  }
}

}  // namespace gridshift
