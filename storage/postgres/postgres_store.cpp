#include "storage/postgres/postgres_store.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <string_view>
#include <tuple>
#include <utility>

#include "core/error_codes.h"
#include "storage/rows/rows.h"

namespace gridshift {
namespace {

using pg::param;
using pg::Param;
using pg::Rows;
using pg::Transaction;

// A granted advisory lock on the leader key in this database ($1, $2: the keys).
constexpr std::string_view kLeaseGranted =
    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid "
    "FROM pg_database WHERE datname = current_database()) AND classid = $1 AND objid = $2 AND "
    "objsubid = 2";
// NOTIFY channel of new jobs: delivered when the inserting transaction commits.
constexpr std::string_view kJobsChannel = "gridshift_jobs";

// The schema, one entry per version: entry i takes a database from version i to i + 1. Entries
// are never edited once released; a change of schema is a new entry at the end. The tables
// mirror the SQLite store's latest schema (storage/rows/ gives both the same column forms).
constexpr auto kMigrations = std::to_array<std::string_view>({
    R"sql(
CREATE TABLE readings (
  feed TEXT NOT NULL,
  location TEXT NOT NULL,
  signal TEXT NOT NULL,
  kind TEXT NOT NULL,
  "timestamp" BIGINT NOT NULL,
  step BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  issued_at BIGINT NOT NULL,
  fetched_at BIGINT NOT NULL,
  estimated BOOLEAN NOT NULL DEFAULT FALSE,
  renewable_percent DOUBLE PRECISION,
  fossil_free_percent DOUBLE PRECISION,
  mix_json TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (feed, location, signal, kind, issued_at, "timestamp")
);
CREATE INDEX readings_by_time ON readings (feed, location, kind, "timestamp");
-- actuals and forecast select by overlap: the end of an interval bounds the scan from below.
CREATE INDEX readings_by_end ON readings (feed, location, kind, ("timestamp" + step));
CREATE INDEX readings_by_issue ON readings (feed, location, kind, issued_at);

CREATE TABLE jobs (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  owner_uid BIGINT NOT NULL,
  state TEXT NOT NULL,
  submitted_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deadline BIGINT NOT NULL,
  regions_json TEXT NOT NULL,
  power_watts DOUBLE PRECISION NOT NULL,
  idempotency_key TEXT,
  region TEXT,
  planned_start BIGINT,
  started_at BIGINT,
  finished_at BIGINT,
  remote_name TEXT,
  error TEXT NOT NULL DEFAULT '',
  accounting_json TEXT NOT NULL DEFAULT '',
  summary_json TEXT NOT NULL
);
CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (owner_uid, idempotency_key);
CREATE INDEX jobs_by_state ON jobs (state, seq);
CREATE INDEX jobs_by_owner_state ON jobs (owner_uid, state);

CREATE TABLE job_specs (
  job_id TEXT PRIMARY KEY REFERENCES jobs (id),
  spec_json TEXT NOT NULL
);

CREATE TABLE job_events (
  seq BIGSERIAL PRIMARY KEY,
  job_id TEXT NOT NULL REFERENCES jobs (id),
  at BIGINT NOT NULL,
  type TEXT NOT NULL,
  message TEXT NOT NULL,
  data_json TEXT NOT NULL DEFAULT ''
);
CREATE INDEX job_events_by_job ON job_events (job_id, seq);
CREATE FUNCTION gridshift_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER job_events_append_only BEFORE UPDATE OR DELETE ON job_events
  FOR EACH ROW EXECUTE FUNCTION gridshift_append_only();

CREATE TABLE dispatch_journal (
  job_id TEXT NOT NULL REFERENCES jobs (id),
  attempt INTEGER NOT NULL,
  target TEXT NOT NULL,
  region TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  remote_name TEXT,
  detail TEXT NOT NULL DEFAULT '',
  segment INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, attempt)
);
CREATE INDEX dispatch_journal_by_status ON dispatch_journal (status, created_at);

-- Who took the leader lease last (one row), for health and /metrics on every instance.
CREATE TABLE leader (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  instance TEXT NOT NULL,
  since BIGINT NOT NULL
);
)sql",
});

