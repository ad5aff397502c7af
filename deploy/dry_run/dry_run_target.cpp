#include "deploy/dry_run/dry_run_target.h"

#include <algorithm>

#include "common/logging.h"

namespace gridshift {

boost::asio::awaitable<Result<DispatchStarted>> DryRunTarget::create(Job job, std::string region) {
  const auto handle = dispatcher_.create(job, region, clock_.now());
  subsystem_logger("dispatch")->info("{}", dispatcher_.describe(job, handle));
  co_return DispatchStarted{handle.remote_name, handle.started_at};
}

boost::asio::awaitable<Result<RemoteStatus>> DryRunTarget::poll(Job job) {
  if (!job.started_at || !job.region) {
    co_return make_error("invalid_state", "dry-run job " + job.id + " has no start or region");
  }
  DryRunHandle handle{job.remote_name.value_or(""), *job.region, *job.started_at,
                      *job.started_at + job.spec.duration};
  bool complete = true;
  if (!job.segments.empty()) {
    // The simulated trainer works through what is left and stops at the segment's end,
    // writing COMPLETE when the work is done within it.
    const auto& segment = job.segments.back();
    const TimePoint done = segment.start + remaining_work(job) + segment_overhead(job, segment.n);
    handle.started_at = segment.start;
    handle.expected_end = std::min(done, segment.end);
    complete = done <= segment.end;
  }
  RemoteStatus status;
  status.state = dispatcher_.state_at(handle, clock_.now());
  status.started_at = handle.started_at;
  if (status.state == JobState::succeeded) {
    status.finished_at = handle.expected_end;
    status.complete = complete;
  }
  co_return status;
}

boost::asio::awaitable<Status> DryRunTarget::cancel(Job job) {
  subsystem_logger("dispatch")
      ->info("dry run: would cancel job {} ({})", job.id, job.remote_name.value_or("not started"));
  co_return Status{};
}

// A dry run creates nothing anywhere, so there is never anything to adopt.
boost::asio::awaitable<Result<std::optional<DispatchStarted>>> DryRunTarget::adopt(Job job,
                                                                                   std::string) {
  subsystem_logger("dispatch")->info("dry run: nothing to adopt for job {}", job.id);
  co_return std::optional<DispatchStarted>{};
}

}  // namespace gridshift
