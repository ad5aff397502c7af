#include "storage/sqlite/sqlite_store.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "core/accounting.h"
#include "core/job_spec.h"
#include "core/units.h"
#include "storage/rows/rows.h"

namespace gridshift {
namespace {

using sqlite::Connection;
using sqlite::Statement;
using sqlite::Transaction;

// The schema, one entry per version: entry i takes a database from user_version i to i + 1.
// Entries are never edited once released; a change of schema is a new entry at the end.
constexpr auto kMigrations = std::to_array<std::string_view>({
    R"sql(
CREATE TABLE readings (
  feed TEXT NOT NULL,
  location TEXT NOT NULL,
  signal TEXT NOT NULL,
  kind TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  step INTEGER NOT NULL,
  value REAL NOT NULL,
  issued_at INTEGER NOT NULL,
  fetched_at INTEGER NOT NULL,
  estimated INTEGER NOT NULL DEFAULT 0,
  renewable_percent REAL,
  fossil_free_percent REAL,
  PRIMARY KEY (feed, location, signal, kind, issued_at, timestamp)
);
-- latest_actual (newest by timestamp).
CREATE INDEX readings_by_time ON readings (feed, location, kind, timestamp);
-- actuals and forecast select by overlap: the end of an interval bounds the scan from below,
-- so a query about the recent past or the future reads only rows that end after its start.
-- The queries name their index (INDEXED BY): without statistics the planner would prefer
-- readings_by_time and scan the whole history below `to`.
CREATE INDEX readings_by_end ON readings (feed, location, kind, timestamp + step);
-- forecasts_issued.
CREATE INDEX readings_by_issue ON readings (feed, location, kind, issued_at);

CREATE TABLE jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  owner_uid INTEGER NOT NULL,
  spec_json TEXT NOT NULL,
  state TEXT NOT NULL,
  submitted_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deadline INTEGER NOT NULL,
  regions_json TEXT NOT NULL,
  power_watts REAL NOT NULL,
  idempotency_key TEXT,
  region TEXT,
  planned_start INTEGER,
  started_at INTEGER,
  finished_at INTEGER,
  remote_name TEXT,
  error TEXT NOT NULL DEFAULT '',
  accounting_json TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (owner_uid, idempotency_key);
CREATE INDEX jobs_by_state ON jobs (state, seq);

CREATE TABLE job_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL REFERENCES jobs (id),
  at INTEGER NOT NULL,
  type TEXT NOT NULL,
  message TEXT NOT NULL,
  data_json TEXT NOT NULL DEFAULT ''
);
CREATE INDEX job_events_by_job ON job_events (job_id, seq);
CREATE TRIGGER job_events_no_update BEFORE UPDATE ON job_events
BEGIN
  SELECT RAISE(ABORT, 'job_events is append-only');
END;
CREATE TRIGGER job_events_no_delete BEFORE DELETE ON job_events
BEGIN
  SELECT RAISE(ABORT, 'job_events is append-only');
END;

CREATE TABLE dispatch_journal (
  job_id TEXT NOT NULL REFERENCES jobs (id),
  attempt INTEGER NOT NULL,
  target TEXT NOT NULL,
  region TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  remote_name TEXT,
  detail TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (job_id, attempt)
);
CREATE INDEX dispatch_journal_by_status ON dispatch_journal (status, created_at);
)sql",
    // Version 2: whole specs move to a table of their own and jobs carry a compact summary
    // (JobQuery::summary), so that the scheduler and job lists never read or parse whole
    // specs. (A 64 KiB spec inside the jobs row put every later column behind its overflow
    // pages: reading a job's state meant reading its spec.) '' until filled in: open() fills
    // the summaries of rows moved here.
    R"sql(
CREATE TABLE job_specs (
  job_id TEXT PRIMARY KEY REFERENCES jobs (id),
  spec_json TEXT NOT NULL
);
INSERT INTO job_specs (job_id, spec_json) SELECT id, spec_json FROM jobs;
ALTER TABLE jobs DROP COLUMN spec_json;
ALTER TABLE jobs ADD COLUMN summary_json TEXT NOT NULL DEFAULT '';
CREATE INDEX jobs_by_owner_state ON jobs (owner_uid, state);
)sql",
    // Version 3: interruptible jobs dispatch once per segment; the journal says which segment
    // each attempt started (0 for other jobs).
    R"sql(
ALTER TABLE dispatch_journal ADD COLUMN segment INTEGER NOT NULL DEFAULT 0;
)sql",
    // Version 4: a reading keeps its per-source consumption shares (JSON object, '' = none).
    R"sql(
