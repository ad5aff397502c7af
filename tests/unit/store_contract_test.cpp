// One contract for the store ports, run against every implementation: MemoryStore, SqliteStore
// (on a file in a fresh temporary directory) and PostgresStore (a fresh database in a throwaway
// cluster, tests/support/postgres_cluster.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/accounting.h"
#include "storage/memory/memory_store.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "support/postgres_cluster.h"

namespace gridshift {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::minutes;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() / ("gridshift-store-contract-" + std::to_string(::getpid()) +
                                         "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct MemoryBackend {
  MemoryStore& store() { return store_; }
  MemoryStore store_;
};

struct SqliteBackend {
  SqliteBackend() {
    auto opened = SqliteStore::open((dir_.path() / "gridshift.db").string());
    if (!opened) throw std::runtime_error(to_string(opened.error()));
    store_ = std::move(*opened);
  }
  SqliteStore& store() { return *store_; }
  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

// One cluster for the whole binary, stopped at exit; each test gets a database of its own.
testing::PostgresCluster& shared_cluster() {
  static testing::PostgresCluster cluster;
  return cluster;
}

struct PostgresBackend {
  PostgresBackend() {
    auto& cluster = shared_cluster();
    if (!cluster.problem().empty()) throw std::runtime_error(cluster.problem());
    const std::string dsn = cluster.create_database();
    if (dsn.empty()) throw std::runtime_error(cluster.problem());
    auto opened = PostgresStore::open(dsn);
    if (!opened) throw std::runtime_error(to_string(opened.error()));
    store_ = std::move(*opened);
  }
  PostgresStore& store() { return *store_; }
  std::unique_ptr<PostgresStore> store_;
};

struct BackendNames {
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, MemoryBackend>) return "Memory";
    if constexpr (std::is_same_v<T, PostgresBackend>) return "Postgres";
    return "Sqlite";
  }
};

TimePoint at(int day, int hour, int minute = 0) {
  // 2026-11-<day> hour:minute UTC
  using namespace std::chrono;
  return sys_days{year{2026} / November / day} + hours{hour} + minutes{minute};
}

JobSpec full_spec() {
  JobSpec spec;
  spec.name = "resnet50-nightly";
  spec.regions = {"europe-west9", "europe-west2"};
  spec.duration = hours{4};
  spec.deadline = at(27, 8);
  spec.not_before = at(26, 20);
  spec.policy = Policy::threshold;
  spec.threshold = 120.5;
  spec.interruptible = InterruptibleSpec{3, hours{1}, std::chrono::minutes{5}};
  spec.power_watts = 900;
  VertexSpec vertex;
  vertex.machine_type = "a2-highgpu-1g";
  vertex.accelerator_type = "NVIDIA_TESLA_A100";
  vertex.accelerator_count = 1;
  vertex.replica_count = 2;
  vertex.container = ContainerSpec{"europe-docker.pkg.dev/p/r/trainer:1",
                                   {"python3", "-m", "trainer"},
                                   {"--epochs", "10"},
                                   {{"K", "V"}, {"MODE", "fast"}}};
  vertex.service_account = "trainer@p.iam.gserviceaccount.com";
  vertex.scheduling = SchedulingSpec{SchedulingStrategy::spot, hours{24}};
  vertex.labels = {{"team", "vision"}};
  spec.vertex = vertex;
  spec.local = LocalSpec{{"python3", "train.py", "--epochs", "10"}};
  // Hardware alternatives and a budget: the summary (what the scheduler plans from) keeps
  // their hardware, duration and power.
  AlternativeSpec faster;
  faster.vertex = spec.vertex;
  faster.vertex->machine_type = "a2-highgpu-1g";
  faster.vertex->accelerator_type = "NVIDIA_TESLA_A100";
  faster.vertex->accelerator_count = 1;
  faster.duration = hours{2};
  AlternativeSpec low_power;
  low_power.power_watts = 321;
  spec.alternatives = {faster, low_power};
  spec.max_cost_usd = 42.5;
  return spec;
}

Job make_job(const std::string& id, std::uint32_t owner = 1000, JobState state = JobState::queued) {
  Job job;
  job.id = id;
  job.owner_uid = owner;
  job.spec.name = "job-" + id;
  job.spec.duration = hours{1};
  job.state = state;
  job.submitted_at = at(26, 18);
  job.updated_at = at(26, 18);
  job.deadline = at(27, 18);
  job.regions = {"europe-west2"};
  job.power_watts = 550;
  return job;
}

