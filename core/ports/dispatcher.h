// The Dispatcher port as the scheduler uses it: start a job in a region, follow it, cancel it.
// Asynchronous (remote targets speak HTTP), so it lives in daemon/ rather than core/.
// Implementations run on the daemon's io_context thread; the scheduler owns none of them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/job.h"
#include "core/result.h"

namespace gridshift {

struct DispatchStarted {
  std::string remote_name;              // the target's name of the run
  std::optional<TimePoint> started_at;  // when the target says it started, if it says
};

struct RemoteStatus {
  JobState state = JobState::running;  // running, succeeded, failed or cancelled
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> finished_at;
  std::string message;  // the target's words on a failure
  // A failure caused by the region (quota, capacity stock-out) rather than the job: the
  // scheduler re-plans the job in its next-best region instead of failing it.
  bool region_unavailable = false;
  // Interruptible jobs (docs/design.md, "Interruptible jobs"): whether the trainer wrote the
  // COMPLETE marker into its checkpoint dir, looked at once the segment's run has ended.
  bool complete = false;
};

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;

  // "dry_run", "local", "vertex_ai": recorded in the dispatch journal.
  virtual std::string_view target() const = 0;

  // Starts `job` in `region`; for an interruptible job, the segment job.segments.back() (its
  // number and end go to the trainer with its checkpoint dir). Errors: code "retry" (try again
  // later), "region_unavailable" (quota or capacity: try the next-best region) or anything else
  // (the job fails).
  virtual boost::asio::awaitable<Result<DispatchStarted>> create(Job job, std::string region) = 0;

  // The state of a job this target started (job.remote_name is set).
  virtual boost::asio::awaitable<Result<RemoteStatus>> poll(Job job) = 0;

  // Asks the target to stop the job; idempotent.
  virtual boost::asio::awaitable<Status> cancel(Job job) = 0;

  // After a crash with a dispatch intent journalled but no confirmed create (docs/design.md,
  // "Promises"): finds what the target already runs for `job` in `region` (remote targets list by
  // the `gridshift-job` label), keeps the oldest, stops any duplicate. nullopt: nothing exists, so
  // the job can be dispatched anew.
  virtual boost::asio::awaitable<Result<std::optional<DispatchStarted>>> adopt(
      Job job, std::string region) = 0;

  // Where a job this target started writes its output on this host (`gridshift logs` reads it
  // as the job's user); nullopt for targets whose output lives elsewhere.
  virtual std::optional<std::string> output_path(const Job&) const { return std::nullopt; }
};

}  // namespace gridshift
