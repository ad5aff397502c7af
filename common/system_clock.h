// The production Clock: wall-clock UTC time at one-second resolution. Stateless, thread-safe.
#pragma once

#include <chrono>

#include "core/ports/clock.h"

namespace gridshift {

class SystemClock final : public Clock {
 public:
  TimePoint now() const override {
    return std::chrono::floor<Seconds>(std::chrono::system_clock::now());
  }
};

// A test clock for soak runs (GRIDSHIFT_TEST_CLOCK_RATE): starts at `start` and runs `rate`
// times faster than real time, so days pass in minutes while timers shrink to match.
// Stateless after construction, thread-safe.
class ScaledClock final : public Clock {
 public:
  ScaledClock(TimePoint start, double rate)
      : start_(start), real_start_(std::chrono::steady_clock::now()), rate_(rate) {}

  TimePoint now() const override {
    const std::chrono::duration<double> real = std::chrono::steady_clock::now() - real_start_;
    return start_ + Seconds{static_cast<long long>(real.count() * rate_)};
  }
  std::chrono::milliseconds real_wait(Seconds d) const override {
    return std::chrono::milliseconds{
        static_cast<long long>(static_cast<double>(d.count()) * 1000.0 / rate_)};
  }
  double rate() const { return rate_; }

 private:
  TimePoint start_;
  std::chrono::steady_clock::time_point real_start_;
  double rate_;
};

}  // namespace gridshift