// Every field set to a value other than its default.
Job full_job() {
  Job job;
  job.id = "job-full-1";
  job.owner_uid = 4242;
  job.spec = full_spec();
  job.state = JobState::running;
  job.submitted_at = at(26, 18, 1);
  job.updated_at = at(26, 22, 30);
  job.deadline = at(27, 8);
  job.regions = {"europe-west9", "europe-west2"};
  job.power_watts = 1234.5;
  job.idempotency_key = "submit-7f3a";
  job.region = "europe-west9";
  job.planned_start = at(26, 22);
  job.started_at = at(26, 22, 5);
  job.finished_at = at(27, 2, 5);
  job.remote_name = "projects/p/locations/europe-west9/customJobs/123";
  job.error = "quota exceeded once";
  job_accounting_from_json(R"({"actual_g":412.5})", job);
  JobSegment first;
  first.n = 1;
  first.region = "europe-west9";
  first.start = at(26, 22, 5);
  first.end = at(26, 23);
  first.finished_at = at(26, 23, 1);
  first.state = SegmentState::ended;
  first.remote_name = "projects/p/locations/europe-west9/customJobs/122";
  JobSegment second = first;
  second.n = 2;
  second.start = at(27, 1);
  second.end = at(27, 3);
  second.finished_at.reset();
  second.state = SegmentState::running;
  second.remote_name = "projects/p/locations/europe-west9/customJobs/123";
  job.segments = {first, second};
  job.alternative = 2;
  return job;
}

JobEvent make_event(const std::string& job_id, const std::string& type, TimePoint when) {
  JobEvent event;
  event.job_id = job_id;
  event.at = when;
  event.type = type;
  event.message = type + " of " + job_id;
  event.data_json = R"({"k":1})";
  return event;
}

Reading make_reading(ReadingKind kind, TimePoint timestamp, double value,
                     TimePoint issued_at = TimePoint{}, std::string feed = "uk",
                     std::string location = "GB") {
  Reading r;
  r.feed = std::move(feed);
  r.location = std::move(location);
  r.signal = SignalType::average;
  r.kind = kind;
  r.timestamp = timestamp;
  r.step = hours{1};
  r.gco2_per_kwh = value;
  r.issued_at = kind == ReadingKind::actual ? timestamp : issued_at;
  r.fetched_at = r.issued_at + minutes{3};
  return r;
}

std::vector<TimePoint> timestamps(const std::vector<Reading>& readings) {
  std::vector<TimePoint> out;
  for (const auto& r : readings)
    out.push_back(r.timestamp);
  return out;
}

std::vector<std::string> ids(const std::vector<Job>& jobs) {
  std::vector<std::string> out;
  for (const auto& j : jobs)
    out.push_back(j.id);
  return out;
}

DispatchRecord make_record(const std::string& job_id, int attempt, TimePoint created) {
  DispatchRecord r;
  r.job_id = job_id;
  r.attempt = attempt;
  r.target = "vertex_ai";
  r.region = "europe-west2";
  r.status = DispatchStatus::intent;
  r.created_at = created;
  r.updated_at = created;
  r.detail = "journalled";
  return r;
}

template <class Backend>
class StoreContract : public ::testing::Test {
 protected:
  JobStore& jobs() { return backend_.store(); }
  ReadingStore& readings() { return backend_.store(); }
  DispatchJournal& journal() { return backend_.store(); }

  void insert(const Job& job) {
    auto inserted = jobs().insert(job, make_event(job.id, "submitted", job.submitted_at));
    ASSERT_TRUE(inserted) << to_string(inserted.error());
  }
  void upsert(const std::vector<Reading>& rs) {
    auto written = readings().upsert(rs);
    ASSERT_TRUE(written) << to_string(written.error());
    ASSERT_EQ(*written, rs.size());
  }

  Backend backend_;
};

using Backends = ::testing::Types<MemoryBackend, SqliteBackend, PostgresBackend>;
TYPED_TEST_SUITE(StoreContract, Backends, BackendNames);

// ---- jobs -----------------------------------------------------------------------------------

TYPED_TEST(StoreContract, SummaryListsCarryNoRunSectionsAndGetGivesTheWholeSpec) {
  const Job job = full_job();
  this->insert(job);
  JobQuery query;
  query.summary = true;
  auto page = this->jobs().list(query);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->jobs.size(), 1u);
  const Job& listed = page->jobs[0];
  EXPECT_TRUE(listed.spec_is_summary);
  EXPECT_EQ(listed.spec, summarize(job.spec));
  EXPECT_FALSE(listed.spec.vertex->container.has_value());
  EXPECT_TRUE(listed.spec.vertex->labels.empty());
  ASSERT_TRUE(listed.spec.local.has_value());
  EXPECT_TRUE(listed.spec.local->command.empty());
  // Planning fields survive.
  EXPECT_EQ(listed.spec.duration, job.spec.duration);
  EXPECT_EQ(listed.spec.not_before, job.spec.not_before);
  EXPECT_EQ(listed.spec.threshold, job.spec.threshold);
  EXPECT_EQ(listed.spec.vertex->accelerator_type, "NVIDIA_TESLA_A100");
  EXPECT_EQ(listed.spec.vertex->scheduling, job.spec.vertex->scheduling);
  // Updating the summary job keeps the whole stored spec.
  Job changed = listed;
  changed.state = JobState::succeeded;
  ASSERT_TRUE(this->jobs().update(changed, make_event(job.id, "state", at(27, 3))));
  auto got = this->jobs().get(job.id);
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->spec, job.spec);
  EXPECT_FALSE((*got)->spec_is_summary);
  EXPECT_EQ((*got)->state, JobState::succeeded);
}

