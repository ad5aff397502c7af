// The scheduler loop in process: MemoryStore, ManualClock and the dry-run target. Each test
// drives run_cycle() on an io_context, so nothing waits on real time.
#include "daemon/scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "core/accounting.h"
#include "daemon/config/config.h"
#include "daemon/feeds/trace_file/source.h"
#include "deploy/dry_run/dry_run_target.h"
#include "storage/memory/memory_store.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;

const TimePoint kStart =
    TimePoint(std::chrono::sys_days(std::chrono::year(2026) / 11 / 26)) + std::chrono::hours(18);
constexpr Seconds kHour{3600};

Reading actual(const std::string& location, TimePoint at, double value) {
  Reading r;
  r.feed = "grid";
  r.location = location;
  r.kind = ReadingKind::actual;
  r.timestamp = at;
  r.issued_at = at;
  r.fetched_at = at;
  r.step = kHour;
  r.gco2_per_kwh = value;
  return r;
}

Reading forecast(const std::string& location, TimePoint issued, TimePoint at, double value) {
  Reading r = actual(location, at, value);
  r.kind = ReadingKind::forecast;
  r.issued_at = issued;
  r.fetched_at = issued;
  return r;
}

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() : clock_(kStart), target_(clock_) {
    FeedConfig feed;
    feed.name = "grid";
    feed.schema = trace_file_feed().schema;
    config_.feeds.push_back(feed);
    for (const char* name : {"europe-west2", "europe-west9"}) {
      RegionConfig region;
      region.name = name;
      region.location = name;
      region.feeds = {"grid"};
      region.pue = 1.0;
      config_.regions.push_back(region);
    }
    config_.scheduler.tick = Seconds(60);
    scheduler_ = std::make_unique<Scheduler>(io_.get_executor(), config_, store_, store_, store_,
                                             clock_, target_);
  }

  // Tonight in europe-west2: 300 g/kWh now, a clean dip of 100 from +2 h to +4 h.
  void store_evening(const std::string& location, double dip = 100) {
    std::vector<Reading> readings{actual(location, kStart, 300)};
    for (int h = 1; h < 12; ++h) {
      const double value = (h >= 2 && h < 4) ? dip : 300;
      readings.push_back(forecast(location, kStart, kStart + h * kHour, value));
    }
    ASSERT_TRUE(store_.upsert(readings));
  }

  Job submit(const std::string& id, Policy policy = Policy::best_window, Seconds duration = kHour,
             Seconds deadline_in = 10 * kHour,
             std::vector<std::string> regions = {"europe-west2"}) {
    Job job;
    job.id = id;
    job.spec.name = id;
    job.spec.duration = duration;
    job.spec.policy = policy;
    job.submitted_at = clock_.now();
    job.updated_at = clock_.now();
    job.deadline = clock_.now() + deadline_in;
    job.regions = std::move(regions);
    job.power_watts = 1000;
    JobEvent event;
    event.job_id = id;
    event.at = clock_.now();
    event.type = "submitted";
    auto inserted = store_.insert(job, event);
    EXPECT_TRUE(inserted) << (inserted ? "" : inserted.error().message);
    return job;
  }

  void cycle() {
    bool failed = false;
    asio::co_spawn(io_, scheduler_->run_cycle(), [&](std::exception_ptr e) { failed = !!e; });
    io_.restart();
    io_.run();
    ASSERT_FALSE(failed);
  }

  Job load(const std::string& id) {
    auto job = store_.get(id);
    EXPECT_TRUE(job && *job);
    return **job;
  }

  std::vector<std::string> event_types(const std::string& id) {
    std::vector<std::string> out;
    auto events = store_.events(id);
    if (events) {
      for (const auto& e : *events)
        out.push_back(e.type);
    }
    return out;
  }

  asio::io_context io_;
  Config config_;
  MemoryStore store_;
  ManualClock clock_;
  DryRunTarget target_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, HoldsForTheCleanWindowThenRunsItAndAccountsForIt) {
  store_evening("europe-west2");
  submit("j-night");
  cycle();
  Job job = load("j-night");
  EXPECT_EQ(job.state, JobState::queued);
  ASSERT_TRUE(job.planned_start);
  EXPECT_EQ(*job.planned_start, kStart + 2 * kHour);
  EXPECT_EQ(event_types("j-night").back(), "planned");

  // A second cycle with the same data records nothing new.
  const auto events_before = event_types("j-night").size();
  cycle();
  EXPECT_EQ(event_types("j-night").size(), events_before);

  // Two hours on, the dip is observed: dispatch.
  clock_.advance(2 * kHour);
  ASSERT_TRUE(store_.upsert(std::vector<Reading>{actual("europe-west2", clock_.now(), 100)}));
  cycle();
  job = load("j-night");
  EXPECT_EQ(job.state, JobState::running);
  EXPECT_EQ(job.region, "europe-west2");
  EXPECT_EQ(job.remote_name, "dry-run/europe-west2/j-night");
  EXPECT_EQ(job.started_at, kStart + 2 * kHour);
  auto journal = store_.for_job("j-night");
  ASSERT_TRUE(journal);
  ASSERT_EQ(journal->size(), 1u);
  EXPECT_EQ((*journal)[0].status, DispatchStatus::created);
  EXPECT_EQ((*journal)[0].target, "dry_run");

  // After its hour the dry run has succeeded; accounting is filled from the observed values.
  clock_.advance(kHour);
  ASSERT_TRUE(store_.upsert(std::vector<Reading>{actual("europe-west2", clock_.now(), 300)}));
  cycle();
  job = load("j-night");
  EXPECT_EQ(job.state, JobState::succeeded);
  EXPECT_EQ(job.finished_at, kStart + 3 * kHour);
  auto accounting = nlohmann::json::parse(job_accounting_to_json(job));
  // 1 kW for 1 h at 100 g/kWh (PUE 1) = 100 g; at submission it was 300 g/kWh = 300 g.
  EXPECT_DOUBLE_EQ(accounting["actual_g"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(accounting["baseline_g"].get<double>(), 300.0);
  EXPECT_NEAR(accounting["savings"].get<double>(), 2.0 / 3.0, 1e-9);
  EXPECT_EQ(accounting["signal"], "average");
}

TEST_F(SchedulerTest, PolicyNowDispatchesAtOnce) {
  store_evening("europe-west2");
  submit("j-now", Policy::now);
  cycle();
  EXPECT_EQ(load("j-now").state, JobState::running);
}

TEST_F(SchedulerTest, AnInstanceThatNoLongerLeadsCreatesNothingAndLeavesTheIntentOpen) {
  store_evening("europe-west2");
  submit("j-fenced", Policy::now);
  scheduler_->may_dispatch = [] { return false; };  // its lease session has ended
  cycle();
  Job job = load("j-fenced");
  EXPECT_EQ(job.state, JobState::dispatching) << "left for the next leader to reconcile";
  EXPECT_FALSE(job.remote_name);
  EXPECT_EQ(scheduler_->dispatches(), 0u);
  auto journal = store_.for_job("j-fenced");
  ASSERT_TRUE(journal);
  ASSERT_EQ(journal->size(), 1u);
  EXPECT_EQ((*journal)[0].status, DispatchStatus::intent);
}

TEST_F(SchedulerTest, PicksTheCleanerRegionWhenBothAreCandidates) {
  store_evening("europe-west2", 100);
  ASSERT_TRUE(store_.upsert(std::vector<Reading>{actual("europe-west9", kStart, 50)}));
  std::vector<Reading> flat;
  for (int h = 1; h < 12; ++h)
    flat.push_back(forecast("europe-west9", kStart, kStart + h * kHour, 50));
  ASSERT_TRUE(store_.upsert(flat));
  submit("j-two", Policy::best_window, kHour, 10 * kHour, {"europe-west2", "europe-west9"});
  cycle();
  Job job = load("j-two");
  EXPECT_EQ(job.state, JobState::running);
  EXPECT_EQ(job.region, "europe-west9");
}

TEST_F(SchedulerTest, WithoutDataTheDeadlineFallbackStartsInTheFirstCandidate) {
  // No readings at all; the deadline leaves no room to wait.
  submit("j-late", Policy::best_window, 2 * kHour, 2 * kHour + Seconds(15 * 60));
  cycle();
  Job job = load("j-late");
  EXPECT_EQ(job.state, JobState::running);
  EXPECT_EQ(job.region, "europe-west2");
}

TEST_F(SchedulerTest, PlanAnswersWithoutStoringAnything) {
  store_evening("europe-west2");
  Job job = submit("j-plan");
  const auto events_before = event_types("j-plan").size();
  auto decision = scheduler_->plan(job);
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->action, PlanAction::hold);
  EXPECT_EQ(decision->start, kStart + 2 * kHour);
  auto answer = scheduler_->plan_to_json(job, *decision);
  EXPECT_DOUBLE_EQ(answer["emissions_g"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(answer["baseline_g"].get<double>(), 300.0);
  EXPECT_EQ(event_types("j-plan").size(), events_before);
  EXPECT_EQ(load("j-plan").state, JobState::queued);
}

TEST_F(SchedulerTest, ACycleRequeuesADryRunLeftDispatching) {
  Job job = submit("j-crash");
  job.state = JobState::dispatching;
  job.region = "europe-west2";
  JobEvent event;
  event.job_id = job.id;
  event.at = clock_.now();
  event.type = "dispatch";
  ASSERT_TRUE(store_.update(job, event));
  DispatchRecord record;
  record.job_id = job.id;
  record.target = "dry_run";
  record.region = "europe-west2";
  record.created_at = clock_.now();
  record.updated_at = clock_.now();
  ASSERT_TRUE(store_.record_intent(record));

  // Hold the job after the requeue (its not_before is tomorrow) to see the requeue itself.
  job = load("j-crash");
  job.spec.not_before = clock_.now() + 24 * kHour;
  ASSERT_TRUE(store_.update(job, event));
  cycle();
  EXPECT_EQ(load("j-crash").state, JobState::queued);
  auto journal = store_.for_job("j-crash");
  ASSERT_TRUE(journal);
  EXPECT_EQ((*journal)[0].status, DispatchStatus::abandoned);
  auto unresolved = store_.unresolved();
  ASSERT_TRUE(unresolved);
  EXPECT_TRUE(unresolved->empty());
}

TEST_F(SchedulerTest, CapPerRegionMakesTheSecondJobWait) {
  config_.scheduler.max_concurrent_dispatches = 1;
  store_evening("europe-west2");
  submit("j-a", Policy::now);
  submit("j-b", Policy::now);
  cycle();
  int running = 0;
  for (const char* id : {"j-a", "j-b"})
    running += load(id).state == JobState::running ? 1 : 0;
  EXPECT_EQ(running, 1);
}

TEST_F(SchedulerTest, AYearlyAverageCountsAsFreshAllYear) {
  // The bundled GCP dataset: one reading spanning the year, observed months ago.
  Reading yearly = actual("europe-west2",
                          TimePoint(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1)), 106);
  yearly.signal = SignalType::annual_average;
  yearly.step = Seconds(365LL * 24 * 3600);
  ASSERT_TRUE(store_.upsert(std::vector<Reading>{yearly}));
  submit("j-yearly");
  cycle();
  Job job = load("j-yearly");
  EXPECT_EQ(job.state, JobState::running);  // flat data: the best window starts now
  EXPECT_EQ(job.region, "europe-west2");
}

namespace scripted {

// A dispatch target whose answers the test scripts, per call, to drive the scheduler through
// refusals, stock-outs and crash recovery. Unscripted calls succeed.
class ScriptedTarget final : public Dispatcher {
 public:
  std::string_view target() const override { return "scripted"; }

  asio::awaitable<Result<DispatchStarted>> create(Job job, std::string region) override {
    creates.push_back(region);
    if (!create_answers.empty()) {
      auto answer = create_answers.front();
      create_answers.erase(create_answers.begin());
      co_return answer;
    }
    co_return DispatchStarted{"remote/" + job.id + "/" + region, std::nullopt};
  }
  asio::awaitable<Result<RemoteStatus>> poll(Job) override {
    if (!poll_answers.empty()) {
      auto answer = poll_answers.front();
      poll_answers.erase(poll_answers.begin());
      co_return answer;
    }
    co_return RemoteStatus{};
  }
  asio::awaitable<Status> cancel(Job job) override {
    cancels.push_back(job.remote_name.value_or(""));
    co_return Status{};
  }
  asio::awaitable<Result<std::optional<DispatchStarted>>> adopt(Job, std::string region) override {
    adopts.push_back(region);
    if (!adopt_answers.empty()) {
      auto answer = adopt_answers.front();
      adopt_answers.erase(adopt_answers.begin());
      co_return answer;
    }
    co_return std::optional<DispatchStarted>{};
  }

  std::vector<Result<DispatchStarted>> create_answers;
  std::vector<Result<RemoteStatus>> poll_answers;
  std::vector<Result<std::optional<DispatchStarted>>> adopt_answers;
  std::vector<std::string> creates;
  std::vector<std::string> adopts;
  std::vector<std::string> cancels;
};

class ScriptedSchedulerTest : public SchedulerTest {
 protected:
  ScriptedSchedulerTest() {
    scheduler_ = std::make_unique<Scheduler>(io_.get_executor(), config_, store_, store_, store_,
                                             clock_, target_);
    // europe-west9 (50 g/kWh) is cleaner than europe-west2 (300): the first choice.
    store_evening("europe-west2");
    std::vector<Reading> flat{actual("europe-west9", kStart, 50)};
    for (int h = 1; h < 12; ++h)
      flat.push_back(forecast("europe-west9", kStart, kStart + h * kHour, 50));
    EXPECT_TRUE(store_.upsert(flat));
  }

  // A job a crash left dispatching, with its intent journalled for `region`.
  void left_dispatching(const std::string& id, const std::string& region) {
    Job job = submit(id, Policy::now, kHour, 10 * kHour, {"europe-west9", "europe-west2"});
    job.state = JobState::dispatching;
    job.region = region;
    JobEvent event;
    event.job_id = id;
    event.at = clock_.now();
    event.type = "dispatch";
    ASSERT_TRUE(store_.update(job, event));
    DispatchRecord record;
    record.job_id = id;
    record.target = "scripted";
    record.region = region;
    record.created_at = clock_.now();
    record.updated_at = clock_.now();
    ASSERT_TRUE(store_.record_intent(record));
  }

  std::string messages(const std::string& id) {
    std::string all;
    auto events = store_.events(id);
    if (events) {
      for (const auto& e : *events)
        all += e.type + ": " + e.message + "\n";
    }
    return all;
  }

  ScriptedTarget target_;
};

TEST_F(ScriptedSchedulerTest, AfterACrashWhatTheTargetMadeIsAdoptedNotCreatedAgain) {
  left_dispatching("j-adopt", "europe-west9");
  target_.adopt_answers.push_back(
      std::optional<DispatchStarted>{DispatchStarted{"remote/existing", kStart}});
  cycle();
  const Job job = load("j-adopt");
  EXPECT_EQ(job.state, JobState::running);
  EXPECT_EQ(job.remote_name, "remote/existing");
  EXPECT_EQ(job.region, "europe-west9");
  EXPECT_TRUE(target_.creates.empty());
  EXPECT_EQ(target_.adopts, std::vector<std::string>{"europe-west9"});
  auto journal = store_.for_job("j-adopt");
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->back().status, DispatchStatus::adopted);
  EXPECT_EQ(journal->back().remote_name, "remote/existing");
  EXPECT_NE(messages("j-adopt").find("adopted after restart"), std::string::npos)
      << messages("j-adopt");
}

TEST_F(ScriptedSchedulerTest, ARunLeftByACrashForACancelledJobIsStopped) {
  left_dispatching("j-gone", "europe-west9");
  Job job = load("j-gone");
  job.state = JobState::cancelled;  // cancelled while the create was under way, then a crash
  JobEvent event;
  event.job_id = job.id;
  event.at = clock_.now();
  event.type = "state";
  ASSERT_TRUE(store_.update(job, event));
  target_.adopt_answers.push_back(
      std::optional<DispatchStarted>{DispatchStarted{"remote/orphan", std::nullopt}});
  cycle();
  EXPECT_EQ(target_.cancels, std::vector<std::string>{"remote/orphan"});
  EXPECT_TRUE(target_.creates.empty());
  EXPECT_EQ(load("j-gone").state, JobState::cancelled);
  auto unresolved = store_.unresolved();
  ASSERT_TRUE(unresolved);
  EXPECT_TRUE(unresolved->empty());
  cycle();  // resolved: not looked for again
  EXPECT_EQ(target_.adopts.size(), 1u);
}

TEST_F(ScriptedSchedulerTest, AReconcileThatCannotReachTheTargetKeepsTheJobUntilItCan) {
  left_dispatching("j-wait", "europe-west9");
  target_.adopt_answers.push_back(make_error("retry", "connection refused"));
  cycle();
  EXPECT_EQ(load("j-wait").state, JobState::dispatching);
  EXPECT_TRUE(target_.creates.empty()) << "created without knowing what exists";
  auto unresolved = store_.unresolved();
  ASSERT_TRUE(unresolved);
  EXPECT_EQ(unresolved->size(), 1u);

  cycle();  // the target answers now: nothing exists, so the job is dispatched anew
  EXPECT_EQ(target_.adopts.size(), 2u);
  EXPECT_EQ(target_.creates, std::vector<std::string>{"europe-west9"});
  EXPECT_EQ(load("j-wait").state, JobState::running);
}

TEST_F(ScriptedSchedulerTest, ARegionRefusalMovesTheJobToTheNextBestRegion) {
  submit("j-quota", Policy::now, kHour, 10 * kHour, {"europe-west9", "europe-west2"});
  target_.create_answers.push_back(make_error("region_unavailable", "quota exceeded for T4"));
  cycle();
  EXPECT_EQ(load("j-quota").state, JobState::queued);
  cycle();
  const Job job = load("j-quota");
  EXPECT_EQ(job.state, JobState::running);
  EXPECT_EQ(job.region, "europe-west2");
  EXPECT_EQ(target_.creates, (std::vector<std::string>{"europe-west9", "europe-west2"}));
  const auto all = messages("j-quota");
  EXPECT_NE(all.find("region_unavailable refused by scripted in europe-west9 (quota exceeded for "
                     "T4)"),
            std::string::npos)
      << all;

  // The refusing region is avoided for an hour, then ranked again.
  submit("j-later", Policy::now, kHour, 10 * kHour, {"europe-west9", "europe-west2"});
  cycle();
  EXPECT_EQ(load("j-later").region, "europe-west2");
  clock_.advance(Seconds(3601));
  submit("j-after", Policy::now, kHour, 10 * kHour, {"europe-west9", "europe-west2"});
  cycle();
  EXPECT_EQ(load("j-after").region, "europe-west9");
}

TEST_F(ScriptedSchedulerTest, AStockoutAfterTheCreateRequeuesToTheNextBestRegion) {
  submit("j-stock", Policy::now, kHour, 10 * kHour, {"europe-west9", "europe-west2"});
  cycle();
  ASSERT_EQ(load("j-stock").region, "europe-west9");
  RemoteStatus failed;
  failed.state = JobState::failed;
  failed.message = "Resources are insufficient in region: europe-west9";
  failed.region_unavailable = true;
  target_.poll_answers.push_back(failed);
  cycle();  // follows: the stock-out requeues
  cycle();  // re-plans without europe-west9
  const Job job = load("j-stock");
  EXPECT_EQ(job.state, JobState::running) << messages("j-stock");
  EXPECT_EQ(job.region, "europe-west2");
  EXPECT_EQ(job.remote_name, "remote/j-stock/europe-west2");
  auto journal = store_.for_job("j-stock");
  ASSERT_TRUE(journal);
  ASSERT_EQ(journal->size(), 2u);
  EXPECT_EQ((*journal)[0].status, DispatchStatus::abandoned);
  EXPECT_EQ((*journal)[1].status, DispatchStatus::created);
}

}  // namespace scripted

// ---- missed deadlines are never silent (docs/scheduling.md) ----

TEST_F(SchedulerTest, AJobHeldPastItsLatestStartByTheCapGetsOneDeadlineMissedEvent) {
  config_.scheduler.max_concurrent_dispatches = 1;
  store_evening("europe-west2");
  // Both must start now to finish in time (deadline = duration + dispatch slack); one region
  // takes one job at a time.
  const Seconds tight = kHour + config_.scheduler.dispatch_slack;
  submit("j-first", Policy::best_window, kHour, tight);
  submit("j-late", Policy::best_window, kHour, tight);
  cycle();
  EXPECT_EQ(load("j-first").state, JobState::running);
  EXPECT_EQ(load("j-late").state, JobState::queued);
  auto types = event_types("j-late");
  EXPECT_EQ(std::count(types.begin(), types.end(), "deadline_missed"), 1) << types.size();
  EXPECT_EQ(scheduler_->deadline_missed(), 1u);
  const auto events = *store_.events("j-late");
  const auto missed = std::find_if(events.begin(), events.end(),
                                   [](const JobEvent& e) { return e.type == "deadline_missed"; });
  ASSERT_NE(missed, events.end());
  EXPECT_NE(missed->message.find("cannot finish by its deadline"), std::string::npos)
      << missed->message;
  clock_.advance(std::chrono::minutes(1));
  cycle();
  types = event_types("j-late");
  EXPECT_EQ(std::count(types.begin(), types.end(), "deadline_missed"), 1);
  EXPECT_EQ(scheduler_->deadline_missed(), 1u);
}

TEST_F(SchedulerTest, AJobWhoseRegionsAllDisappearIsToldSoAndFailsAtItsDeadline) {
  store_evening("europe-west9");
  submit("j-gone", Policy::best_window, kHour, 3 * kHour, {"europe-west9"});
  config_.regions.pop_back();  // a reload removed europe-west9
  cycle();
  EXPECT_EQ(load("j-gone").state, JobState::queued);
  cycle();
  auto types = event_types("j-gone");
  EXPECT_EQ(std::count(types.begin(), types.end(), "regions_unavailable"), 1);
  clock_.advance(3 * kHour);
  cycle();
  const Job job = load("j-gone");
  EXPECT_EQ(job.state, JobState::failed);
  EXPECT_NE(job.error.find("none of its regions (europe-west9) was configured"), std::string::npos)
      << job.error;
  types = event_types("j-gone");
  EXPECT_EQ(std::count(types.begin(), types.end(), "deadline_missed"), 1);
  EXPECT_EQ(scheduler_->deadline_missed(), 1u);
}

TEST_F(SchedulerTest, TheWholeCycleIsMeasured) {
  submit("j-one");
  cycle();
  cycle();
  EXPECT_EQ(scheduler_->cycle_seconds().count(), 2u);
}

TEST_F(SchedulerTest, WakesAtTheEarliestPlannedStartBeforeTheNextTick) {
  store_evening("europe-west2");
  submit("j-dip");
  cycle();
  EXPECT_EQ(scheduler_->next_planned_start(), kStart + 2 * kHour);
  // Once nothing is held, nothing is awaited.
  clock_.set(kStart + 2 * kHour);
  ASSERT_TRUE(store_.upsert(std::vector<Reading>{actual("europe-west2", clock_.now(), 100)}));
  cycle();
  EXPECT_EQ(load("j-dip").state, JobState::running);
  EXPECT_FALSE(scheduler_->next_planned_start().has_value());
}

TEST_F(SchedulerTest, CandidatesNotRankedAreNamedOnTheJob) {
  store_evening("europe-west2");
  submit("j-named", Policy::best_window, kHour, 10 * kHour,
         {"europe-west2", "europe-west9", "europe-north1"});
  cycle();
  const auto stored = nlohmann::json::parse(job_accounting_to_json(load("j-named")));
  ASSERT_TRUE(stored.contains("excluded")) << stored.dump();
  EXPECT_EQ(stored["excluded"],
            nlohmann::json::parse(R"([{"region": "europe-west9", "reason": "no fresh data"},
                                      {"region": "europe-north1", "reason": "not configured"}])"));
}

TEST_F(SchedulerTest, LateReadingsFillTheAccountingIn) {
  // Only the first hour of a 2-hour run is observed when it ends.
  ASSERT_TRUE(store_.upsert(std::vector<Reading>{actual("europe-west2", kStart, 300)}));
  submit("j-late", Policy::now, 2 * kHour);
  cycle();
  ASSERT_EQ(load("j-late").state, JobState::running);
  clock_.set(kStart + 2 * kHour);
  cycle();
  Job job = load("j-late");
  ASSERT_EQ(job.state, JobState::succeeded);
  auto accounting = nlohmann::json::parse(job_accounting_to_json(job));
  EXPECT_TRUE(accounting["actual_g"].is_null()) << accounting.dump();

  // The second hour's reading arrives: 1 kW x (1 h x 300 + 1 h x 200) = 500 g, and the
  // baseline (the same 2 hours from submission) is the same.
  ASSERT_TRUE(store_.upsert(std::vector<Reading>{actual("europe-west2", kStart + kHour, 200)}));
  clock_.set(kStart + 2 * kHour + Seconds{60});
  cycle();
  job = load("j-late");
  accounting = nlohmann::json::parse(job_accounting_to_json(job));
  EXPECT_DOUBLE_EQ(accounting["actual_g"].get<double>(), 500) << accounting.dump();
  EXPECT_DOUBLE_EQ(accounting["baseline_g"].get<double>(), 500);
  EXPECT_EQ(accounting["run_seconds"], 7200);
  EXPECT_EQ(event_types("j-late").back(), "accounting");
  // Complete: later cycles leave it alone.
  const auto events = event_types("j-late").size();
  clock_.set(kStart + 3 * kHour);
  cycle();
  EXPECT_EQ(event_types("j-late").size(), events);
}

TEST_F(SchedulerTest, ForecastErrorsCorrectTheFeedsForecasts) {
  // A day of hourly snapshots of europe-west2 that ran 40 high against an actual of 150.
  std::vector<Reading> history;
  for (int h = -24; h < 0; ++h) {
    history.push_back(actual("europe-west2", kStart + h * kHour, 150));
    history.push_back(forecast("europe-west2", kStart + h * kHour, kStart + h * kHour, 190));
  }
  // Now: 150, and the forecast says 180 from +1 h on, which means 140.
  history.push_back(actual("europe-west2", kStart, 150));
  for (int h = 1; h < 6; ++h)
    history.push_back(forecast("europe-west2", kStart, kStart + h * kHour, 180));
  ASSERT_TRUE(store_.upsert(history));
  Job job = submit("j-biased", Policy::best_window, kHour, 5 * kHour);
  auto raw = scheduler_->plan(job);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->action, PlanAction::dispatch);

  ForecastErrors errors;
  scheduler_->use_forecast_errors(errors);
  cycle();
  const auto* model = errors.find("grid", "europe-west2");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->overall.samples, 24u);
  EXPECT_DOUBLE_EQ(model->overall.bias_g, 40);
  EXPECT_EQ(load("j-biased").state, JobState::queued);
  auto corrected = scheduler_->plan(load("j-biased"));
  ASSERT_TRUE(corrected);
  EXPECT_EQ(corrected->action, PlanAction::hold);
  EXPECT_EQ(corrected->start, kStart + kHour);
  EXPECT_DOUBLE_EQ(*corrected->score, 140);
}

}  // namespace
}  // namespace gridshift
