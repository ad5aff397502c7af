// The DispatchJournal port (docs/design.md, "Promises"): the intent to create a remote job is
// written durably before the create call, so that after a crash the daemon knows to look for, and
// adopt, what it may already have created. Not thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace gridshift {

enum class DispatchStatus {
  intent,     // journalled, create call not yet known to have succeeded
  created,    // the target confirmed the remote job
  adopted,    // found after a crash by its label and taken over
  failed,     // the target refused; nothing remote exists
  abandoned,  // given up (for example moved to another region)
};

std::string_view to_string(DispatchStatus s);
std::optional<DispatchStatus> parse_dispatch_status(std::string_view text);

struct DispatchRecord {
  std::string job_id;
  int attempt = 1;     // 1, 2, ... per job
  std::string target;  // "vertex_ai", "local", "dry_run"
  std::string region;
  DispatchStatus status = DispatchStatus::intent;
  TimePoint created_at{};
  TimePoint updated_at{};
  std::optional<std::string> remote_name;
  std::string detail;
  // The segment of an interruptible job this dispatch starts (1, 2, ...); 0 for other jobs.
  // At-most-once holds per segment: a restart adopts only records of the current segment.
  int segment = 0;
  bool operator==(const DispatchRecord&) const = default;
};

class DispatchJournal {
 public:
  virtual ~DispatchJournal() = default;

  // Durably records a new intent. Error "conflict" if (job_id, attempt) exists.
  virtual Status record_intent(const DispatchRecord& record) = 0;

  // Moves an existing record to a new status with its remote name and detail.
  virtual Status update(const DispatchRecord& record) = 0;

  // Records still in status `intent`: the ones to reconcile after a restart.
  virtual Result<std::vector<DispatchRecord>> unresolved() = 0;

  virtual Result<std::vector<DispatchRecord>> for_job(std::string_view job_id) = 0;
};

}  // namespace gridshift