TYPED_TEST(StoreContract, UpdateIfWritesOnlyWhileTheStateIsTheExpectedOne) {
  this->insert(make_job("a"));
  Job job = **this->jobs().get("a");
  job.planned_start = at(26, 23);
  ASSERT_TRUE(
      this->jobs().update_if(job, JobState::queued, make_event("a", "planned", at(26, 19))));
  Job cancelled = job;
  cancelled.state = JobState::cancelled;
  ASSERT_TRUE(this->jobs().update(cancelled, make_event("a", "state", at(26, 19))));
  job.planned_start = at(27, 1);
  auto refused =
      this->jobs().update_if(job, JobState::queued, make_event("a", "planned", at(26, 20)));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "conflict");
  EXPECT_EQ((*this->jobs().get("a"))->state, JobState::cancelled);
  EXPECT_EQ((*this->jobs().get("a"))->planned_start, at(26, 23));
  EXPECT_EQ(this->jobs().events("a")->size(), 3u);  // submitted, planned, state
  auto missing =
      this->jobs().update_if(make_job("zz"), JobState::queued, make_event("zz", "x", at(26, 20)));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "not_found");
}

TYPED_TEST(StoreContract, QuarantineFailsTheJobWithItsReason) {
  this->insert(make_job("q"));
  ASSERT_TRUE(this->jobs().quarantine("q", "unreadable spec", at(26, 19)));
  auto got = **this->jobs().get("q");
  EXPECT_EQ(got.state, JobState::failed);
  EXPECT_EQ(got.error, "unreadable spec");
  EXPECT_EQ(got.finished_at, at(26, 19));
  const auto events = *this->jobs().events("q");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, "quarantined");
  EXPECT_EQ(this->jobs().quarantine("nope", "x", at(26, 19)).error().code, "not_found");
}

TYPED_TEST(StoreContract, CountOwnedCountsOneOwnersJobsInOneState) {
  this->insert(make_job("a", 1000));
  this->insert(make_job("b", 1000));
  this->insert(make_job("c", 1000, JobState::running));
  this->insert(make_job("d", 2000));
  EXPECT_EQ(*this->jobs().count_owned(JobState::queued, 1000), 2u);
  EXPECT_EQ(*this->jobs().count_owned(JobState::running, 1000), 1u);
  EXPECT_EQ(*this->jobs().count_owned(JobState::queued, 2000), 1u);
  EXPECT_EQ(*this->jobs().count_owned(JobState::queued, 3000), 0u);
}

TYPED_TEST(StoreContract, InsertThenGetRoundTripsEveryJobField) {
  const Job job = full_job();
  auto inserted = this->jobs().insert(job, make_event(job.id, "submitted", job.submitted_at));
  ASSERT_TRUE(inserted) << to_string(inserted.error());
  EXPECT_EQ(*inserted, job);
  auto got = this->jobs().get(job.id);
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, job);
}

TYPED_TEST(StoreContract, RoundTripsAJobWithEveryOptionalEmpty) {
  Job job = make_job("bare");
  job.regions.clear();
  job.power_watts = 0;
  this->insert(job);
  auto got = this->jobs().get("bare");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ(**got, job);
  EXPECT_FALSE((*got)->idempotency_key.has_value());
  EXPECT_FALSE((*got)->planned_start.has_value());
}

TYPED_TEST(StoreContract, GetOfUnknownIdIsEmpty) {
  auto got = this->jobs().get("nope");
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->has_value());
}

TYPED_TEST(StoreContract, InsertRecordsTheFirstEvent) {
  const Job job = make_job("a1");
  const JobEvent first = make_event("a1", "submitted", at(26, 18));
  ASSERT_TRUE(this->jobs().insert(job, first));
  auto events = this->jobs().events("a1");
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].job_id, "a1");
  EXPECT_EQ((*events)[0].type, "submitted");
  EXPECT_EQ((*events)[0].message, first.message);
  EXPECT_EQ((*events)[0].data_json, first.data_json);
  EXPECT_EQ((*events)[0].at, first.at);
  EXPECT_GT((*events)[0].seq, 0);
}

TYPED_TEST(StoreContract, DuplicateIdIsAConflictAndWritesNothing) {
  this->insert(make_job("dup"));
  Job again = make_job("dup", 7, JobState::running);
  auto second = this->jobs().insert(again, make_event("dup", "submitted", at(26, 19)));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, "conflict");
  auto got = this->jobs().get("dup");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->owner_uid, 1000u);
  EXPECT_EQ((*got)->state, JobState::queued);
  EXPECT_EQ(this->jobs().events("dup")->size(), 1u);
}

