// The store ports held in memory, with the same semantics as SqliteStore (ordering, conflicts,
// idempotency, newest-snapshot forecasts): for tests and the simulator. Nothing is durable.
// Not thread-safe: one owner, one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/ports/store.h"

namespace gridshift {

class MemoryStore final : public Store {
 public:
  MemoryStore() = default;

  std::string describe() const override { return "memory (nothing durable)"; }
  int schema_version() const override { return 0; }

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
  // Signal and kind are keyed by their text so that orderings match the SQL store's.
  using ReadingKey = std::tuple<std::string, std::string, std::string, std::string, std::int64_t,
                                std::int64_t>;  // feed, location, signal, kind,
                                                // issued_at, timestamp
  using JournalKey = std::pair<std::string, int>;

  const Job* find(std::string_view id) const;
  std::vector<Reading> select(const std::string& feed, const std::string& location,
                              ReadingKind kind) const;

  std::vector<Job> jobs_;                                      // in submission order
  std::map<std::string, std::size_t, std::less<>> job_index_;  // id -> position in jobs_
  std::vector<JobEvent> events_;                               // in seq order
  std::int64_t next_event_seq_ = 1;
  std::map<ReadingKey, Reading> readings_;
  std::map<JournalKey, DispatchRecord> journal_;
};

}  // namespace gridshift
