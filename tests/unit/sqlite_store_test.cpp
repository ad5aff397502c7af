// SQLite-specific behaviour of SqliteStore: durability across reopen, pragmas, schema
// versioning, refusal of corrupt or newer files, append-only events, lock contention.
#include "storage/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "storage/sqlite/sqlite_db.h"

namespace gridshift {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() / ("gridshift-sqlite-store-" + std::to_string(::getpid()) +
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

// A plain second connection, as another process would have.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + path);
    }
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  int exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return "<prepare failed: " + std::string(sqlite3_errmsg(db_)) + ">";
    }
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* value = sqlite3_column_text(stmt, 0);
      if (value != nullptr) out = reinterpret_cast<const char*>(value);
    }
    sqlite3_finalize(stmt);
    return out;
  }
  std::string error() const { return sqlite3_errmsg(db_); }

 private:
  sqlite3* db_ = nullptr;
};

TimePoint at(int hour) {
  using namespace std::chrono;
  return sys_days{year{2026} / November / 26} + hours{hour};
}

Job make_job(const std::string& id) {
  Job job;
  job.id = id;
  job.owner_uid = 1000;
  job.spec.name = "train-" + id;
  job.spec.duration = hours{2};
  job.submitted_at = at(18);
  job.updated_at = at(18);
  job.deadline = at(30);
  job.regions = {"europe-west2", "europe-west9"};
  job.power_watts = 700;
  job.idempotency_key = "key-" + id;
  return job;
}

JobEvent make_event(const std::string& id, const std::string& type) {
  JobEvent event;
  event.job_id = id;
  event.at = at(18);
  event.type = type;
  event.message = type;
  return event;
}

std::vector<Reading> hourly_actuals(int count) {
  std::vector<Reading> out;
  for (int i = 0; i < count; ++i) {
    Reading r;
    r.feed = "uk";
    r.location = "GB";
    r.kind = ReadingKind::actual;
    r.timestamp = at(0) + hours{i};
    r.issued_at = r.timestamp;
    r.fetched_at = r.timestamp;
    r.gco2_per_kwh = 100.0 + i;
    out.push_back(r);
  }
  return out;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string db_path() const { return (dir_.path() / "gridshift.db").string(); }

  std::unique_ptr<SqliteStore> open_store(SqliteOpenOptions options = {}) {
    auto opened = SqliteStore::open(db_path(), options);
    if (!opened) {
      ADD_FAILURE() << to_string(opened.error());
      return nullptr;
    }
    return std::move(*opened);
  }

  TempDir dir_;
};

TEST_F(SqliteStoreTest, DataSurvivesCloseAndReopen) {
  const Job job = make_job("durable-1");
  const auto readings = hourly_actuals(5);
  DispatchRecord record;
  record.job_id = job.id;
  record.target = "vertex_ai";
  record.region = "europe-west2";
  record.created_at = at(19);
  record.updated_at = at(19);
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->insert(job, make_event(job.id, "submitted")));
    ASSERT_TRUE(store->upsert(readings));
    ASSERT_TRUE(store->record_intent(record));
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  auto got = store->get(job.id);
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ(**got, job);
  auto events = store->events(job.id);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "submitted");
  auto actuals = store->actuals("uk", "GB", at(0), at(24));
  ASSERT_TRUE(actuals);
  EXPECT_EQ(*actuals, readings);
  auto open = store->unresolved();
  ASSERT_TRUE(open);
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0], record);

  // The autoincrement sequence keeps growing across reopen: no seq is ever reused.
  ASSERT_TRUE(store->update(job, make_event(job.id, "state")));
  auto after = store->events(job.id);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 2u);
  EXPECT_GT((*after)[1].seq, (*after)[0].seq);
}

TEST_F(SqliteStoreTest, PragmasAreSetForDurability) {
  auto store = open_store();
  ASSERT_TRUE(store);
  // journal_mode is a property of the file: a separate connection sees it.
  RawDb raw(db_path());
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  // The others belong to a connection: ask the store's own.
  EXPECT_EQ(*store->pragma("synchronous"), "2");  // FULL
  EXPECT_EQ(*store->pragma("foreign_keys"), "1");
  EXPECT_EQ(*store->pragma("busy_timeout"), "5000");
  EXPECT_EQ(*store->pragma("journal_mode"), "wal");
}

