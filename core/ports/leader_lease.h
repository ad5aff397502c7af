// The LeaderLease port (docs/operations.md, "Several hosts"): several daemons share one store and
// exactly one of them, the leader, polls the feeds and dispatches. The lease is held by the
// holder's database session, so it ends when that session ends (crash, kill, network loss) and
// never needs a clock. Implemented by storage/postgres/; a backend used by one daemon only
// (SQLite, memory) has no lease and its daemon always leads. Not thread-safe.
#pragma once

#include <optional>
#include <string>

#include "core/result.h"
#include "core/time.h"

namespace gridshift {

// Who leads, as the leader recorded it when it took the lease.
struct LeaderInfo {
  std::string instance;  // "host:pid"
  TimePoint since{};
  bool active = false;  // a session holds the lease now (false: it ended, none took over yet)
  bool operator==(const LeaderInfo&) const = default;
};

class LeaderLease {
 public:
  virtual ~LeaderLease() = default;

  // Tries to take the lease without waiting. True when this instance holds it, now or already;
  // on taking it, records `instance` and `now` for leader() to report.
  virtual Result<bool> try_acquire(const std::string& instance, TimePoint now) = 0;

  // Whether the lease taken is still held: false once the session that took it has ended, even
  // when a new session has since been opened. Answered without a round trip to the server;
  // verify() asks the server.
  virtual bool held() const = 0;
  virtual Result<bool> verify() = 0;

  // Whether another instance stored new jobs since the last call, while this one held the lease
  // (the leader plans them at once instead of at its next tick).
  virtual bool jobs_arrived() = 0;

  // The leader's record; nullopt when no instance ever led.
  virtual Result<std::optional<LeaderInfo>> leader() = 0;
};

}  // namespace gridshift
