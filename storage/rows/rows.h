// How every store backend writes jobs, readings and dispatch records as table rows: plain column
// values (JSON text, Unix seconds) and the conversions both ways. The SQLite and PostgreSQL
// backends bind and read these columns; neither knows how a spec summary or a mix is encoded.
// Pure functions over plain values; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error_codes.h"
#include "core/job.h"
#include "core/ports/dispatch_journal.h"
#include "core/ports/job_store.h"
#include "core/reading.h"
#include "core/result.h"

namespace gridshift::rows {

// A job's columns. `spec` is the whole spec's canonical JSON (job_specs) or its summary
// (jobs.summary_json), as the query selected.
struct JobRow {
  std::string id;
  std::int64_t owner_uid = 0;
  std::string spec;
  std::string state;
  std::int64_t submitted_at = 0;
  std::int64_t updated_at = 0;
  std::int64_t deadline = 0;
  std::string regions_json;
  double power_watts = 0;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> region;
  std::optional<std::int64_t> planned_start;
  std::optional<std::int64_t> started_at;
  std::optional<std::int64_t> finished_at;
  std::optional<std::string> remote_name;
  std::string error;
  std::string accounting_json;
};

// The job's own columns; `spec` is left empty (specs are written once, apart: spec_json() and
// summary_json()).
JobRow job_row(const Job& job);
// Error kStorageCorrupt naming the job when a column cannot be read. `summary`: the row's
// spec is a summary (JobQuery::summary); a summary is empty only where its spec is unreadable.
Result<Job> job_from_row(JobRow row, bool summary);

// The spec's stored summary: a small JSON object of its own (not the spec's canonical JSON),
// read with a JSON parser alone. Durations in seconds, times as Unix seconds.
std::string summary_json(const JobSpec& spec);
std::string spec_json(const JobSpec& spec);

struct ReadingRow {
  std::string feed;
  std::string location;
  std::string signal;
  std::string kind;
  std::int64_t timestamp = 0;
  std::int64_t step = 0;
  double value = 0;
  std::int64_t issued_at = 0;
  std::int64_t fetched_at = 0;
  bool estimated = false;
  std::optional<double> renewable_percent;
  std::optional<double> fossil_free_percent;
  std::string mix_json;  // "" when the feed gave no mix
};

ReadingRow reading_row(const Reading& reading);
Result<Reading> reading_from_row(ReadingRow row);

struct JournalRow {
  std::string job_id;
  std::int64_t attempt = 0;
  std::string target;
  std::string region;
  std::string status;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::optional<std::string> remote_name;
  std::string detail;
  std::int64_t segment = 0;
};

JournalRow journal_row(const DispatchRecord& record);
Result<DispatchRecord> record_from_row(JournalRow row);

std::int64_t to_unix(TimePoint t);
TimePoint from_unix(std::int64_t seconds);
std::optional<std::int64_t> to_unix(const std::optional<TimePoint>& t);
std::optional<TimePoint> from_unix(const std::optional<std::int64_t>& seconds);

// JobStore::insert_batch's rule, for the backends' one transaction: each item is answered as
// insert() answers it, by `insert_one(item)`; a "conflict" answers that item alone, any other
// error fails the whole batch (the caller's transaction then rolls back).
template <class InsertOne>
Result<std::vector<Result<Job>>> insert_each(const std::vector<JobInsert>& items,
                                             InsertOne&& insert_one) {
  std::vector<Result<Job>> results;
  results.reserve(items.size());
  for (const auto& item : items) {
    auto inserted = insert_one(item);
    if (!inserted && !inserted.error().is(errc::kConflict)) return inserted.error();
    results.push_back(std::move(inserted));
  }
  return results;
}

// Error kStorageCorrupt: "unreadable row in TABLE: WHAT".
Error corrupt_row(std::string_view table, std::string_view what);

}  // namespace gridshift::rows