TYPED_TEST(StoreContract, IdempotencyKeyReturnsTheExistingJobOfTheSameOwner) {
  Job first = make_job("first", 1000);
  first.idempotency_key = "key-1";
  this->insert(first);

  Job retry = make_job("retry", 1000);
  retry.idempotency_key = "key-1";
  retry.spec.name = "different";
  auto result = this->jobs().insert(retry, make_event("retry", "submitted", at(26, 19)));
  ASSERT_TRUE(result) << to_string(result.error());
  EXPECT_EQ(result->id, "first");
  EXPECT_EQ(*result, first);
  EXPECT_FALSE(this->jobs().get("retry")->has_value());
  EXPECT_TRUE(this->jobs().events("retry")->empty());
  EXPECT_EQ(*this->jobs().count(std::nullopt), 1u);
  EXPECT_EQ(this->jobs().events("first")->size(), 1u);

  // The same key of another owner is another job.
  Job other_owner = make_job("other", 2000);
  other_owner.idempotency_key = "key-1";
  auto third = this->jobs().insert(other_owner, make_event("other", "submitted", at(26, 19)));
  ASSERT_TRUE(third);
  EXPECT_EQ(third->id, "other");
  EXPECT_EQ(*this->jobs().count(std::nullopt), 2u);
}

TYPED_TEST(StoreContract, InsertBatchStoresEveryJobWithItsFirstEvent) {
  std::vector<JobInsert> batch;
  for (const char* id : {"b1", "b2", "b3"})
    batch.push_back({make_job(id), make_event(id, "submitted", at(26, 18))});
  auto results = this->jobs().insert_batch(batch);
  ASSERT_TRUE(results) << to_string(results.error());
  ASSERT_EQ(results->size(), 3u);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    ASSERT_TRUE((*results)[i]);
    EXPECT_EQ(*(*results)[i], batch[i].job);
    EXPECT_EQ(this->jobs().events(batch[i].job.id)->size(), 1u);
  }
  auto page = this->jobs().list({});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->jobs.size(), 3u);
  EXPECT_EQ(page->jobs[0].id, "b1");
  EXPECT_EQ(page->jobs[2].id, "b3");
}

TYPED_TEST(StoreContract, InsertBatchAnswersEachItemLikeInsert) {
  this->insert(make_job("taken"));
  Job keyed = make_job("keyed");
  keyed.idempotency_key = "k";
  Job retry = make_job("retry");  // same owner and key, in the same batch
  retry.idempotency_key = "k";
  std::vector<JobInsert> batch = {
      {make_job("taken", 5), make_event("taken", "submitted", at(26, 19))},
      {keyed, make_event("keyed", "submitted", at(26, 19))},
      {retry, make_event("retry", "submitted", at(26, 19))},
      {make_job("fresh"), make_event("fresh", "submitted", at(26, 19))}};
  auto results = this->jobs().insert_batch(batch);
  ASSERT_TRUE(results) << to_string(results.error());
  ASSERT_EQ(results->size(), 4u);
  ASSERT_FALSE((*results)[0]);
  EXPECT_EQ((*results)[0].error().code, "conflict");
  ASSERT_TRUE((*results)[1]);
  EXPECT_EQ((*results)[1]->id, "keyed");
  ASSERT_TRUE((*results)[2]);
  EXPECT_EQ((*results)[2]->id, "keyed");
  ASSERT_TRUE((*results)[3]);
  EXPECT_EQ(*this->jobs().count(std::nullopt), 3u);
  EXPECT_EQ((*this->jobs().get("taken"))->owner_uid, 1000u);
  EXPECT_FALSE(this->jobs().get("retry")->has_value());
  EXPECT_TRUE(this->jobs().events("retry")->empty());
}

TYPED_TEST(StoreContract, InsertBatchOfNothingIsEmpty) {
  auto results = this->jobs().insert_batch({});
  ASSERT_TRUE(results);
  EXPECT_TRUE(results->empty());
}

TYPED_TEST(StoreContract, JobsWithoutKeyNeverCollideOnIt) {
  this->insert(make_job("k1"));
  this->insert(make_job("k2"));
  EXPECT_EQ(*this->jobs().count(std::nullopt), 2u);
}

TYPED_TEST(StoreContract, UpdateReplacesTheRecordAndAppendsAnEvent) {
  Job job = make_job("u1");
  this->insert(job);
  job.state = JobState::dispatching;
  job.region = "europe-west2";
  job.updated_at = at(26, 22);
  job.error = "";
  auto updated = this->jobs().update(job, make_event("u1", "state", at(26, 22)));
  ASSERT_TRUE(updated) << to_string(updated.error());
  job.state = JobState::running;
  job.started_at = at(26, 22, 7);
  ASSERT_TRUE(this->jobs().update(job, make_event("u1", "dispatch", at(26, 22, 7))));

  auto got = this->jobs().get("u1");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ(**got, job);

  auto events = this->jobs().events("u1");
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].type, "submitted");
  EXPECT_EQ((*events)[1].type, "state");
  EXPECT_EQ((*events)[2].type, "dispatch");
  EXPECT_LT((*events)[0].seq, (*events)[1].seq);
  EXPECT_LT((*events)[1].seq, (*events)[2].seq);
  EXPECT_EQ((*events)[2].at, at(26, 22, 7));
}

