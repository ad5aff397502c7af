// The production Clock: wall-clock UTC time at one-second resolution. Stateless, thread-safe.
#pragma once

#include <chrono>

#include "core/clock.h"

namespace gridshift {

class SystemClock final : public Clock {
 public:
  TimePoint now() const override {
    return std::chrono::floor<Seconds>(std::chrono::system_clock::now());
  }
};

}  // namespace gridshift
