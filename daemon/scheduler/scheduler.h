// The scheduler loop (docs/scheduling.md): every `scheduler.tick`, and whenever woken (a new job,
// new readings, a reload), it follows running jobs to their end, re-plans every queued job with the
// pure planner over the cached readings, and dispatches the jobs whose time has come. One log
// line per decision with its reason. Runs on the daemon's io_context thread; the config, stores,
// clock and dispatcher are owned by the Daemon and outlive it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/config_slices.h"
#include "common/metrics.h"
#include "core/planner.h"
#include "core/ports/clock.h"
#include "core/ports/dispatch_journal.h"
#include "core/ports/dispatcher.h"
#include "core/ports/job_store.h"
#include "core/ports/reading_store.h"
#include "daemon/scheduler/forecast_errors.h"

namespace gridshift {

class Scheduler {
 public:
  Scheduler(boost::asio::any_io_executor executor, const ServiceConfig& config, JobStore& jobs,
            ReadingStore& readings, DispatchJournal& journal, const Clock& clock,
            Dispatcher& dispatcher);

  // Forecasts are corrected with these figures, which each cycle refreshes (hourly). They must
  // outlive the scheduler. Without them forecasts are used as the feeds gave them.
  void use_forecast_errors(ForecastErrors& errors) { errors_ = &errors; }

  // Asked right before each create call: false stops the dispatch there (its intent stays
  // open for the next leader to reconcile). Unset: always true (one daemon, no lease).
  std::function<bool()> may_dispatch;

  // Spawns the loop; each cycle first reconciles jobs a crash left in `dispatching`.
  void start();
  void stop();
  // Re-plan as soon as the current cycle (if any) is over.
  void wake();

  // One cycle: follow running jobs, re-plan queued ones, dispatch. Public for tests.
  boost::asio::awaitable<void> run_cycle();

  // What the planner would do with `job` now (POST /v1/plan); nothing is stored.
  Result<PlanDecision> plan(const Job& job);
  // The JSON answer of POST /v1/plan for a plan decision of `job`.
  nlohmann::json plan_to_json(const Job& job, const PlanDecision& decision) const;

  // Asks the dispatcher to stop a cancelled job's remote run (in the background).
  void cancel_remote(const Job& job);

  // The series the planner sees now, one per configured region with fresh data.
  std::vector<RegionSeries> current_series(TimePoint now);

  std::uint64_t cycles() const { return cycles_; }
  std::uint64_t dispatches() const { return dispatches_; }
  // Dispatch attempts by (target, outcome): "created", "failed" (the job failed) or "retry"
  // (back to the queue: the target said retry or region_unavailable).
  const std::map<std::pair<std::string, std::string>, std::uint64_t>& dispatch_outcomes() const {
    return dispatch_outcomes_;
  }
  // Seconds each cycle spent planning its queued jobs (cycles with an empty queue plan nothing).
  const Histogram& replan_seconds() const { return replan_seconds_; }
  // Seconds each whole cycle took: reconcile, follow, list, plan and record (yields included).
  const Histogram& cycle_seconds() const { return cycle_seconds_; }
  // Queued jobs that could no longer start in time to meet their deadline (docs/scheduling.md).
  std::uint64_t deadline_missed() const { return deadline_missed_; }
  // The earliest planned start of a job the last cycle held: the loop wakes then when it comes
  // before the next tick.
  std::optional<TimePoint> next_planned_start() const { return next_planned_start_; }
  // What makes health `degraded` on the scheduler's side: quarantined jobs, failing writes.
  std::vector<std::string> problems() const;