TYPED_TEST(StoreContract, UpdateOfUnknownJobIsNotFoundAndWritesNothing) {
  auto updated = this->jobs().update(make_job("ghost"), make_event("ghost", "state", at(26, 20)));
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, "not_found");
  EXPECT_TRUE(this->jobs().events("ghost")->empty());
  EXPECT_EQ(*this->jobs().count(std::nullopt), 0u);
}

TYPED_TEST(StoreContract, EventsOfEachJobStayInOrderWhenInterleaved) {
  Job a = make_job("ev-a");
  Job b = make_job("ev-b");
  this->insert(a);
  this->insert(b);
  ASSERT_TRUE(this->jobs().update(a, make_event("ev-a", "planned", at(26, 19))));
  ASSERT_TRUE(this->jobs().update(b, make_event("ev-b", "planned", at(26, 19))));
  ASSERT_TRUE(this->jobs().update(a, make_event("ev-a", "cancel_requested", at(26, 20))));

  auto events_a = this->jobs().events("ev-a");
  ASSERT_TRUE(events_a);
  std::vector<std::string> types;
  for (const auto& e : *events_a) {
    EXPECT_EQ(e.job_id, "ev-a");
    types.push_back(e.type);
  }
  EXPECT_EQ(types, (std::vector<std::string>{"submitted", "planned", "cancel_requested"}));
  EXPECT_EQ(this->jobs().events("ev-b")->size(), 2u);
  EXPECT_TRUE(this->jobs().events("ev-none")->empty());
}

TYPED_TEST(StoreContract, ListIsInSubmissionOrderAndFiltersByState) {
  // Ids out of alphabetical order, so that submission order is what is tested.
  this->insert(make_job("zulu", 1, JobState::queued));
  this->insert(make_job("alpha", 1, JobState::running));
  this->insert(make_job("mike", 1, JobState::queued));
  this->insert(make_job("bravo", 1, JobState::succeeded));

  auto all = this->jobs().list(JobQuery{});
  ASSERT_TRUE(all);
  EXPECT_EQ(ids(all->jobs), (std::vector<std::string>{"zulu", "alpha", "mike", "bravo"}));
  EXPECT_FALSE(all->next.has_value());

  auto queued = this->jobs().list(JobQuery{JobState::queued, std::nullopt, 100});
  ASSERT_TRUE(queued);
  EXPECT_EQ(ids(queued->jobs), (std::vector<std::string>{"zulu", "mike"}));

  auto failed = this->jobs().list(JobQuery{JobState::failed, std::nullopt, 100});
  ASSERT_TRUE(failed);
  EXPECT_TRUE(failed->jobs.empty());
  EXPECT_FALSE(failed->next.has_value());
}

TYPED_TEST(StoreContract, ListPaginatesWithLimitAndAfter) {
  for (const char* id : {"p5", "p4", "p3", "p2", "p1"})
    this->insert(make_job(id));

  auto page1 = this->jobs().list(JobQuery{std::nullopt, std::nullopt, 2});
  ASSERT_TRUE(page1);
  EXPECT_EQ(ids(page1->jobs), (std::vector<std::string>{"p5", "p4"}));
  ASSERT_EQ(page1->next, std::optional<std::string>("p4"));

  auto page2 = this->jobs().list(JobQuery{std::nullopt, page1->next, 2});
  ASSERT_TRUE(page2);
  EXPECT_EQ(ids(page2->jobs), (std::vector<std::string>{"p3", "p2"}));
  ASSERT_EQ(page2->next, std::optional<std::string>("p2"));

  auto page3 = this->jobs().list(JobQuery{std::nullopt, page2->next, 2});
  ASSERT_TRUE(page3);
  EXPECT_EQ(ids(page3->jobs), (std::vector<std::string>{"p1"}));
  EXPECT_FALSE(page3->next.has_value());

  // An exactly full last page has no next cursor.
  auto exact = this->jobs().list(JobQuery{std::nullopt, std::string("p4"), 3});
  ASSERT_TRUE(exact);
  EXPECT_EQ(ids(exact->jobs), (std::vector<std::string>{"p3", "p2", "p1"}));
  EXPECT_FALSE(exact->next.has_value());
}

TYPED_TEST(StoreContract, PaginationCombinesWithTheStateFilter) {
  this->insert(make_job("s1", 1, JobState::queued));
  this->insert(make_job("s2", 1, JobState::running));
  this->insert(make_job("s3", 1, JobState::queued));
  this->insert(make_job("s4", 1, JobState::running));
  this->insert(make_job("s5", 1, JobState::queued));

  auto page1 = this->jobs().list(JobQuery{JobState::queued, std::nullopt, 2});
  ASSERT_TRUE(page1);
  EXPECT_EQ(ids(page1->jobs), (std::vector<std::string>{"s1", "s3"}));
  ASSERT_TRUE(page1->next.has_value());
  auto page2 = this->jobs().list(JobQuery{JobState::queued, page1->next, 2});
  ASSERT_TRUE(page2);
  EXPECT_EQ(ids(page2->jobs), (std::vector<std::string>{"s5"}));
  EXPECT_FALSE(page2->next.has_value());
}