TEST_F(SqliteStoreTest, PragmaRefusesAnythingButAName) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto bad = store->pragma("user_version = 99");
  ASSERT_FALSE(bad);
  ASSERT_EQ(bad.error().details.size(), 1u);
  EXPECT_EQ(bad.error().details[0].field, "pragma");
  EXPECT_EQ(*store->pragma("user_version"), std::to_string(SqliteStore::latest_schema_version()));
}

TEST_F(SqliteStoreTest, SchemaVersionIsTheLatest) {
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_GE(SqliteStore::latest_schema_version(), 1);
  EXPECT_EQ(store->schema_version(), SqliteStore::latest_schema_version());
  RawDb raw(db_path());
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(SqliteStore::latest_schema_version()));
  for (const char* table : {"readings", "jobs", "job_events", "dispatch_journal"}) {
    EXPECT_EQ(raw.text(std::string("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                                   "name = '") +
                       table + "'"),
              "1")
        << table;
  }
  EXPECT_TRUE(store->check_integrity());
}

TEST_F(SqliteStoreTest, ReopeningACurrentDatabaseKeepsItsVersion) {
  { ASSERT_TRUE(open_store()); }
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schema_version(), SqliteStore::latest_schema_version());
}

TEST_F(SqliteStoreTest, ADatabaseFromANewerGridshiftIsRefused) {
  { ASSERT_TRUE(open_store()); }
  const int newer = SqliteStore::latest_schema_version() + 1;
  {
    RawDb raw(db_path());
    ASSERT_EQ(raw.exec("PRAGMA user_version = " + std::to_string(newer)), SQLITE_OK);
  }
  auto opened = SqliteStore::open(db_path());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "storage_incompatible");
  EXPECT_NE(opened.error().message.find("newer gridshift"), std::string::npos)
      << opened.error().message;
  // Refusing must not have touched it.
  RawDb raw(db_path());
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(newer));
}

TEST_F(SqliteStoreTest, ACorruptedFileIsRefused) {
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->upsert(hourly_actuals(3000)));  // enough rows for many pages
    ASSERT_TRUE(store->insert(make_job("victim"), make_event("victim", "submitted")));
  }
  ASSERT_FALSE(fs::exists(db_path() + "-wal") && fs::file_size(db_path() + "-wal") > 0)
      << "the WAL should be checkpointed on close";
  const auto size = fs::file_size(db_path());
  ASSERT_GT(size, 8u * 4096u);
  {
    // Garbage over pages 3..6, leaving the header and the schema page intact.
    std::fstream file(db_path(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(2 * 4096);
    std::string garbage(4 * 4096, '\0');
    for (std::size_t i = 0; i < garbage.size(); ++i)
      garbage[i] = static_cast<char>((i * 131) % 251);
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  auto opened = SqliteStore::open(db_path());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "storage_corrupt") << opened.error().message;
  EXPECT_NE(opened.error().message.find(db_path()), std::string::npos) << opened.error().message;
}

TEST_F(SqliteStoreTest, AFileThatIsNotADatabaseIsRefused) {
  {
    std::ofstream file(db_path(), std::ios::binary);
    file << std::string(8192, 'x');
  }
  auto opened = SqliteStore::open(db_path());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "storage_corrupt") << opened.error().message;
  EXPECT_NE(opened.error().message.find(db_path()), std::string::npos) << opened.error().message;
}

TEST_F(SqliteStoreTest, AMissingDirectoryIsAClearOpenError) {
  auto opened = SqliteStore::open((dir_.path() / "no" / "such" / "dir" / "g.db").string());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "storage_unavailable");
  EXPECT_NE(opened.error().message.find("no/such/dir"), std::string::npos)
      << opened.error().message;
}

TEST_F(SqliteStoreTest, JobEventsAreAppendOnlyInTheDatabase) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert(make_job("ao"), make_event("ao", "submitted")));
  RawDb raw(db_path());
  EXPECT_EQ(raw.exec("UPDATE job_events SET message = 'rewritten'"), SQLITE_CONSTRAINT);
  EXPECT_NE(raw.error().find("append-only"), std::string::npos) << raw.error();
  EXPECT_EQ(raw.exec("DELETE FROM job_events"), SQLITE_CONSTRAINT);
  EXPECT_NE(raw.error().find("append-only"), std::string::npos) << raw.error();
  auto events = store->events("ao");
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].message, "submitted");
}

