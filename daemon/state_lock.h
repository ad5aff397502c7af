// The one-daemon-per-state rule (docs/design.md, "Promises"): an exclusive lock on
// `<state_dir>/gridshiftd.lock`, held for the daemon's life. The file records the holder's pid so
// that a second daemon can name it. The kernel drops the lock when the holder dies (kill -9
// included), so a stale file never blocks a restart. Owned by the Daemon; not thread-safe.
#pragma once

#include <string>

#include "core/result.h"

namespace gridshift {

class StateLock {
 public:
  static constexpr const char* kFileName = "gridshiftd.lock";

  // Takes the lock on `state_dir` without waiting. Error "state_locked" naming the holder's pid
  // when another process holds it; "state_unavailable" when the file cannot be created.
  static Result<StateLock> acquire(const std::string& state_dir);

  StateLock(StateLock&& other) noexcept;
  StateLock& operator=(StateLock&& other) noexcept;
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  ~StateLock();

  const std::string& path() const { return path_; }

 private:
  StateLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

}  // namespace gridshift