TYPED_TEST(StoreContract, ListWithAnUnknownCursorNamesTheAfterField) {
  this->insert(make_job("only"));
  auto page = this->jobs().list(JobQuery{std::nullopt, std::string("missing"), 10});
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().code, "invalid_request");
  ASSERT_EQ(page.error().details.size(), 1u);
  EXPECT_EQ(page.error().details[0].field, "after");
}

TYPED_TEST(StoreContract, CountsAllAndByState) {
  EXPECT_EQ(*this->jobs().count(std::nullopt), 0u);
  this->insert(make_job("c1", 1, JobState::queued));
  this->insert(make_job("c2", 1, JobState::failed));
  this->insert(make_job("c3", 1, JobState::queued));
  EXPECT_EQ(*this->jobs().count(std::nullopt), 3u);
  EXPECT_EQ(*this->jobs().count(JobState::queued), 2u);
  EXPECT_EQ(*this->jobs().count(JobState::failed), 1u);
  EXPECT_EQ(*this->jobs().count(JobState::cancelled), 0u);
}

// ---- readings -------------------------------------------------------------------------------

TYPED_TEST(StoreContract, UpsertOfTheSameIdentityOverwrites) {
  Reading first = make_reading(ReadingKind::actual, at(26, 10), 200);
  this->upsert({first});
  Reading second = first;
  second.gco2_per_kwh = 180;
  second.step = minutes{30};
  second.fetched_at = at(26, 11);
  second.estimated = true;
  second.renewable_percent = 41.5;
  second.fossil_free_percent = 60.25;
  second.consumption_mix = {{"nuclear", 68.25}, {"hydro discharge", 1.5}, {"wind", 30.25}};
  this->upsert({second});

  auto got = this->readings().actuals("uk", "GB", at(26, 0), at(27, 0));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0], second);
}

TYPED_TEST(StoreContract, AnUpsertOfManyReadingsWithRepeatsKeepsTheLastValueOfEach) {
  // 250 five-minute readings, then the first 30 again with new values, in one call: more rows
  // than one statement of a batching backend takes, and identities repeated within the call.
  std::vector<Reading> batch;
  for (int i = 0; i < 250; ++i) {
    batch.push_back(make_reading(ReadingKind::actual, at(26, 0) + minutes{5 * i}, 100 + i));
    batch.back().step = minutes{5};
  }
  for (int i = 0; i < 30; ++i) {
    Reading again = batch[static_cast<std::size_t>(i)];
    again.gco2_per_kwh = 900 + i;
    batch.push_back(again);
  }
  this->upsert(batch);
  auto got = this->readings().actuals("uk", "GB", at(26, 0), at(28, 0));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 250u);
  for (int i = 0; i < 250; ++i) {
    EXPECT_EQ((*got)[static_cast<std::size_t>(i)].gco2_per_kwh, i < 30 ? 900 + i : 100 + i) << i;
  }
}

TYPED_TEST(StoreContract, UpsertKeepsReadingsThatDifferInIdentity) {
  Reading base = make_reading(ReadingKind::actual, at(26, 10), 200);
  Reading other_feed = base;
  other_feed.feed = "emaps";
  Reading other_location = base;
  other_location.location = "FR";
  Reading other_signal = base;
  other_signal.signal = SignalType::marginal;
  this->upsert({base, other_feed, other_location, other_signal});

  auto uk = this->readings().actuals("uk", "GB", at(26, 0), at(27, 0));
  ASSERT_TRUE(uk);
  EXPECT_EQ(uk->size(), 2u);  // average and marginal of the same feed and place
  EXPECT_EQ(this->readings().actuals("emaps", "GB", at(26, 0), at(27, 0))->size(), 1u);
  EXPECT_EQ(this->readings().actuals("uk", "FR", at(26, 0), at(27, 0))->size(), 1u);
}

TYPED_TEST(StoreContract, UpsertOfNothingWritesNothing) {
  auto written = this->readings().upsert(std::span<const Reading>{});
  ASSERT_TRUE(written);
  EXPECT_EQ(*written, 0u);
}

TYPED_TEST(StoreContract, ActualsAreThoseOverlappingTheRangeInTimestampOrder) {
  this->upsert({
      make_reading(ReadingKind::actual, at(26, 12), 230),  // starts at `to`: out
      make_reading(ReadingKind::actual, at(26, 9), 250),   // ends exactly at `from`: out
      make_reading(ReadingKind::actual, at(26, 11), 210),
      make_reading(ReadingKind::actual, at(26, 10), 220),  // starts before `from`, overlaps
      make_reading(ReadingKind::forecast, at(26, 11), 99, at(26, 6)),  // a forecast: out
      make_reading(ReadingKind::actual, at(26, 11), 77, {}, "uk", "north-scotland"),
  });
  auto got = this->readings().actuals("uk", "GB", at(26, 10, 30), at(26, 12));
  ASSERT_TRUE(got);
  EXPECT_EQ(timestamps(*got), (std::vector<TimePoint>{at(26, 10), at(26, 11)}));
  EXPECT_EQ((*got)[0].gco2_per_kwh, 220);
  EXPECT_EQ((*got)[1].gco2_per_kwh, 210);

  auto from_ten = this->readings().actuals("uk", "GB", at(26, 10), at(26, 11));
  ASSERT_TRUE(from_ten);
  EXPECT_EQ(timestamps(*from_ten), (std::vector<TimePoint>{at(26, 10)}));
}

