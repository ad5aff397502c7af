// The dry_run dispatch target: creates nothing anywhere. A dispatched job "runs" from the
// moment of dispatch for exactly its expected duration on the daemon's clock, so operators
// can watch gridshift's decisions end to end without cloud credentials. Pure and stateless.
#pragma once

#include <string>

#include "core/job.h"
#include "core/time.h"

namespace gridshift {

struct DryRunHandle {
  std::string remote_name;  // "dry-run/<region>/<job id>", never a real resource
  std::string region;
  TimePoint started_at{};
  TimePoint expected_end{};
};

class DryRunDispatcher {
 public:
  static constexpr std::string_view kTarget = "dry_run";

  DryRunHandle create(const Job& job, const std::string& region, TimePoint now) const;

  // running before expected_end, succeeded from then on.
  JobState state_at(const DryRunHandle& handle, TimePoint now) const;

  // The line the daemon logs instead of calling a cloud API.
  std::string describe(const Job& job, const DryRunHandle& handle) const;
};

}  // namespace gridshift