ALTER TABLE readings ADD COLUMN mix_json TEXT NOT NULL DEFAULT '';
)sql",
});

// A job with its whole spec (read_job's column order); from kJobsWithSpecs.
constexpr std::string_view kJobColumns =
    "id, owner_uid, job_specs.spec_json, state, submitted_at, updated_at, deadline, "
    "regions_json, power_watts, idempotency_key, region, planned_start, started_at, finished_at, "
    "remote_name, error, accounting_json";
// LEFT: a job whose spec row is missing reads as unreadable (an empty spec), never as absent.
constexpr std::string_view kJobsWithSpecs =
    "jobs LEFT JOIN job_specs ON job_specs.job_id = jobs.id";

// kJobColumns with the spec's summary in the place of the spec (JobQuery::summary), from the
// jobs table alone.
constexpr std::string_view kJobSummaryColumns =
    "id, owner_uid, summary_json, state, submitted_at, updated_at, deadline, regions_json, "
    "power_watts, idempotency_key, region, planned_start, started_at, finished_at, remote_name, "
    "error, accounting_json";

constexpr std::string_view kReadingColumns =
    "feed, location, signal, kind, timestamp, step, value, issued_at, fetched_at, estimated, "
    "renewable_percent, fossil_free_percent, mix_json";

constexpr std::string_view kJournalColumns =
    "job_id, attempt, target, region, status, created_at, updated_at, remote_name, detail, "
    "segment";

std::string select_jobs(std::string_view tail) {
  return "SELECT " + std::string(kJobColumns) + " FROM " + std::string(kJobsWithSpecs) + " " +
         std::string(tail);
}

std::string select_journal(std::string_view tail) {
  return "SELECT " + std::string(kJournalColumns) + " FROM dispatch_journal " + std::string(tail);
}

using rows::from_unix;
using rows::to_unix;

// Reads a row selected with kJobColumns, or with kJobSummaryColumns when `summary`. A summary
// is missing only where open() could not make one: the spec itself is unreadable.
Result<Job> read_job(const Statement& s, bool summary = false) {
  rows::JobRow row;
  row.id = s.column_text(0);
  row.owner_uid = s.column_int64(1);
  row.spec = s.column_text(2);
  row.state = s.column_text(3);
  row.submitted_at = s.column_int64(4);
  row.updated_at = s.column_int64(5);
  row.deadline = s.column_int64(6);
  row.regions_json = s.column_text(7);
  row.power_watts = s.column_double(8);
  row.idempotency_key = s.column_optional_text(9);
  row.region = s.column_optional_text(10);
  row.planned_start = s.column_optional_int64(11);
  row.started_at = s.column_optional_int64(12);
  row.finished_at = s.column_optional_int64(13);
  row.remote_name = s.column_optional_text(14);
  row.error = s.column_text(15);
  row.accounting_json = s.column_text(16);
  return rows::job_from_row(std::move(row), summary);
}

// The jobs table's own columns, in bind_job's order (?1 .. ?16). The spec is not among them: it
// lives in job_specs, written once at insert (a summary job has no whole spec to write back).
constexpr std::string_view kJobRowColumns =
    "id, owner_uid, state, submitted_at, updated_at, deadline, regions_json, power_watts, "
    "idempotency_key, region, planned_start, started_at, finished_at, remote_name, error, "
    "accounting_json";

void bind_job(Statement& s, const Job& job) {
  const rows::JobRow row = rows::job_row(job);
  s.bind(1, row.id)
      .bind(2, row.owner_uid)
      .bind(3, row.state)
      .bind(4, row.submitted_at)
      .bind(5, row.updated_at)
      .bind(6, row.deadline)
      .bind(7, row.regions_json)
      .bind(8, row.power_watts)
      .bind(9, row.idempotency_key)
      .bind(10, row.region)
      .bind(11, row.planned_start)
      .bind(12, row.started_at)
      .bind(13, row.finished_at)
      .bind(14, row.remote_name)
      .bind(15, row.error)
      .bind(16, row.accounting_json);
}

