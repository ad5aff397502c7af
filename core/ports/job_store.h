// The JobStore port: durable home of jobs and their append-only event history.
// Implementations: storage/sqlite/ (production) and storage/memory/ (tests).
// Not thread-safe: the daemon calls it from its single io_context thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.h"
#include "core/result.h"

namespace gridshift {

struct JobQuery {
  std::optional<JobState> state;
  std::optional<std::string> after;  // id of the last job of the previous page
  std::size_t limit = 100;
  // Jobs carry summarize(spec) (spec_is_summary): what the scheduler and lists need, read
  // without parsing whole specs, which may be large.
  bool summary = false;
};

// A stored job whose record cannot be read back (a damaged or hand-edited row).
struct UnreadableJob {
  std::string id;
  std::string reason;
  bool operator==(const UnreadableJob&) const = default;
};

struct JobPage {
  std::vector<Job> jobs;            // in submission order
  std::optional<std::string> next;  // cursor for the next page, when there is one
  // Rows of this page that could not be read: left out of `jobs`, never a reason to fail the
  // whole page (one bad row must not stop the scheduler).
  std::vector<UnreadableJob> unreadable;
};

// One job of a batch insert, with its first event.
struct JobInsert {
  Job job;
  JobEvent first_event;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Inserts a new job and its first event in one durable transaction. When the job carries an
  // idempotency key already used by the same owner, nothing is written and the existing job
  // is returned. Error code "conflict" when the id exists.
  virtual Result<Job> insert(const Job& job, const JobEvent& first_event) = 0;

  // Group commit: inserts several jobs in ONE durable transaction. Each item gets the answer
  // insert() would give (the existing job for a repeated idempotency key, also within the
  // batch; "conflict" for a taken id) without affecting the others; a storage failure fails
  // the whole batch and writes nothing.
  virtual Result<std::vector<Result<Job>>> insert_batch(const std::vector<JobInsert>& items) = 0;

  // Replaces the job record and appends `event`, in one transaction. Error "not_found".
  // The spec is fixed at submission and never rewritten (so a summary job updates safely).
  virtual Status update(const Job& job, const JobEvent& event) = 0;

  // update() only while the stored job is still in `expected` (a cancel that arrived while the
  // caller worked wins). Error "conflict" when it is not, "not_found" when there is no such job.
  virtual Status update_if(const Job& job, JobState expected, const JobEvent& event) = 0;

  // Marks a job failed with `reason` (and an event saying so) touching nothing else of its
  // record, so that it works on a row that cannot be read. Error "not_found".
  virtual Status quarantine(std::string_view id, const std::string& reason, TimePoint now) = 0;

  virtual Result<std::optional<Job>> get(std::string_view id) = 0;
  virtual Result<JobPage> list(const JobQuery& query) = 0;
  virtual Result<std::size_t> count(std::optional<JobState> state) = 0;
  // Jobs in `state` owned by `owner_uid` (the per-user queue limit).
  virtual Result<std::size_t> count_owned(JobState state, std::uint32_t owner_uid) = 0;

  // Events of a job in order of seq.
  virtual Result<std::vector<JobEvent>> events(std::string_view job_id) = 0;
};

}  // namespace gridshift
