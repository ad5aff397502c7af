// The store for several hosts (docs/operations.md, "Several hosts, one queue"): jobs, events,
// readings, forecast snapshots and the dispatch journal in one PostgreSQL database, shared by
// any number of daemons, which take turns on the LeaderLease (a session-level advisory lock).
// Schema migrations are applied by open(), under a transaction-level advisory lock so that two
// daemons starting together migrate once. Every call is one blocking round trip or a short
// transaction, bounded by the connection's timeouts. Not thread-safe: owned and called by the
// daemon's io_context thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/ports/store.h"
#include "storage/postgres/pg_connection.h"

namespace gridshift {

struct PostgresOpenOptions {
  pg::ConnectOptions connect;
};

class PostgresStore final : public Store, public LeaderLease {
 public:
  using OpenOptions = PostgresOpenOptions;

  static int latest_schema_version();

  // The advisory locks, by their two int4 keys: gridshift's class, then which lock. Advisory
  // locks belong to one database, so deployments in different databases never contend.
  static constexpr std::int32_t kLockClass = 0x67726964;  // "grid"
  static constexpr std::int32_t kLeaderLockKey = 1;       // the leader lease (session level)
  static constexpr std::int32_t kMigrationLockKey = 2;    // schema migrations (transaction level)

  // Connects with `dsn` and migrates the schema. Errors: "storage_unavailable" (cannot
  // connect), "storage_incompatible" (a newer gridshift wrote the schema), "storage_failed".
  static Result<std::unique_ptr<PostgresStore>> open(const std::string& dsn,
                                                     const OpenOptions& options = {});

  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;
  ~PostgresStore() override = default;

  // Store
  LeaderLease* lease() override { return this; }
  std::string describe() const override { return description_; }
  int schema_version() const override { return schema_version_; }

  // LeaderLease
  Result<bool> try_acquire(const std::string& instance, TimePoint now) override;
  bool held() const override;
  Result<bool> verify() override;
  bool jobs_arrived() override;
  Result<std::optional<LeaderInfo>> leader() override;

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
  PostgresStore() = default;
  Status migrate();
  Status update_job(const Job& job, std::optional<JobState> expected, const JobEvent& event);
  Result<std::optional<Job>> find_job(std::string_view sql_tail,
                                      const std::vector<pg::Param>& params);
  Result<Job> insert_one(const Job& job, const JobEvent& first_event);
  Result<std::vector<Reading>> select_readings(std::string_view sql,
                                               const std::vector<pg::Param>& params);
  Result<std::vector<DispatchRecord>> select_records(std::string_view sql,
                                                     const std::vector<pg::Param>& params);

  pg::Connection db_;
  std::string description_;
  int schema_version_ = 0;
  // The session that took the lease; the lease is held while the connection is still in it.
  std::optional<std::uint64_t> lease_session_;
};

}  // namespace gridshift