Result<Reading> read_reading(const Statement& s) {
  rows::ReadingRow row;
  row.feed = s.column_text(0);
  row.location = s.column_text(1);
  row.signal = s.column_text(2);
  row.kind = s.column_text(3);
  row.timestamp = s.column_int64(4);
  row.step = s.column_int64(5);
  row.value = s.column_double(6);
  row.issued_at = s.column_int64(7);
  row.fetched_at = s.column_int64(8);
  row.estimated = s.column_int64(9) != 0;
  row.renewable_percent = s.column_optional_double(10);
  row.fossil_free_percent = s.column_optional_double(11);
  row.mix_json = s.column_text(12);
  return rows::reading_from_row(std::move(row));
}

Result<DispatchRecord> read_record(const Statement& s) {
  rows::JournalRow row;
  row.job_id = s.column_text(0);
  row.attempt = s.column_int64(1);
  row.target = s.column_text(2);
  row.region = s.column_text(3);
  row.status = s.column_text(4);
  row.created_at = s.column_int64(5);
  row.updated_at = s.column_int64(6);
  row.remote_name = s.column_optional_text(7);
  row.detail = s.column_text(8);
  row.segment = s.column_int64(9);
  return rows::record_from_row(std::move(row));
}

Result<std::vector<DispatchRecord>> read_records(Statement& s) {
  std::vector<DispatchRecord> out;
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return out;
    auto record = read_record(s);
    if (!record) return record.error();
    out.push_back(std::move(*record));
  }
}

// The quick check answers "ok" or one line per problem found.
Error unusable(const std::string& path, Error error) {
  error.message = path + " is not a usable gridshift database: " + error.message;
  return error;
}

Status quick_check(Connection& db, const std::string& path) {
  // A file that is not a database at all fails already here, with SQLITE_NOTADB.
  auto statement = db.prepare("PRAGMA quick_check");
  if (!statement) return unusable(path, statement.error());
  std::string findings;
  for (;;) {
    auto row = statement->step();
    if (!row) return unusable(path, row.error());
    if (!*row) break;
    const std::string line = statement->column_text(0);
    if (line == "ok") continue;
    if (!findings.empty()) findings += "; ";
    findings += line;
  }
  if (findings.empty()) return {};
  return make_error(errc::kStorageCorrupt, path + " is corrupt: " + findings);
}

Status migrate(Connection& db, int from_version) {
  for (auto version = static_cast<std::size_t>(from_version); version < kMigrations.size();
       ++version) {
    auto transaction = Transaction::begin(db);
    if (!transaction) return transaction.error();
    // Another process may have migrated while this one waited for the write lock.
    auto current = db.query_int64("PRAGMA user_version");
    if (!current) return current.error();
    if (static_cast<std::size_t>(*current) > version) continue;
    if (auto done = db.exec(kMigrations[version]); !done) return done.error();
    if (auto done = db.exec("PRAGMA user_version = " + std::to_string(version + 1)); !done) {
      return done.error();
    }
    if (auto done = transaction->commit(); !done) return done.error();
  }
  return {};
}

}  // namespace

int SqliteStore::latest_schema_version() {
  return static_cast<int>(kMigrations.size());
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                       const OpenOptions& options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(path));
  if (auto done = store->open_database(options); !done) return done.error();
  return store;
}

Status SqliteStore::open_database(const OpenOptions& options) {
  const std::string& path = path_;
  if (auto done = db_.open(path); !done) return done.error();
  if (auto done = db_.set_busy_timeout(options.busy_timeout); !done) return done.error();

  // Before anything writes to the file: a damaged one is refused as it is.
  if (auto checked = quick_check(db_, path); !checked) return checked.error();

  auto mode = db_.query_text("PRAGMA journal_mode = WAL");
  if (!mode) return mode.error();
  if (*mode != "wal") {
    return make_error("storage_unavailable",
                      path + ": cannot use write-ahead logging (journal_mode is " + *mode + ")");
  }
  if (auto done = db_.exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"); !done) {
    return done.error();
  }

  auto version = db_.query_int64("PRAGMA user_version");
  if (!version) return version.error();
  if (*version > latest_schema_version()) {
    return make_error("storage_incompatible",
                      path + " has schema version " + std::to_string(*version) +
                          ", written by a newer gridshift (this one knows up to " +
                          std::to_string(latest_schema_version()) + ")");
  }
  if (*version < 0) {
    return make_error(errc::kStorageCorrupt, path + " has a negative schema version");
  }
  if (auto done = migrate(db_, static_cast<int>(*version)); !done) return done.error();

  if (auto done = fill_missing_summaries(options); !done) return done.error();
  schema_version_ = latest_schema_version();
  return {};
}

