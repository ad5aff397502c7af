// The ReadingStore port: the cache of every intensity reading and forecast snapshot.
// Not thread-safe: called from the daemon's io_context thread.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/reading.h"
#include "core/result.h"

namespace gridshift {

class ReadingStore {
 public:
  virtual ~ReadingStore() = default;

  // Inserts or replaces readings. Identity of a reading: (feed, location, signal, kind,
  // issued_at, timestamp); the same identity again overwrites value, step, fetched_at and
  // flags. Returns how many were written.
  virtual Result<std::size_t> upsert(std::span<const Reading> readings) = 0;

  // Actuals of one feed and location whose interval overlaps [from, to), by timestamp.
  virtual Result<std::vector<Reading>> actuals(const std::string& feed, const std::string& location,
                                               TimePoint from, TimePoint to) = 0;

  // The newest actual of one feed and location, if any.
  virtual Result<std::optional<Reading>> latest_actual(const std::string& feed,
                                                       const std::string& location) = 0;

  // For each timestamp in [from, to), the forecast value of the newest snapshot (greatest
  // issued_at) that covers it, by timestamp.
  virtual Result<std::vector<Reading>> forecast(const std::string& feed,
                                                const std::string& location, TimePoint from,
                                                TimePoint to) = 0;

  // Every snapshot of forecasts issued in [from, to): for scoring forecasts against actuals.
  virtual Result<std::vector<Reading>> forecasts_issued(const std::string& feed,
                                                        const std::string& location, TimePoint from,
                                                        TimePoint to) = 0;

  // Deletes readings whose interval ended before `cutoff`. Returns how many went.
  virtual Result<std::size_t> prune(TimePoint cutoff) = 0;
};

}  // namespace gridshift
