#include "core/ports/dispatch_journal.h"

namespace gridshift {

std::string_view to_string(DispatchStatus s) {
  switch (s) {
    case DispatchStatus::intent:
      return "intent";
    case DispatchStatus::created:
      return "created";
    case DispatchStatus::adopted:
      return "adopted";
    case DispatchStatus::failed:
      return "failed";
    case DispatchStatus::abandoned:
      return "abandoned";
  }
  return "unknown";
}

std::optional<DispatchStatus> parse_dispatch_status(std::string_view text) {
  for (const auto status :
       {DispatchStatus::intent, DispatchStatus::created, DispatchStatus::adopted,
        DispatchStatus::failed, DispatchStatus::abandoned}) {
    if (to_string(status) == text) return status;
  }
  return std::nullopt;
}

}  // namespace gridshift
