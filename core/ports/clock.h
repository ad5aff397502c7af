// The Clock port: the only way core and daemon code learn the time. The daemon uses the
// system clock; tests and the simulator use ManualClock (single-threaded, caller-owned).
#pragma once

#include <chrono>

#include "core/time.h"

namespace gridshift {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // How long a timer must really wait for `d` of this clock's time to pass. The same for
  // real clocks; shorter for the soak tests' fast clock.
  virtual std::chrono::milliseconds real_wait(Seconds d) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d);
  }
};

// A clock that moves only when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : now_(start) {}
  TimePoint now() const override { return now_; }
  void set(TimePoint t) { now_ = t; }
  void advance(Seconds d) { now_ += d; }

 private:
  TimePoint now_;
};

}  // namespace gridshift