constexpr std::string_view kJobColumns =
    "jobs.id, jobs.owner_uid, COALESCE(job_specs.spec_json, ''), jobs.state, jobs.submitted_at, "
    "jobs.updated_at, jobs.deadline, jobs.regions_json, jobs.power_watts, jobs.idempotency_key, "
    "jobs.region, jobs.planned_start, jobs.started_at, jobs.finished_at, jobs.remote_name, "
    "jobs.error, jobs.accounting_json";
constexpr std::string_view kJobsWithSpecs =
    " FROM jobs LEFT JOIN job_specs ON job_specs.job_id = jobs.id ";
constexpr std::string_view kJobSummaryColumns =
    "id, owner_uid, summary_json, state, submitted_at, updated_at, deadline, regions_json, "
    "power_watts, idempotency_key, region, planned_start, started_at, finished_at, remote_name, "
    "error, accounting_json";
// bind order $1 .. $16 (job_params).
constexpr std::string_view kJobRowColumns =
    "id, owner_uid, state, submitted_at, updated_at, deadline, regions_json, power_watts, "
    "idempotency_key, region, planned_start, started_at, finished_at, remote_name, error, "
    "accounting_json";
constexpr std::string_view kReadingColumns =
    "feed, location, signal, kind, \"timestamp\", step, value, issued_at, fetched_at, estimated, "
    "renewable_percent, fossil_free_percent, mix_json";
constexpr std::string_view kJournalColumns =
    "job_id, attempt, target, region, status, created_at, updated_at, remote_name, detail, "
    "segment";

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts)
    out += p;
  return out;
}

// Readings per multi-row upsert, and the columns of each (kReadingColumns).
constexpr std::size_t kUpsertRows = 100;
constexpr std::size_t kReadingFields = 13;

// INSERT ... VALUES ($1..$13), ($14..$26), ... ON CONFLICT DO UPDATE, for `rows` readings.
std::string upsert_sql(std::size_t rows) {
  std::string values;
  for (std::size_t r = 0; r < rows; ++r) {
    values += r == 0 ? "(" : ", (";
    for (std::size_t c = 0; c < kReadingFields; ++c) {
      if (c > 0) values += ", ";
      values += "$" + std::to_string(r * kReadingFields + c + 1);
    }
    values += ")";
  }
  return cat({"INSERT INTO readings (", kReadingColumns, ") VALUES ", values,
              " ON CONFLICT (feed, location, signal, kind, issued_at, \"timestamp\") DO UPDATE SET "
              "step = excluded.step, value = excluded.value, fetched_at = excluded.fetched_at, "
              "estimated = excluded.estimated, renewable_percent = excluded.renewable_percent, "
              "fossil_free_percent = excluded.fossil_free_percent, mix_json = excluded.mix_json"});
}

std::vector<Param> job_params(const Job& job) {
  const rows::JobRow row = rows::job_row(job);
  return {param(row.id),
          param(row.owner_uid),
          param(row.state),
          param(row.submitted_at),
          param(row.updated_at),
          param(row.deadline),
          param(row.regions_json),
          param(row.power_watts),
          param(row.idempotency_key),
          param(row.region),
          param(row.planned_start),
          param(row.started_at),
          param(row.finished_at),
          param(row.remote_name),
          param(row.error),
          param(row.accounting_json)};
}

Result<Job> read_job(const Rows& r, int i, bool summary) {
  rows::JobRow row;
  row.id = r.text(i, 0);
  row.owner_uid = r.int64(i, 1);
  row.spec = r.text(i, 2);
  row.state = r.text(i, 3);
  row.submitted_at = r.int64(i, 4);
  row.updated_at = r.int64(i, 5);
  row.deadline = r.int64(i, 6);
  row.regions_json = r.text(i, 7);
  row.power_watts = r.real(i, 8);
  row.idempotency_key = r.optional_text(i, 9);
  row.region = r.optional_text(i, 10);
  row.planned_start = r.optional_int64(i, 11);
  row.started_at = r.optional_int64(i, 12);
  row.finished_at = r.optional_int64(i, 13);
  row.remote_name = r.optional_text(i, 14);
  row.error = r.text(i, 15);
  row.accounting_json = r.text(i, 16);
  return rows::job_from_row(std::move(row), summary);
}

