// The production adapter of the store ports: one SQLite file (WAL, synchronous=FULL, foreign
// keys on) holding readings, jobs, job events and the dispatch journal; schema migrations are
// applied by open(). Not thread-safe: owned and called by the daemon's io_context thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/ports/store.h"
#include "storage/sqlite/sqlite_db.h"

namespace gridshift {

struct SqliteOpenOptions {
  // How long a write waits for another connection's lock before failing with "storage_busy".
  std::chrono::milliseconds busy_timeout{5000};
  // Called while open() migrates rows (done, total), at the start and every few hundred rows:
  // a large migration takes a while, and a service manager wants to hear that it progresses.
  std::function<void(std::size_t, std::size_t)> migration_progress;
};

class SqliteStore final : public Store {
 public:
  using OpenOptions = SqliteOpenOptions;

  // The schema version this code writes; open() migrates older files up to it.
  static int latest_schema_version();

  // Opens or creates the database at `path`. Errors: "storage_corrupt" (the file fails the
  // quick check or is not a database), "storage_incompatible" (written by a newer gridshift),
  // "storage_busy", "storage_unavailable".
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                   const OpenOptions& options = {});

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  ~SqliteStore() override = default;

  int schema_version() const override { return schema_version_; }
  std::string describe() const override { return "SQLite database " + path_; }
  const std::string& path() const { return path_; }

  // Full PRAGMA integrity_check; error "storage_corrupt" carrying SQLite's findings.
  Status check_integrity();

  // The value of a PRAGMA on this store's connection (journal_mode, synchronous, foreign_keys,
  // busy_timeout, ...), for diagnostics and tests. `name` must be [a-z_]+.
  Result<std::string> pragma(std::string_view name);

  // JobStore
  Result<Job> insert(const Job& job, const JobEvent& first_event) override;
  Result<std::vector<Result<Job>>> insert_batch(const std::vector<JobInsert>& items) override;
  Status update(const Job& job, const JobEvent& event) override;
  Status update_if(const Job& job, JobState expected, const JobEvent& event) override;
  Status quarantine(std::string_view id, const std::string& reason, TimePoint now) override;
  Result<std::optional<Job>> get(std::string_view id) override;
  Result<JobPage> list(const JobQuery& query) override;
  Result<std::size_t> count(std::optional<JobState> state) override;
  Result<std::size_t> count_owned(JobState state, std::uint32_t owner_uid) override;
  Result<std::vector<JobEvent>> events(std::string_view job_id) override;

  // ReadingStore
  Result<std::size_t> upsert(std::span<const Reading> readings) override;
  Result<std::vector<Reading>> actuals(const std::string& feed, const std::string& location,
                                       TimePoint from, TimePoint to) override;
  Result<std::optional<Reading>> latest_actual(const std::string& feed,
                                               const std::string& location) override;
  Result<std::vector<Reading>> forecast(const std::string& feed, const std::string& location,
                                        TimePoint from, TimePoint to) override;
  Result<std::vector<Reading>> forecasts_issued(const std::string& feed,
                                                const std::string& location, TimePoint from,
                                                TimePoint to) override;
  Result<std::size_t> prune(TimePoint cutoff) override;

  // DispatchJournal
  Status record_intent(const DispatchRecord& record) override;
  Status update(const DispatchRecord& record) override;
  Result<std::vector<DispatchRecord>> unresolved() override;
  Result<std::vector<DispatchRecord>> for_job(std::string_view job_id) override;

 private:
  explicit SqliteStore(std::string path) : path_(std::move(path)) {}
  Status open_database(const OpenOptions& options);
  Status update_job(const Job& job, std::optional<JobState> expected, const JobEvent& event);
  // Writes the summary of rows stored before summaries existed (schema version 1).
  Status fill_missing_summaries(const OpenOptions& options);

  Result<std::optional<Job>> find_job(std::string_view id);
  Result<std::optional<Job>> find_by_idempotency_key(std::uint32_t owner, const std::string& key);
  Status append_event(const JobEvent& event);
  // The body of insert(), inside the caller's transaction.
  Result<Job> insert_one(const Job& job, const JobEvent& first_event);
  Result<std::vector<Reading>> read_readings(sqlite::Statement& statement);

  sqlite::Connection db_;
  std::string path_;
  int schema_version_ = 0;
};

}  // namespace gridshift