Status SqliteStore::fill_missing_summaries(const OpenOptions& options) {
  std::vector<std::pair<std::string, std::string>> rows;
  {
    auto s = db_.prepare("SELECT id, job_specs.spec_json FROM " + std::string(kJobsWithSpecs) +
                         " WHERE summary_json = ''");
    if (!s) return s.error();
    for (;;) {
      auto row = s->step();
      if (!row) return row.error();
      if (!*row) break;
      rows.emplace_back(s->column_text(0), s->column_text(1));
    }
  }
  if (rows.empty()) return {};
  auto transaction = Transaction::begin(db_);
  if (!transaction) return transaction.error();
  std::size_t done_rows = 0;
  for (const auto& [id, spec_json] : rows) {
    if (options.migration_progress && done_rows % 250 == 0) {
      options.migration_progress(done_rows, rows.size());
    }
    ++done_rows;
    // An unreadable spec keeps its empty summary: lists report the row as unreadable.
    auto spec = parse_job_spec(spec_json);
    if (!spec) continue;
    auto s = db_.cached("UPDATE jobs SET summary_json = ?2 WHERE id = ?1");
    if (!s) return s.error();
    (*s)->bind(1, id).bind(2, rows::summary_json(*spec));
    if (auto done = (*s)->run(); !done) return done.error();
  }
  return transaction->commit();
}

Status SqliteStore::check_integrity() {
  auto statement = db_.prepare("PRAGMA integrity_check");
  if (!statement) return statement.error();
  std::string findings;
  for (;;) {
    auto row = statement->step();
    if (!row) return row.error();
    if (!*row) break;
    const std::string line = statement->column_text(0);
    if (line == "ok") continue;
    if (!findings.empty()) findings += "; ";
    findings += line;
  }
  if (findings.empty()) return {};
  return make_error(errc::kStorageCorrupt, path_ + " failed the integrity check: " + findings);
}

Result<std::string> SqliteStore::pragma(std::string_view name) {
  const bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || c == '_';
  });
  if (!plain) {
    return make_error("invalid_request", "not a pragma name",
                      {FieldError{"pragma", std::string(name), 0}});
  }
  return db_.query_text("PRAGMA " + std::string(name));
}

// ---------------------------------------------------------------------------------------------
// JobStore

Result<std::optional<Job>> SqliteStore::find_job(std::string_view id) {
  static const std::string sql = select_jobs("WHERE id = ?1");
  auto s = db_.cached(sql);
  if (!s) return s.error();
  (*s)->bind(1, id);
  auto row = (*s)->step();
  if (!row) return row.error();
  if (!*row) return std::optional<Job>();
  auto job = read_job(**s);
  if (!job) return job.error();
  return std::optional<Job>(std::move(*job));
}

Result<std::optional<Job>> SqliteStore::find_by_idempotency_key(std::uint32_t owner,
                                                                const std::string& key) {
  static const std::string sql = select_jobs("WHERE owner_uid = ?1 AND idempotency_key = ?2");
  auto s = db_.cached(sql);
  if (!s) return s.error();
  (*s)->bind(1, owner).bind(2, key);
  auto row = (*s)->step();
  if (!row) return row.error();
  if (!*row) return std::optional<Job>();
  auto job = read_job(**s);
  if (!job) return job.error();
  return std::optional<Job>(std::move(*job));
}

