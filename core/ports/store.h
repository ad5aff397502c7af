// The Store port: one backend holding jobs, readings and the dispatch journal, which is what the
// daemon opens (storage/sqlite/, storage/postgres/, storage/memory/). A backend that several
// daemons may share also offers their LeaderLease. Not thread-safe.
#pragma once

#include <string>

#include "core/ports/dispatch_journal.h"
#include "core/ports/job_store.h"
#include "core/ports/leader_lease.h"
#include "core/ports/reading_store.h"

namespace gridshift {

class Store : public JobStore, public ReadingStore, public DispatchJournal {
 public:
  // The lease the daemons sharing this store take turns on; nullptr when only one daemon can
  // use the store (it then always leads).
  virtual LeaderLease* lease() { return nullptr; }
  // Where the data lives, for logs: a file path or "postgres database NAME on HOST" (never a
  // password).
  virtual std::string describe() const = 0;
  virtual int schema_version() const = 0;
};

}  // namespace gridshift