Result<Reading> read_reading(const Rows& r, int i) {
  rows::ReadingRow row;
  row.feed = r.text(i, 0);
  row.location = r.text(i, 1);
  row.signal = r.text(i, 2);
  row.kind = r.text(i, 3);
  row.timestamp = r.int64(i, 4);
  row.step = r.int64(i, 5);
  row.value = r.real(i, 6);
  row.issued_at = r.int64(i, 7);
  row.fetched_at = r.int64(i, 8);
  row.estimated = r.boolean(i, 9);
  row.renewable_percent = r.optional_real(i, 10);
  row.fossil_free_percent = r.optional_real(i, 11);
  row.mix_json = r.text(i, 12);
  return rows::reading_from_row(std::move(row));
}

Result<DispatchRecord> read_record(const Rows& r, int i) {
  rows::JournalRow row;
  row.job_id = r.text(i, 0);
  row.attempt = r.int64(i, 1);
  row.target = r.text(i, 2);
  row.region = r.text(i, 3);
  row.status = r.text(i, 4);
  row.created_at = r.int64(i, 5);
  row.updated_at = r.int64(i, 6);
  row.remote_name = r.optional_text(i, 7);
  row.detail = r.text(i, 8);
  row.segment = r.int64(i, 9);
  return rows::record_from_row(std::move(row));
}

// Every row read with `read` (a row that cannot be read fails the whole result).
template <class T, class Read>
Result<std::vector<T>> read_all(const Rows& rows, Read read) {
  std::vector<T> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    auto value = read(rows, i);
    if (!value) return value.error();
    out.push_back(std::move(*value));
  }
  return out;
}

Param state_param(std::optional<JobState> state) {
  if (!state) return std::nullopt;
  return param(to_string(*state));
}

std::string no_attempt(const DispatchRecord& record, std::string_view what) {
  return "attempt " + std::to_string(record.attempt) + " of job " + record.job_id +
         std::string(what);
}

}  // namespace

