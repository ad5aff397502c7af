#include "deploy/dry_run/dry_run_dispatcher.h"

#include <string>

namespace gridshift {

DryRunHandle DryRunDispatcher::create(const Job& job, const std::string& region,
                                      TimePoint now) const {
  return DryRunHandle{"dry-run/" + region + "/" + job.id, region, now, now + job.spec.duration};
}

JobState DryRunDispatcher::state_at(const DryRunHandle& handle, TimePoint now) const {
  return now < handle.expected_end ? JobState::running : JobState::succeeded;
}

std::string DryRunDispatcher::describe(const Job& job, const DryRunHandle& handle) const {
  std::string line = "dry run: would start job " + job.id + " (" + job.spec.name + ") in " +
                     handle.region + " at " + format_rfc3339(handle.started_at) + " until " +
                     format_rfc3339(handle.expected_end);
  if (job.spec.vertex) line += " on " + job.spec.vertex->machine_type;
  return line;
}

}  // namespace gridshift