TYPED_TEST(StoreContract, ALongReadingOverlapsEveryRangeInsideIt) {
  Reading annual = make_reading(ReadingKind::actual, at(1, 0), 300);
  annual.step = hours{24 * 30};
  this->upsert({annual});
  auto got = this->readings().actuals("uk", "GB", at(26, 10), at(26, 11));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0], annual);
}

TYPED_TEST(StoreContract, LatestActualIsTheNewestByTimestamp) {
  auto none = this->readings().latest_actual("uk", "GB");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());

  this->upsert({
      make_reading(ReadingKind::actual, at(26, 9), 250),
      make_reading(ReadingKind::actual, at(26, 11), 210),
      make_reading(ReadingKind::actual, at(26, 10), 220),
      make_reading(ReadingKind::forecast, at(26, 15), 99, at(26, 11)),
      make_reading(ReadingKind::actual, at(26, 14), 111, {}, "emaps", "GB"),
  });
  auto latest = this->readings().latest_actual("uk", "GB");
  ASSERT_TRUE(latest);
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->timestamp, at(26, 11));
  EXPECT_EQ((*latest)->gco2_per_kwh, 210);
}

TYPED_TEST(StoreContract, ForecastTakesEachTimestampFromTheNewestSnapshot) {
  std::vector<Reading> rs;
  // Snapshot A, issued 06:00, covers 08:00..12:00; snapshot B, issued 09:00, covers 10:00..14:00.
  for (int h = 8; h < 12; ++h)
    rs.push_back(make_reading(ReadingKind::forecast, at(26, h), 100 + h, at(26, 6)));
  for (int h = 10; h < 14; ++h)
    rs.push_back(make_reading(ReadingKind::forecast, at(26, h), 200 + h, at(26, 9)));
  // An older snapshot C, issued 03:00, inserted last, must not win anywhere it overlaps.
  for (int h = 8; h < 14; ++h)
    rs.push_back(make_reading(ReadingKind::forecast, at(26, h), 300 + h, at(26, 3)));
  rs.push_back(make_reading(ReadingKind::actual, at(26, 9), 1));  // actuals are not forecasts
  this->upsert(rs);

  auto got = this->readings().forecast("uk", "GB", at(26, 8), at(26, 14));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 6u);
  const std::vector<double> expected = {108, 109, 210, 211, 212, 213};
  for (std::size_t i = 0; i < got->size(); ++i) {
    EXPECT_EQ((*got)[i].timestamp, at(26, 8 + static_cast<int>(i)));
    EXPECT_EQ((*got)[i].gco2_per_kwh, expected[i]) << "at index " << i;
    EXPECT_EQ((*got)[i].kind, ReadingKind::forecast);
  }
  EXPECT_EQ((*got)[2].issued_at, at(26, 9));

  // The range is by overlap, like actuals: 09:30..11:00 takes the 09:00 and 10:00 points.
  auto inner = this->readings().forecast("uk", "GB", at(26, 9, 30), at(26, 11));
  ASSERT_TRUE(inner);
  EXPECT_EQ(timestamps(*inner), (std::vector<TimePoint>{at(26, 9), at(26, 10)}));

  auto elsewhere = this->readings().forecast("uk", "FR", at(26, 8), at(26, 14));
  ASSERT_TRUE(elsewhere);
  EXPECT_TRUE(elsewhere->empty());
}

TYPED_TEST(StoreContract, ForecastsIssuedListsEverySnapshotIssuedInTheRange) {
  std::vector<Reading> rs;
  for (int h = 10; h < 12; ++h)
    rs.push_back(make_reading(ReadingKind::forecast, at(26, h), 200 + h, at(26, 9)));
  for (int h = 8; h < 10; ++h)
    rs.push_back(make_reading(ReadingKind::forecast, at(26, h), 100 + h, at(26, 6)));
  rs.push_back(make_reading(ReadingKind::forecast, at(26, 12), 5, at(26, 10)));  // issued at `to`
  rs.push_back(make_reading(ReadingKind::actual, at(26, 7), 1));
  this->upsert(rs);

  auto got = this->readings().forecasts_issued("uk", "GB", at(26, 6), at(26, 10));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 4u);
  EXPECT_EQ((*got)[0].issued_at, at(26, 6));
  EXPECT_EQ((*got)[0].timestamp, at(26, 8));
  EXPECT_EQ((*got)[1].timestamp, at(26, 9));
  EXPECT_EQ((*got)[2].issued_at, at(26, 9));
  EXPECT_EQ((*got)[2].timestamp, at(26, 10));
  EXPECT_EQ((*got)[3].timestamp, at(26, 11));

  auto later = this->readings().forecasts_issued("uk", "GB", at(26, 7), at(26, 10));
  ASSERT_TRUE(later);
  EXPECT_EQ(timestamps(*later), (std::vector<TimePoint>{at(26, 10), at(26, 11)}));
}