 private:
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<void> follow(Job job, TimePoint now);
  // Interruptible jobs: stops a segment that overran its end; records how a segment ended
  // (the job succeeds on COMPLETE, else goes back to the queue for its next segment).
  boost::asio::awaitable<Job> stop_segment(Job job, TimePoint now);
  void end_segment(Job& job, const RemoteStatus& status, TimePoint now);
  boost::asio::awaitable<void> dispatch(Job job, PlanDecision decision, TimePoint now);
  boost::asio::awaitable<void> cancel_in_background(Job job);
  void record_hold(Job& job, const PlanDecision& decision, TimePoint now);
  void finish(Job& job, JobState state, TimePoint finished_at, const std::string& message,
              TimePoint now);
  std::optional<Accounting> compute_accounting(const Job& job) const;
  // Whether an ended job's accounting still lacks figures that late readings may fill in
  // (within max_staleness + 1 h of its end).
  bool awaits_readings(const Job& job, TimePoint now) const;
  void fill_late_accounting(TimePoint now);
  std::vector<Job> jobs_in(JobState state, bool summary = false);
  // Fails a job whose stored record cannot be read, so that it never blocks the others.
  void quarantine(const UnreadableJob& bad);
  // Remembers whether the scheduler's last database write failed (for health).
  void note_storage(const Status& write);
  // False (after one event saying so, and failing it at its deadline) when none of the job's
  // regions is configured any more.
  bool has_configured_region(Job& job, TimePoint now);
  // A job left `dispatching` (crash): adopt what the target made, or requeue it.
  boost::asio::awaitable<void> reconcile(Job job, TimePoint now);
  // Stops remote runs a crash left behind for jobs that have since ended (cancelled).
  boost::asio::awaitable<void> stop_orphans(TimePoint now);
  void mark_running(Job& job, const std::string& region, const DispatchStarted& started,
                    TimePoint now, const std::string& message);
  void requeue(Job& job, TimePoint now, const std::string& type, const std::string& message);
  // Avoid `region` for the job's accelerator for a while; returns until when.
  TimePoint cool_down(const Job& job, const std::string& region, TimePoint now);
  PlannerSettings settings() const;
  // The planner's view of `job`: candidate regions still cooling down, without the option's
  // accelerator or over its max_cost_usd are left out; each hardware alternative is an option.
  // `options` is job_options(job, levers_), computed once per job and re-plan.
  PlannerJob planner_job(const Job& job, const std::vector<JobOption>& options,
                         TimePoint now) const;
  // Whether `region` is cooling down for `accelerator` at `now`.
  bool cooling_down(const std::string& region, const std::string& accelerator, TimePoint now) const;
  // Adds to the decision's exclusions the candidates planner_job() left out, and names the
  // regions that are not configured.
  void explain_exclusions(const Job& job, const std::vector<JobOption>& options,
                          PlanDecision& decision, TimePoint now) const;
  RegionSeries hindsight_series(const RegionConfig& region, TimePoint from, TimePoint to) const;

  boost::asio::any_io_executor executor_;
  const ServiceConfig& config_;
  JobStore& jobs_;
  ReadingStore& readings_;
  DispatchJournal& journal_;
  const Clock& clock_;
  Dispatcher& dispatcher_;
  ForecastErrors* errors_ = nullptr;
  boost::asio::steady_timer timer_;
  bool running_cycle_ = false;
  bool wake_pending_ = false;
  bool stopped_ = false;
  std::uint64_t cycles_ = 0;
  std::uint64_t dispatches_ = 0;
  std::map<std::pair<std::string, std::string>, std::uint64_t> dispatch_outcomes_;
  // (region, accelerator type) -> until when it is avoided after a quota or capacity refusal.
  std::map<std::pair<std::string, std::string>, TimePoint> cooldowns_;
  Histogram replan_seconds_{
      {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  Histogram cycle_seconds_{{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}};
  std::uint64_t deadline_missed_ = 0;
  std::set<std::string> deadline_reported_;         // jobs whose missed deadline has an event
  std::set<std::string> regionless_;                // held jobs none of whose regions exists
  std::map<std::string, std::string> quarantined_;  // job id -> why its record is unreadable
  std::string storage_problem_;                     // the last failed write's message, "" when ok
  std::set<std::string> pending_accounting_;        // ended jobs whose figures await readings
  bool pending_scanned_ = false;
  std::optional<TimePoint> next_planned_start_;  // the earliest planned start of a held job
  LeverContext levers_;  // the config's levers, rebuilt each cycle (a reload may change them)
};

// A PlannerJob from a stored job's resolved fields (as its chosen alternative runs it).
PlannerJob to_planner_job(const Job& job);

}  // namespace gridshift
