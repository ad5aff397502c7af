// Truncated exponential backoff, the one rule every retry in gridshift follows: after the n-th
// consecutive failure (n from 0) the wait is at most min(cap, initial x 2^n). Pure: the caller
// owns the random generator, so tests seed it and replay the same waits.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace gridshift {

struct Backoff {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds cap{60000};

  // min(cap, initial x 2^attempt), without overflowing however large `attempt` is.
  std::chrono::milliseconds ceiling(int attempt) const {
    auto wait = initial;
    for (int i = 0; i < attempt && wait < cap; ++i)
      wait *= 2;
    return std::min(wait, cap);
  }

  // "Full jitter": uniform in [0, ceiling(attempt)], so that many clients retrying the same
  // service spread out instead of arriving together.
  template <class Rng>
  std::chrono::milliseconds full_jitter(int attempt, Rng& rng) const {
    std::uniform_int_distribution<std::chrono::milliseconds::rep> pick(
        0, std::max<std::chrono::milliseconds::rep>(0, ceiling(attempt).count()));
    return std::chrono::milliseconds(pick(rng));
  }
};

}  // namespace gridshift