TEST_F(SqliteStoreTest, EventsMustBelongToAJob) {
  auto store = open_store();
  ASSERT_TRUE(store);
  RawDb raw(db_path());
  ASSERT_EQ(raw.exec("PRAGMA foreign_keys = ON"), SQLITE_OK);
  EXPECT_EQ(raw.exec("INSERT INTO job_events (job_id, at, type, message) VALUES ('none', 0, "
                     "'state', 'orphan')"),
            SQLITE_CONSTRAINT);
}

TEST_F(SqliteStoreTest, AWriteLockedByAnotherConnectionFailsBusyAfterTheTimeout) {
  SqliteOpenOptions options;
  options.busy_timeout = std::chrono::milliseconds{50};
  auto store = open_store(options);
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->pragma("busy_timeout"), "50");
  RawDb other(db_path());
  ASSERT_EQ(other.exec("BEGIN EXCLUSIVE"), SQLITE_OK);

  auto inserted = store->insert(make_job("blocked"), make_event("blocked", "submitted"));
  ASSERT_FALSE(inserted);
  EXPECT_EQ(inserted.error().code, "storage_busy") << inserted.error().message;
  auto upserted = store->upsert(hourly_actuals(2));
  ASSERT_FALSE(upserted);
  EXPECT_EQ(upserted.error().code, "storage_busy");

  ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
  // Nothing half-done was left behind, and the store works again.
  auto retried = store->insert(make_job("blocked"), make_event("blocked", "submitted"));
  ASSERT_TRUE(retried) << to_string(retried.error());
  EXPECT_EQ(store->events("blocked")->size(), 1u);
}

TEST_F(SqliteStoreTest, AFailedTransactionLeavesNoTrace) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert(make_job("t1"), make_event("t1", "submitted")));
  // Changing t2's idempotency key to t1's violates the unique index inside update(): the event
  // that update() would append must not survive.
  Job t2 = make_job("t2");
  ASSERT_TRUE(store->insert(t2, make_event("t2", "submitted")));
  t2.idempotency_key = "key-t1";
  auto updated = store->update(t2, make_event("t2", "state"));
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, "conflict");
  EXPECT_EQ(store->events("t2")->size(), 1u);
  EXPECT_EQ((*store->get("t2"))->idempotency_key, std::optional<std::string>("key-t2"));
}

TEST(SqliteDbTest, ErrorCodesFollowTheSqliteResultCode) {
  EXPECT_EQ(sqlite::error_code_for(SQLITE_FULL), "storage_full");
  EXPECT_EQ(sqlite::error_code_for(SQLITE_BUSY), "storage_busy");
  EXPECT_EQ(sqlite::error_code_for(SQLITE_BUSY_SNAPSHOT), "storage_busy");
  EXPECT_EQ(sqlite::error_code_for(SQLITE_LOCKED), "storage_busy");
  EXPECT_EQ(sqlite::error_code_for(SQLITE_IOERR_FSYNC), "storage_unavailable");
  EXPECT_EQ(sqlite::error_code_for(SQLITE_CORRUPT), "storage_corrupt");
  EXPECT_EQ(sqlite::error_code_for(SQLITE_CONSTRAINT_UNIQUE), "conflict");
}

TEST(SqliteDbTest, TransactionRollsBackUnlessCommitted) {
  TempDir dir;
  auto db = std::make_unique<sqlite::Connection>();
  ASSERT_TRUE(db->open((dir.path() / "t.db").string()));
  ASSERT_TRUE(db->exec("CREATE TABLE t (v INTEGER)"));
  {
    auto tx = sqlite::Transaction::begin(*db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db->exec("INSERT INTO t VALUES (1)"));
  }
  EXPECT_EQ(*db->query_int64("SELECT count(*) FROM t"), 0);
  {
    auto tx = sqlite::Transaction::begin(*db);
    ASSERT_TRUE(tx);
    auto s = db->cached("INSERT INTO t VALUES (?1)");
    ASSERT_TRUE(s);
    (*s)->bind(1, std::int64_t{42});
    ASSERT_TRUE((*s)->run());
    ASSERT_TRUE(tx->commit());
  }
  EXPECT_EQ(*db->query_int64("SELECT sum(v) FROM t"), 42);
  EXPECT_FALSE(db->in_transaction());
}