Status SqliteStore::append_event(const JobEvent& event) {
  auto s = db_.cached(
      "INSERT INTO job_events (job_id, at, type, message, data_json) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!s) return s.error();
  (*s)->bind(1, event.job_id)
      .bind(2, to_unix(event.at))
      .bind(3, event.type)
      .bind(4, event.message)
      .bind(5, event.data_json);
  return (*s)->run();
}

Result<Job> SqliteStore::insert(const Job& job, const JobEvent& first_event) {
  auto results = insert_batch({JobInsert{job, first_event}});
  if (!results) return results.error();
  return std::move(results->front());
}

Result<std::vector<Result<Job>>> SqliteStore::insert_batch(const std::vector<JobInsert>& items) {
  auto transaction = Transaction::begin(db_);
  if (!transaction) return transaction.error();
  auto results = rows::insert_each(
      items, [this](const JobInsert& item) { return insert_one(item.job, item.first_event); });
  if (!results) return results;
  if (auto done = transaction->commit(); !done) return done.error();
  return results;
}

Result<Job> SqliteStore::insert_one(const Job& job, const JobEvent& first_event) {
  if (job.idempotency_key) {
    auto existing = find_by_idempotency_key(job.owner_uid, *job.idempotency_key);
    if (!existing) return existing.error();
    if (*existing) return std::move(**existing);
  }
  auto same_id = find_job(job.id);
  if (!same_id) return same_id.error();
  if (*same_id) return make_error(errc::kConflict, "job " + job.id + " already exists");

  {
    auto s =
        db_.cached("INSERT INTO jobs (" + std::string(kJobRowColumns) +
                   ", summary_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
                   "?13, ?14, ?15, ?16, ?17)");
    if (!s) return s.error();
    bind_job(**s, job);
    (*s)->bind(17, rows::summary_json(job.spec));
    if (auto done = (*s)->run(); !done) return done.error();
  }
  {
    auto s = db_.cached("INSERT INTO job_specs (job_id, spec_json) VALUES (?1, ?2)");
    if (!s) return s.error();
    (*s)->bind(1, job.id).bind(2, rows::spec_json(job.spec));
    if (auto done = (*s)->run(); !done) return done.error();
  }
  JobEvent event = first_event;
  event.job_id = job.id;
  if (auto done = append_event(event); !done) return done.error();
  return job;
}

Status SqliteStore::update(const Job& job, const JobEvent& event) {
  return update_job(job, std::nullopt, event);
}

Status SqliteStore::update_if(const Job& job, JobState expected, const JobEvent& event) {
  return update_job(job, expected, event);
}

Status SqliteStore::update_job(const Job& job, std::optional<JobState> expected,
                               const JobEvent& event) {
  auto transaction = Transaction::begin(db_);
  if (!transaction) return transaction.error();
  {
    auto s = db_.cached(
        "UPDATE jobs SET owner_uid = ?2, state = ?3, submitted_at = ?4, "
        "updated_at = ?5, deadline = ?6, regions_json = ?7, power_watts = ?8, "
        "idempotency_key = ?9, region = ?10, planned_start = ?11, started_at = ?12, "
        "finished_at = ?13, remote_name = ?14, error = ?15, accounting_json = ?16 "
        "WHERE id = ?1 AND (?17 IS NULL OR state = ?17)");
    if (!s) return s.error();
    bind_job(**s, job);
    std::optional<std::string_view> state;
    if (expected) state = to_string(*expected);
    (*s)->bind(17, state);
    if (auto done = (*s)->run(); !done) return done.error();
  }
  if (db_.changes() == 0) {
    auto current = db_.cached("SELECT state FROM jobs WHERE id = ?1");
    if (!current) return current.error();
    (*current)->bind(1, job.id);
    auto row = (*current)->step();
    if (!row) return row.error();
    if (!*row) return make_error(errc::kNotFound, "no job " + job.id);
    return make_error(errc::kConflict, "job " + job.id + " is " + (*current)->column_text(0) +
                                           ", not " + std::string(to_string(*expected)));
  }
  JobEvent appended = event;
  appended.job_id = job.id;
  if (auto done = append_event(appended); !done) return done.error();
  return transaction->commit();
}

Result<std::optional<Job>> SqliteStore::get(std::string_view id) {
  return find_job(id);
}

Result<JobPage> SqliteStore::list(const JobQuery& query) {
  JobPage page;
  if (query.limit == 0) return page;

  std::int64_t after_seq = 0;
  if (query.after) {
    auto s = db_.cached("SELECT seq FROM jobs WHERE id = ?1");
    if (!s) return s.error();
    (*s)->bind(1, *query.after);
    auto row = (*s)->step();
    if (!row) return row.error();
    if (!*row) {
      return make_error("invalid_request", "unknown page cursor",
                        {FieldError{"after", "no job " + *query.after, 0}});
    }
    after_seq = (*s)->column_int64(0);
  }

  static const std::string tail =
      "WHERE seq > ?1 AND (?2 IS NULL OR state = ?2) ORDER BY seq LIMIT ?3";
  static const std::string sql = select_jobs(tail);
  static const std::string summary_sql =
      "SELECT " + std::string(kJobSummaryColumns) + " FROM jobs " + tail;
  auto s = db_.cached(query.summary ? summary_sql : sql);
  if (!s) return s.error();
  std::optional<std::string_view> state;
  if (query.state) state = to_string(*query.state);
  // One row more than asked tells whether there is a next page.
  const auto fetch = static_cast<std::int64_t>(
      std::min<std::size_t>(query.limit, static_cast<std::size_t>(INT64_MAX - 1)) + 1);
  (*s)->bind(1, after_seq).bind(2, state).bind(3, fetch);
  // Unreadable rows count toward the page like the others, so the cursor moves past them.
  std::size_t rows = 0;
  std::string last_id;
  for (;;) {
    auto row = (*s)->step();
    if (!row) return row.error();
    if (!*row) break;
    if (rows == query.limit) {
      page.next = last_id;
      break;
    }
    ++rows;
    last_id = (*s)->column_text(0);
    auto job = read_job(**s, query.summary);
    if (!job) {
      if (!job.error().is(errc::kStorageCorrupt)) return job.error();
      page.unreadable.push_back({last_id, job.error().message});
      continue;
    }
    page.jobs.push_back(std::move(*job));
  }
  return page;
}

Status SqliteStore::quarantine(std::string_view id, const std::string& reason, TimePoint now) {
  auto transaction = Transaction::begin(db_);
  if (!transaction) return transaction.error();
  {
    auto s = db_.cached(
        "UPDATE jobs SET state = 'failed', error = ?2, updated_at = ?3, finished_at = ?3 "
        "WHERE id = ?1");
    if (!s) return s.error();
    (*s)->bind(1, id).bind(2, reason).bind(3, to_unix(now));
    if (auto done = (*s)->run(); !done) return done.error();
  }
  if (db_.changes() == 0) return make_error(errc::kNotFound, "no job " + std::string(id));
  JobEvent event;
  event.job_id = std::string(id);
  event.at = now;
  event.type = "quarantined";
  event.message = "failed: " + reason;
  if (auto done = append_event(event); !done) return done.error();
  return transaction->commit();
}

Result<std::size_t> SqliteStore::count_owned(JobState state, std::uint32_t owner_uid) {
  auto s = db_.cached("SELECT COUNT(*) FROM jobs WHERE owner_uid = ?1 AND state = ?2");
  if (!s) return s.error();
  (*s)->bind(1, owner_uid).bind(2, to_string(state));
  auto row = (*s)->step();
  if (!row) return row.error();
  if (!*row) return std::size_t{0};
  return static_cast<std::size_t>((*s)->column_int64(0));
}

Result<std::size_t> SqliteStore::count(std::optional<JobState> state) {
  std::optional<std::string_view> text;
  if (state) text = to_string(*state);
  auto s = db_.cached("SELECT COUNT(*) FROM jobs WHERE ?1 IS NULL OR state = ?1");
  if (!s) return s.error();
  Statement& statement = **s;
  statement.bind(1, text);
  auto row = statement.step();
  if (!row) return row.error();
  if (!*row) return std::size_t{0};
  return static_cast<std::size_t>(statement.column_int64(0));
}

Result<std::vector<JobEvent>> SqliteStore::events(std::string_view job_id) {
  auto s = db_.cached(
      "SELECT seq, job_id, at, type, message, data_json FROM job_events WHERE job_id = ?1 "
      "ORDER BY seq");
  if (!s) return s.error();
  (*s)->bind(1, job_id);
  std::vector<JobEvent> out;
  for (;;) {
    auto row = (*s)->step();
    if (!row) return row.error();
    if (!*row) return out;
    JobEvent event;
    event.seq = (*s)->column_int64(0);
    event.job_id = (*s)->column_text(1);
    event.at = from_unix((*s)->column_int64(2));
    event.type = (*s)->column_text(3);
    event.message = (*s)->column_text(4);
    event.data_json = (*s)->column_text(5);
    out.push_back(std::move(event));
  }
}

// ---------------------------------------------------------------------------------------------
// ReadingStore

Result<std::vector<Reading>> SqliteStore::read_readings(Statement& statement) {
  std::vector<Reading> out;
  for (;;) {
    auto row = statement.step();
    if (!row) return row.error();
    if (!*row) return out;
    auto reading = read_reading(statement);
    if (!reading) return reading.error();
    out.push_back(std::move(*reading));
  }
}

Result<std::size_t> SqliteStore::upsert(std::span<const Reading> readings) {
  if (readings.empty()) return std::size_t{0};
  auto transaction = Transaction::begin(db_);
  if (!transaction) return transaction.error();
  static const std::string sql =
      "INSERT INTO readings (" + std::string(kReadingColumns) +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
      "ON CONFLICT (feed, location, signal, kind, issued_at, timestamp) DO UPDATE SET "
      "step = excluded.step, value = excluded.value, fetched_at = excluded.fetched_at, "
      "estimated = excluded.estimated, renewable_percent = excluded.renewable_percent, "
      "fossil_free_percent = excluded.fossil_free_percent, mix_json = excluded.mix_json";
  auto s = db_.cached(sql);
  if (!s) return s.error();
  for (const Reading& r : readings) {
    const rows::ReadingRow row = rows::reading_row(r);
    (*s)->bind(1, row.feed)
        .bind(2, row.location)
        .bind(3, row.signal)
        .bind(4, row.kind)
        .bind(5, row.timestamp)
        .bind(6, row.step)
        .bind(7, row.value)
        .bind(8, row.issued_at)
        .bind(9, row.fetched_at)
        .bind(10, row.estimated)
        .bind(11, row.renewable_percent)
        .bind(12, row.fossil_free_percent)
        .bind(13, row.mix_json);
    if (auto done = (*s)->run(); !done) return done.error();
    (*s)->reset();
  }
  if (auto done = transaction->commit(); !done) return done.error();
  return readings.size();
}

Result<std::vector<Reading>> SqliteStore::actuals(const std::string& feed,
                                                  const std::string& location, TimePoint from,
                                                  TimePoint to) {
  static const std::string sql = "SELECT " + std::string(kReadingColumns) +
                                 " FROM readings INDEXED BY readings_by_end WHERE feed = ?1 AND "
                                 "location = ?2 AND kind = '" +
                                 std::string(to_string(ReadingKind::actual)) +
                                 "' AND timestamp + step > ?3 AND timestamp < ?4 "
                                 "ORDER BY timestamp, signal, issued_at";
  auto s = db_.cached(sql);
  if (!s) return s.error();
  (*s)->bind(1, feed).bind(2, location).bind(3, to_unix(from)).bind(4, to_unix(to));
  return read_readings(**s);
}

Result<std::optional<Reading>> SqliteStore::latest_actual(const std::string& feed,
                                                          const std::string& location) {
  static const std::string sql = "SELECT " + std::string(kReadingColumns) +
                                 " FROM readings INDEXED BY readings_by_time WHERE feed = ?1 AND "
                                 "location = ?2 AND kind = '" +
                                 std::string(to_string(ReadingKind::actual)) +
                                 "' ORDER BY timestamp DESC, issued_at DESC, "
                                 "signal LIMIT 1";
  auto s = db_.cached(sql);
  if (!s) return s.error();
  (*s)->bind(1, feed).bind(2, location);
  auto rows = read_readings(**s);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Reading>();
  return std::optional<Reading>(std::move(rows->front()));
}

Result<std::vector<Reading>> SqliteStore::forecast(const std::string& feed,
                                                   const std::string& location, TimePoint from,
                                                   TimePoint to) {
  // Per timestamp, the row of the newest snapshot; a tie between signals goes to the first.
  // The window runs over rowids only, so the sort carries small rows; the winners are then
  // read whole.
  static const std::string sql =
      "SELECT " + std::string(kReadingColumns) +
      " FROM readings WHERE rowid IN (SELECT id FROM (SELECT rowid AS id, ROW_NUMBER() OVER "
      "(PARTITION BY timestamp ORDER BY issued_at DESC, signal) AS pick FROM readings INDEXED BY "
      "readings_by_end WHERE feed = ?1 AND location = ?2 AND kind = '" +
      std::string(to_string(ReadingKind::forecast)) +
      "' AND timestamp + step > ?3 AND timestamp < ?4) WHERE pick = 1) ORDER BY timestamp";
  auto s = db_.cached(sql);
  if (!s) return s.error();
  (*s)->bind(1, feed).bind(2, location).bind(3, to_unix(from)).bind(4, to_unix(to));
  return read_readings(**s);
}

Result<std::vector<Reading>> SqliteStore::forecasts_issued(const std::string& feed,
                                                           const std::string& location,
                                                           TimePoint from, TimePoint to) {
  static const std::string sql = "SELECT " + std::string(kReadingColumns) +
                                 " FROM readings INDEXED BY readings_by_issue WHERE feed = ?1 AND "
                                 "location = ?2 AND kind = '" +
                                 std::string(to_string(ReadingKind::forecast)) +
                                 "' AND issued_at >= ?3 AND issued_at < ?4 "
                                 "ORDER BY issued_at, timestamp, signal";
  auto s = db_.cached(sql);
  if (!s) return s.error();
  (*s)->bind(1, feed).bind(2, location).bind(3, to_unix(from)).bind(4, to_unix(to));
  return read_readings(**s);
}

Result<std::size_t> SqliteStore::prune(TimePoint cutoff) {
  auto transaction = Transaction::begin(db_);
  if (!transaction) return transaction.error();
  {
    auto s = db_.cached("DELETE FROM readings WHERE timestamp + step <= ?1");
    if (!s) return s.error();
    (*s)->bind(1, to_unix(cutoff));
    if (auto done = (*s)->run(); !done) return done.error();
  }
  const auto removed = static_cast<std::size_t>(db_.changes());
  if (auto done = transaction->commit(); !done) return done.error();
  return removed;
}

// ---------------------------------------------------------------------------------------------
// DispatchJournal

Status SqliteStore::record_intent(const DispatchRecord& record) {
  auto transaction = Transaction::begin(db_);
  if (!transaction) return transaction.error();
  auto job = find_job(record.job_id);
  if (!job) return job.error();
  if (!*job) return make_error(errc::kNotFound, "no job " + record.job_id);
  {
    auto s = db_.cached("SELECT 1 FROM dispatch_journal WHERE job_id = ?1 AND attempt = ?2");
    if (!s) return s.error();
    (*s)->bind(1, record.job_id).bind(2, record.attempt);
    auto row = (*s)->step();
    if (!row) return row.error();
    if (*row) {
      return make_error(errc::kConflict, "attempt " + std::to_string(record.attempt) + " of job " +
                                             record.job_id + " is already journalled");
    }
  }
  {
    auto s = db_.cached("INSERT INTO dispatch_journal (" + std::string(kJournalColumns) +
                        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!s) return s.error();
    const rows::JournalRow row = rows::journal_row(record);
    (*s)->bind(1, row.job_id)
        .bind(2, row.attempt)
        .bind(3, row.target)
        .bind(4, row.region)
        .bind(5, row.status)
        .bind(6, row.created_at)
        .bind(7, row.updated_at)
        .bind(8, row.remote_name)
        .bind(9, row.detail)
        .bind(10, row.segment);
    if (auto done = (*s)->run(); !done) return done.error();
  }
  return transaction->commit();
}

Status SqliteStore::update(const DispatchRecord& record) {
  auto transaction = Transaction::begin(db_);
  if (!transaction) return transaction.error();
  {
    auto s = db_.cached(
        "UPDATE dispatch_journal SET status = ?3, updated_at = ?4, remote_name = ?5, "
        "detail = ?6 WHERE job_id = ?1 AND attempt = ?2");
    if (!s) return s.error();
    (*s)->bind(1, record.job_id)
        .bind(2, record.attempt)
        .bind(3, to_string(record.status))
        .bind(4, to_unix(record.updated_at))
        .bind(5, record.remote_name)
        .bind(6, record.detail);
    if (auto done = (*s)->run(); !done) return done.error();
  }
  if (db_.changes() == 0) {
    return make_error(errc::kNotFound, "no attempt " + std::to_string(record.attempt) + " of job " +
                                           record.job_id + " in the dispatch journal");
  }
  return transaction->commit();
}

Result<std::vector<DispatchRecord>> SqliteStore::unresolved() {
  static const std::string sql =
      select_journal("WHERE status = '" + std::string(to_string(DispatchStatus::intent)) +
                     "' ORDER BY created_at, job_id, attempt");
  auto s = db_.cached(sql);
  if (!s) return s.error();
  return read_records(**s);
}

Result<std::vector<DispatchRecord>> SqliteStore::for_job(std::string_view job_id) {
  static const std::string sql = select_journal("WHERE job_id = ?1 ORDER BY attempt");
  auto s = db_.cached(sql);
  if (!s) return s.error();
  (*s)->bind(1, job_id);
  return read_records(**s);
}

}  // namespace gridshift