int PostgresStore::latest_schema_version() {
  return static_cast<int>(kMigrations.size());
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(const std::string& dsn,
                                                           const OpenOptions& options) {
  std::unique_ptr<PostgresStore> store(new PostgresStore());
  if (auto done = store->db_.open(dsn, options.connect); !done) return done.error();
  if (auto done = store->migrate(); !done) return done.error();
  store->description_ = store->db_.describe();
  return store;
}

Status PostgresStore::migrate() {
  auto transaction = Transaction::begin(db_);
  if (!transaction) return transaction.error();
  // Two daemons starting together: the second waits here, then finds the schema migrated.
  if (auto locked = db_.exec("SELECT pg_advisory_xact_lock($1, $2)",
                             {param(kLockClass), param(kMigrationLockKey)});
      !locked) {
    return locked.error();
  }
  if (auto done =
          db_.exec("CREATE TABLE IF NOT EXISTS gridshift_schema (version INTEGER NOT NULL)");
      !done) {
    return done.error();
  }
  auto current = db_.exec("SELECT version FROM gridshift_schema");
  if (!current) return current.error();
  std::int64_t version = 0;
  if (current->empty()) {
    if (auto done = db_.exec("INSERT INTO gridshift_schema (version) VALUES (0)"); !done) {
      return done.error();
    }
  } else {
    version = current->int64(0, 0);
  }
  if (version > latest_schema_version()) {
    return make_error("storage_incompatible",
                      db_.describe() + " has schema version " + std::to_string(version) +
                          ", written by a newer gridshift (this one knows up to " +
                          std::to_string(latest_schema_version()) + ")");
  }
  for (auto v = static_cast<std::size_t>(version); v < kMigrations.size(); ++v) {
    if (auto done = db_.exec_script(kMigrations[v]); !done) return done.error();
  }
  if (auto done =
          db_.exec("UPDATE gridshift_schema SET version = $1", {param(latest_schema_version())});
      !done) {
    return done.error();
  }
  if (auto done = transaction->commit(); !done) return done.error();
  schema_version_ = latest_schema_version();
  return {};
}

// ---------------------------------------------------------------------------------------------
// LeaderLease

Result<bool> PostgresStore::try_acquire(const std::string& instance, TimePoint now) {
  if (held()) return true;
  lease_session_.reset();
  auto taken =
      db_.exec("SELECT pg_try_advisory_lock($1, $2)", {param(kLockClass), param(kLeaderLockKey)});
  if (!taken) return taken.error();
  if (!taken->boolean(0, 0)) return false;
  lease_session_ = db_.session();
  // Submits on other instances notify this channel as they commit (insert_one).
  if (auto listening = db_.exec("LISTEN " + std::string(kJobsChannel)); !listening) {
    return listening.error();
  }
  auto recorded = db_.exec(
      "INSERT INTO leader (id, instance, since) VALUES (1, $1, $2) "
      "ON CONFLICT (id) DO UPDATE SET instance = excluded.instance, since = excluded.since",
      {param(instance), param(rows::to_unix(now))});
  if (!recorded) return recorded.error();
  return held();
}

bool PostgresStore::held() const {
  return lease_session_ && *lease_session_ == db_.session() && db_.connected();
}

Result<bool> PostgresStore::verify() {
  if (!held()) return false;
  static const std::string sql =
      cat({"SELECT EXISTS (", kLeaseGranted, " AND pid = pg_backend_pid())"});
  auto granted = db_.exec(sql, {param(kLockClass), param(kLeaderLockKey)});
  if (!granted) return granted.error();
  return held() && granted->boolean(0, 0);
}

bool PostgresStore::jobs_arrived() {
  return held() && db_.take_notifications() > 0;
}

Result<std::optional<LeaderInfo>> PostgresStore::leader() {
  static const std::string sql =
      cat({"SELECT instance, since, EXISTS (", kLeaseGranted, ") FROM leader WHERE id = 1"});
  auto found = db_.exec(sql, {param(kLockClass), param(kLeaderLockKey)});
  if (!found) return found.error();
  if (found->empty()) return std::optional<LeaderInfo>();
  return std::optional<LeaderInfo>(
      LeaderInfo{found->text(0, 0), rows::from_unix(found->int64(0, 1)), found->boolean(0, 2)});
}

// ---------------------------------------------------------------------------------------------
// JobStore

Result<std::optional<Job>> PostgresStore::find_job(std::string_view sql_tail,
                                                   const std::vector<Param>& params) {
  auto found = db_.exec(cat({"SELECT ", kJobColumns, kJobsWithSpecs, sql_tail}), params);
  if (!found) return found.error();
  if (found->empty()) return std::optional<Job>();
  auto job = read_job(*found, 0, /*summary=*/false);
  if (!job) return job.error();
  return std::optional<Job>(std::move(*job));
}

Result<Job> PostgresStore::insert(const Job& job, const JobEvent& first_event) {
  auto results = insert_batch({JobInsert{job, first_event}});
  if (!results) return results.error();
  return std::move(results->front());
}

Result<std::vector<Result<Job>>> PostgresStore::insert_batch(const std::vector<JobInsert>& items) {
  auto transaction = Transaction::begin(db_);
  if (!transaction) return transaction.error();
  auto results = rows::insert_each(
      items, [this](const JobInsert& item) { return insert_one(item.job, item.first_event); });
  if (!results) return results;
  bool any_new = false;
  for (std::size_t i = 0; i < items.size(); ++i)
    any_new = any_new || ((*results)[i] && (*results)[i]->id == items[i].job.id);
  // The leader hears of the new jobs when this transaction commits (jobs_arrived()).
  if (any_new) {
    if (auto done = db_.exec("SELECT pg_notify($1, '')", {param(kJobsChannel)}); !done) {
      return done.error();
    }
  }
  if (auto done = transaction->commit(); !done) return done.error();
  return results;
}

Result<Job> PostgresStore::insert_one(const Job& job, const JobEvent& first_event) {
  // The job, its spec and its first event in one round trip. A job stored earlier with the same
  // id, or the same owner and idempotency key, makes ON CONFLICT write nothing (nor the spec and
  // event, which insert only what new_job returned); one another instance is inserting at this
  // moment is waited for first. Either way without aborting this transaction.
  static const std::string sql = cat(
      {"WITH new_job AS (INSERT INTO jobs (", kJobRowColumns,
       ", summary_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
       "$16, $17) ON CONFLICT DO NOTHING RETURNING id), "
       "new_spec AS (INSERT INTO job_specs (job_id, spec_json) SELECT id, $18::text FROM new_job), "
       "new_event AS (INSERT INTO job_events (job_id, at, type, message, data_json) "
       "SELECT id, $19::bigint, $20::text, $21::text, $22::text FROM new_job) "
       "SELECT COUNT(*) FROM new_job"});
  auto params = job_params(job);
  params.push_back(param(rows::summary_json(job.spec)));
  params.push_back(param(rows::spec_json(job.spec)));
  params.push_back(param(rows::to_unix(first_event.at)));
  params.push_back(param(first_event.type));
  params.push_back(param(first_event.message));
  params.push_back(param(first_event.data_json));
  auto inserted = db_.exec(sql, params);
  if (!inserted) return inserted.error();
  if (inserted->int64(0, 0) == 1) return job;
  // Nothing written: a retry of a keyed submit gets the job stored the first time.
  if (job.idempotency_key) {
    auto existing = find_job("WHERE jobs.owner_uid = $1 AND jobs.idempotency_key = $2",
                             {param(job.owner_uid), param(*job.idempotency_key)});
    if (!existing) return existing.error();
    if (*existing) return std::move(**existing);
  }
  return make_error(errc::kConflict, "job " + job.id + " already exists");
}

Status PostgresStore::update(const Job& job, const JobEvent& event) {
  return update_job(job, std::nullopt, event);
}

Status PostgresStore::update_if(const Job& job, JobState expected, const JobEvent& event) {
  return update_job(job, expected, event);
}

Status PostgresStore::update_job(const Job& job, std::optional<JobState> expected,
                                 const JobEvent& event) {
  // The row and its event in one statement, so one round trip and atomic. Atomic across
  // instances too: a concurrent update_if on the same job waits for this one and then
  // re-checks the state.
  static const std::string sql =
      "WITH updated AS (UPDATE jobs SET owner_uid = $2, state = $3, submitted_at = $4, "
      "updated_at = $5, deadline = $6, regions_json = $7, power_watts = $8, idempotency_key = $9, "
      "region = $10, planned_start = $11, started_at = $12, finished_at = $13, remote_name = $14, "
      "error = $15, accounting_json = $16 WHERE id = $1 AND ($17::text IS NULL OR state = "
      "$17::text) RETURNING id), "
      "new_event AS (INSERT INTO job_events (job_id, at, type, message, data_json) "
      "SELECT id, $18::bigint, $19::text, $20::text, $21::text FROM updated) "
      "SELECT COUNT(*) FROM updated";
  auto params = job_params(job);
  params.push_back(state_param(expected));
  params.push_back(param(rows::to_unix(event.at)));
  params.push_back(param(event.type));
  params.push_back(param(event.message));
  params.push_back(param(event.data_json));
  auto updated = db_.exec(sql, params);
  if (!updated) return updated.error();
  if (updated->int64(0, 0) == 1) return {};
  auto current = db_.exec("SELECT state FROM jobs WHERE id = $1", {param(job.id)});
  if (!current) return current.error();
  if (current->empty()) return make_error(errc::kNotFound, "no job " + job.id);
  return make_error(errc::kConflict, "job " + job.id + " is " + current->text(0, 0) + ", not " +
                                         std::string(to_string(*expected)));
}

Status PostgresStore::quarantine(std::string_view id, const std::string& reason, TimePoint now) {
  // Like update_job: the row and its event in one statement.
  static const std::string sql =
      "WITH failed AS (UPDATE jobs SET state = 'failed', error = $2, updated_at = $3, "
      "finished_at = $3 WHERE id = $1 RETURNING id), "
      "new_event AS (INSERT INTO job_events (job_id, at, type, message, data_json) "
      "SELECT id, $3::bigint, 'quarantined', $4::text, '' FROM failed) "
      "SELECT COUNT(*) FROM failed";
  auto failed = db_.exec(
      sql, {param(id), param(reason), param(rows::to_unix(now)), param("failed: " + reason)});
  if (!failed) return failed.error();
  if (failed->int64(0, 0) == 0) return make_error(errc::kNotFound, "no job " + std::string(id));
  return {};
}

Result<std::optional<Job>> PostgresStore::get(std::string_view id) {
  return find_job("WHERE jobs.id = $1", {param(id)});
}

Result<JobPage> PostgresStore::list(const JobQuery& query) {
  JobPage page;
  if (query.limit == 0) return page;
  std::int64_t after_seq = 0;
  if (query.after) {
    auto found = db_.exec("SELECT seq FROM jobs WHERE id = $1", {param(*query.after)});
    if (!found) return found.error();
    if (found->empty()) {
      return make_error("invalid_request", "unknown page cursor",
                        {FieldError{"after", "no job " + *query.after, 0}});
    }
    after_seq = found->int64(0, 0);
  }
  constexpr std::string_view tail =
      " WHERE jobs.seq > $1 AND ($2::text IS NULL OR jobs.state = $2::text) ORDER BY jobs.seq "
      "LIMIT $3";
  const std::string sql = query.summary ? cat({"SELECT ", kJobSummaryColumns, " FROM jobs", tail})
                                        : cat({"SELECT ", kJobColumns, kJobsWithSpecs, tail});
  // One row more than asked tells whether there is a next page.
  const auto fetch = static_cast<std::int64_t>(
      std::min<std::size_t>(query.limit, static_cast<std::size_t>(INT64_MAX - 1)) + 1);
  auto found = db_.exec(sql, {param(after_seq), state_param(query.state), param(fetch)});
  if (!found) return found.error();
  const int rows = found->size();
  for (int i = 0; i < rows; ++i) {
    if (static_cast<std::size_t>(i) == query.limit) {
      page.next = found->text(i - 1, 0);
      break;
    }
    auto job = read_job(*found, i, query.summary);
    if (!job) {
      if (!job.error().is(errc::kStorageCorrupt)) return job.error();
      page.unreadable.push_back({found->text(i, 0), job.error().message});
      continue;
    }
    page.jobs.push_back(std::move(*job));
  }
  return page;
}

Result<std::size_t> PostgresStore::count(std::optional<JobState> state) {
  auto found = db_.exec("SELECT COUNT(*) FROM jobs WHERE $1::text IS NULL OR state = $1::text",
                        {state_param(state)});
  if (!found) return found.error();
  return static_cast<std::size_t>(found->int64(0, 0));
}

Result<std::size_t> PostgresStore::count_owned(JobState state, std::uint32_t owner_uid) {
  auto found = db_.exec("SELECT COUNT(*) FROM jobs WHERE owner_uid = $1 AND state = $2",
                        {param(owner_uid), param(to_string(state))});
  if (!found) return found.error();
  return static_cast<std::size_t>(found->int64(0, 0));
}

Result<std::vector<JobEvent>> PostgresStore::events(std::string_view job_id) {
  auto found = db_.exec(
      "SELECT seq, job_id, at, type, message, data_json FROM job_events WHERE job_id = $1 "
      "ORDER BY seq",
      {param(job_id)});
  if (!found) return found.error();
  std::vector<JobEvent> out;
  for (int i = 0; i < found->size(); ++i) {
    JobEvent event;
    event.seq = found->int64(i, 0);
    event.job_id = found->text(i, 1);
    event.at = rows::from_unix(found->int64(i, 2));
    event.type = found->text(i, 3);
    event.message = found->text(i, 4);
    event.data_json = found->text(i, 5);
    out.push_back(std::move(event));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ReadingStore

Result<std::vector<Reading>> PostgresStore::select_readings(std::string_view sql,
                                                            const std::vector<Param>& params) {
  auto found = db_.exec(sql, params);
  if (!found) return found.error();
  return read_all<Reading>(*found, read_reading);
}

Result<std::size_t> PostgresStore::upsert(std::span<const Reading> readings) {
  if (readings.empty()) return std::size_t{0};
  // One statement per kUpsertRows readings (a feed cycle can bring tens of thousands): a round
  // trip each would hold the loop for seconds. A statement may not update one row twice, so
  // each identity is written once, with its last value (what upserting in order would leave).
  std::map<std::tuple<std::string_view, std::string_view, Seconds::rep, int, int, Seconds::rep>,
           std::size_t>
      last;
  for (std::size_t i = 0; i < readings.size(); ++i) {
    const Reading& r = readings[i];
    last[{r.feed, r.location, r.timestamp.time_since_epoch().count(), static_cast<int>(r.signal),
          static_cast<int>(r.kind), r.issued_at.time_since_epoch().count()}] = i;
  }
  std::vector<std::size_t> order;
  order.reserve(last.size());
  for (const auto& [identity, index] : last)
    order.push_back(index);
  std::sort(order.begin(), order.end());

  auto transaction = Transaction::begin(db_);
  if (!transaction) return transaction.error();
  for (std::size_t at = 0; at < order.size();) {
    const std::size_t rows_now = order.size() - at >= kUpsertRows ? kUpsertRows : 1;
    std::vector<Param> params;
    params.reserve(rows_now * kReadingFields);
    for (std::size_t k = 0; k < rows_now; ++k) {
      const rows::ReadingRow row = rows::reading_row(readings[order[at + k]]);
      for (auto& p : {param(row.feed), param(row.location), param(row.signal), param(row.kind),
                      param(row.timestamp), param(row.step), param(row.value), param(row.issued_at),
                      param(row.fetched_at), param(row.estimated), param(row.renewable_percent),
                      param(row.fossil_free_percent), param(row.mix_json)}) {
        params.push_back(p);
      }
    }
    static const std::string one = upsert_sql(1);
    static const std::string many = upsert_sql(kUpsertRows);
    auto done = db_.exec(rows_now == 1 ? one : many, params);
    if (!done) return done.error();
    at += rows_now;
  }
  if (auto done = transaction->commit(); !done) return done.error();
  return readings.size();
}

Result<std::vector<Reading>> PostgresStore::actuals(const std::string& feed,
                                                    const std::string& location, TimePoint from,
                                                    TimePoint to) {
  static const std::string sql =
      cat({"SELECT ", kReadingColumns,
           " FROM readings WHERE feed = $1 AND location = $2 AND kind = 'actual' AND "
           "\"timestamp\" + step > $3 AND \"timestamp\" < $4 "
           "ORDER BY \"timestamp\", signal, issued_at"});
  return select_readings(
      sql, {param(feed), param(location), param(rows::to_unix(from)), param(rows::to_unix(to))});
}

Result<std::optional<Reading>> PostgresStore::latest_actual(const std::string& feed,
                                                            const std::string& location) {
  static const std::string sql =
      cat({"SELECT ", kReadingColumns,
           " FROM readings WHERE feed = $1 AND location = $2 AND kind = 'actual' "
           "ORDER BY \"timestamp\" DESC, issued_at DESC, signal LIMIT 1"});
  auto found = select_readings(sql, {param(feed), param(location)});
  if (!found) return found.error();
  if (found->empty()) return std::optional<Reading>();
  return std::optional<Reading>(std::move(found->front()));
}

Result<std::vector<Reading>> PostgresStore::forecast(const std::string& feed,
                                                     const std::string& location, TimePoint from,
                                                     TimePoint to) {
  // Per timestamp, the row of the newest snapshot; a tie between signals goes to the first.
  static const std::string sql =
      cat({"SELECT DISTINCT ON (\"timestamp\") ", kReadingColumns,
           " FROM readings WHERE feed = $1 AND location = $2 AND kind = 'forecast' AND "
           "\"timestamp\" + step > $3 AND \"timestamp\" < $4 "
           "ORDER BY \"timestamp\", issued_at DESC, signal"});
  return select_readings(
      sql, {param(feed), param(location), param(rows::to_unix(from)), param(rows::to_unix(to))});
}

Result<std::vector<Reading>> PostgresStore::forecasts_issued(const std::string& feed,
                                                             const std::string& location,
                                                             TimePoint from, TimePoint to) {
  static const std::string sql =
      cat({"SELECT ", kReadingColumns,
           " FROM readings WHERE feed = $1 AND location = $2 AND kind = 'forecast' AND "
           "issued_at >= $3 AND issued_at < $4 ORDER BY issued_at, \"timestamp\", signal"});
  return select_readings(
      sql, {param(feed), param(location), param(rows::to_unix(from)), param(rows::to_unix(to))});
}

Result<std::size_t> PostgresStore::prune(TimePoint cutoff) {
  auto done = db_.exec("DELETE FROM readings WHERE \"timestamp\" + step <= $1",
                       {param(rows::to_unix(cutoff))});
  if (!done) return done.error();
  return done->affected();
}

// ---------------------------------------------------------------------------------------------
// DispatchJournal

Result<std::vector<DispatchRecord>> PostgresStore::select_records(
    std::string_view sql, const std::vector<Param>& params) {
  auto found = db_.exec(sql, params);
  if (!found) return found.error();
  return read_all<DispatchRecord>(*found, read_record);
}

Status PostgresStore::record_intent(const DispatchRecord& record) {
  // One round trip: the record goes in only beside its job and only once per attempt.
  static const std::string sql =
      cat({"INSERT INTO dispatch_journal (", kJournalColumns,
           ") SELECT $1::text, $2::integer, $3::text, $4::text, $5::text, $6::bigint, $7::bigint, "
           "$8::text, $9::text, $10::integer WHERE EXISTS (SELECT 1 FROM jobs WHERE id = $1) "
           "ON CONFLICT DO NOTHING"});
  const rows::JournalRow row = rows::journal_row(record);
  auto inserted =
      db_.exec(sql, {param(row.job_id), param(row.attempt), param(row.target), param(row.region),
                     param(row.status), param(row.created_at), param(row.updated_at),
                     param(row.remote_name), param(row.detail), param(row.segment)});
  if (!inserted) return inserted.error();
  if (inserted->affected() == 1) return {};
  auto job = db_.exec("SELECT 1 FROM jobs WHERE id = $1", {param(record.job_id)});
  if (!job) return job.error();
  if (job->empty()) return make_error(errc::kNotFound, "no job " + record.job_id);
  return make_error(errc::kConflict, no_attempt(record, " is already journalled"));
}

Status PostgresStore::update(const DispatchRecord& record) {
  const rows::JournalRow row = rows::journal_row(record);
  auto updated = db_.exec(
      "UPDATE dispatch_journal SET status = $3, updated_at = $4, remote_name = $5, detail = $6 "
      "WHERE job_id = $1 AND attempt = $2",
      {param(row.job_id), param(row.attempt), param(row.status), param(row.updated_at),
       param(row.remote_name), param(row.detail)});
  if (!updated) return updated.error();
  if (updated->affected() == 0) {
    return make_error(errc::kNotFound, no_attempt(record, " is not in the dispatch journal"));
  }
  return {};
}

Result<std::vector<DispatchRecord>> PostgresStore::unresolved() {
  static const std::string sql = cat({"SELECT ", kJournalColumns,
                                      " FROM dispatch_journal WHERE status = 'intent' "
                                      "ORDER BY created_at, job_id, attempt"});
  return select_records(sql, {});
}

Result<std::vector<DispatchRecord>> PostgresStore::for_job(std::string_view job_id) {
  static const std::string sql = cat(
      {"SELECT ", kJournalColumns, " FROM dispatch_journal WHERE job_id = $1 ORDER BY attempt"});
  return select_records(sql, {param(job_id)});
}

}  // namespace gridshift