TEST(SqliteDbTest, ABadStatementReportsSqlitesMessage) {
  TempDir dir;
  auto db = std::make_unique<sqlite::Connection>();
  ASSERT_TRUE(db->open((dir.path() / "t.db").string()));
  auto bad = db->prepare("SELEKT 1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "storage_unavailable");
  EXPECT_NE(bad.error().message.find("syntax error"), std::string::npos) << bad.error().message;
}

TEST_F(SqliteStoreTest, AnUnreadableRowIsReportedAndNeverFailsTheList) {
  auto store = open_store();
  ASSERT_TRUE(store);
  for (const char* id : {"a", "b", "c"})
    ASSERT_TRUE(store->insert(make_job(id), make_event(id, "submitted")));
  RawDb raw(db_path());
  ASSERT_EQ(raw.exec("UPDATE job_specs SET spec_json = 'not json {' WHERE job_id = 'b'; "
                     "UPDATE jobs SET summary_json = '' WHERE id = 'b'"),
            SQLITE_OK)
      << raw.error();
  for (bool summary : {false, true}) {
    JobQuery query;
    query.summary = summary;
    query.limit = 2;
    auto first = store->list(query);
    ASSERT_TRUE(first) << to_string(first.error());
    ASSERT_EQ(first->jobs.size(), 1u) << summary;
    EXPECT_EQ(first->jobs[0].id, "a");
    ASSERT_EQ(first->unreadable.size(), 1u);
    EXPECT_EQ(first->unreadable[0].id, "b");
    EXPECT_NE(first->unreadable[0].reason.find("spec of job b"), std::string::npos);
    // The unreadable row counts toward the page: the cursor moves past it.
    ASSERT_TRUE(first->next);
    query.after = first->next;
    auto second = store->list(query);
    ASSERT_TRUE(second);
    ASSERT_EQ(second->jobs.size(), 1u);
    EXPECT_EQ(second->jobs[0].id, "c");
  }
  ASSERT_TRUE(store->quarantine("b", "unreadable", at(19)));
  JobQuery queued;
  queued.state = JobState::queued;
  auto page = store->list(queued);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->jobs.size(), 2u);
  EXPECT_TRUE(page->unreadable.empty());
}

// Rows moved from schema version 1 have no summary yet: open() makes it from the whole spec.
TEST_F(SqliteStoreTest, RowsWithoutASummaryGetOneOnOpen) {
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    Job job = make_job("old");
    job.spec.local = LocalSpec{{"python3", "train.py"}};
    ASSERT_TRUE(store->insert(job, make_event("old", "submitted")));
  }
  {
    RawDb raw(db_path());
    ASSERT_EQ(raw.exec("UPDATE jobs SET summary_json = ''"), SQLITE_OK);
    ASSERT_EQ(raw.text("SELECT summary_json FROM jobs WHERE id = 'old'"), "");
  }
  std::vector<std::pair<std::size_t, std::size_t>> progress;
  SqliteOpenOptions options;
  options.migration_progress = [&](std::size_t done, std::size_t total) {
    progress.emplace_back(done, total);
  };
  auto store = open_store(options);
  ASSERT_TRUE(store);
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0], std::make_pair(std::size_t{0}, std::size_t{1}));
  RawDb raw(db_path());
  const auto summary = raw.text("SELECT summary_json FROM jobs WHERE id = 'old'");
  EXPECT_NE(summary.find("\"duration_s\":7200"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("train.py"), std::string::npos) << summary;
  JobQuery query;
  query.summary = true;
  auto page = store->list(query);
  ASSERT_TRUE(page && page->jobs.size() == 1u);
  EXPECT_EQ(page->jobs[0].spec.duration, hours{2});
}

// The whole spec sits in a table of its own: reading a job's state never reads its spec.
TEST_F(SqliteStoreTest, WholeSpecsLiveOutsideTheJobsTable) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert(make_job("s"), make_event("s", "submitted")));
  RawDb raw(db_path());
  EXPECT_EQ(raw.text("SELECT count(*) FROM pragma_table_info('jobs') WHERE name = 'spec_json'"),
            "0");
  EXPECT_NE(raw.text("SELECT spec_json FROM job_specs WHERE job_id = 's'").find("train-s"),
            std::string::npos);
}

}  // namespace
}  // namespace gridshift