TYPED_TEST(StoreContract, PruneDeletesReadingsThatEndedByTheCutoff) {
  Reading long_one = make_reading(ReadingKind::actual, at(26, 6), 1);
  long_one.step = hours{6};  // 06:00..12:00 straddles the cutoff
  this->upsert({
      make_reading(ReadingKind::actual, at(26, 8), 10),                // ends 09:00: goes
      make_reading(ReadingKind::actual, at(26, 9), 20),                // ends 10:00 == cutoff: goes
      make_reading(ReadingKind::actual, at(26, 10), 30),               // ends 11:00: stays
      make_reading(ReadingKind::forecast, at(26, 9), 40, at(26, 5)),   // ends 10:00: goes
      make_reading(ReadingKind::forecast, at(26, 12), 50, at(26, 5)),  // stays
      long_one,
  });
  auto pruned = this->readings().prune(at(26, 10));
  ASSERT_TRUE(pruned) << to_string(pruned.error());
  EXPECT_EQ(*pruned, 3u);

  auto actuals = this->readings().actuals("uk", "GB", at(25, 0), at(28, 0));
  ASSERT_TRUE(actuals);
  EXPECT_EQ(timestamps(*actuals), (std::vector<TimePoint>{at(26, 6), at(26, 10)}));
  auto forecast = this->readings().forecast("uk", "GB", at(25, 0), at(28, 0));
  ASSERT_TRUE(forecast);
  EXPECT_EQ(timestamps(*forecast), (std::vector<TimePoint>{at(26, 12)}));

  auto again = this->readings().prune(at(26, 10));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u);
}

// ---- dispatch journal -----------------------------------------------------------------------

TYPED_TEST(StoreContract, JournalRecordsIntentsAndFindsThemByJob) {
  this->insert(make_job("dj1"));
  this->insert(make_job("dj2"));
  DispatchRecord first = make_record("dj1", 1, at(26, 20));
  first.remote_name = std::nullopt;
  ASSERT_TRUE(this->journal().record_intent(first));
  DispatchRecord second = make_record("dj1", 2, at(26, 21));
  second.target = "local";
  second.region = "europe-west9";
  second.segment = 2;  // an interruptible job's second segment
  ASSERT_TRUE(this->journal().record_intent(second));
  ASSERT_TRUE(this->journal().record_intent(make_record("dj2", 1, at(26, 19))));

  auto records = this->journal().for_job("dj1");
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0], first);
  EXPECT_EQ((*records)[1], second);
  EXPECT_TRUE(this->journal().for_job("unknown")->empty());
}

TYPED_TEST(StoreContract, JournalRefusesADuplicateAttemptAndAnUnknownJob) {
  this->insert(make_job("dj"));
  ASSERT_TRUE(this->journal().record_intent(make_record("dj", 1, at(26, 20))));
  DispatchRecord again = make_record("dj", 1, at(26, 21));
  again.region = "elsewhere";
  auto duplicate = this->journal().record_intent(again);
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, "conflict");
  EXPECT_EQ(this->journal().for_job("dj")->at(0).region, "europe-west2");

  auto orphan = this->journal().record_intent(make_record("no-such-job", 1, at(26, 20)));
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code, "not_found");
}

TYPED_TEST(StoreContract, JournalUpdateMovesStatusAndUnresolvedListsOnlyIntents) {
  this->insert(make_job("r1"));
  this->insert(make_job("r2"));
  this->insert(make_job("r3"));
  ASSERT_TRUE(this->journal().record_intent(make_record("r1", 1, at(26, 21))));
  ASSERT_TRUE(this->journal().record_intent(make_record("r2", 1, at(26, 20))));
  ASSERT_TRUE(this->journal().record_intent(make_record("r3", 1, at(26, 22))));

  DispatchRecord created = make_record("r1", 1, at(26, 21));
  created.status = DispatchStatus::created;
  created.updated_at = at(26, 21, 2);
  created.remote_name = "projects/p/locations/europe-west2/customJobs/9";
  created.detail = "created";
  auto updated = this->journal().update(created);
  ASSERT_TRUE(updated) << to_string(updated.error());

  auto r1 = this->journal().for_job("r1");
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->size(), 1u);
  EXPECT_EQ((*r1)[0], created);

  auto open = this->journal().unresolved();
  ASSERT_TRUE(open);
  ASSERT_EQ(open->size(), 2u);
  EXPECT_EQ((*open)[0].job_id, "r2");  // oldest intent first
  EXPECT_EQ((*open)[1].job_id, "r3");

  DispatchRecord failed = make_record("r2", 1, at(26, 20));
  failed.status = DispatchStatus::failed;
  failed.detail = "quota";
  ASSERT_TRUE(this->journal().update(failed));
  EXPECT_EQ(this->journal().unresolved()->size(), 1u);

  auto unknown = this->journal().update(make_record("r3", 5, at(26, 22)));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "not_found");
}

}  // namespace
}  // namespace gridshift
