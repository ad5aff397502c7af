// Shared by the fuzz targets: the input as text and the invariant checks. A broken invariant
// aborts, which libFuzzer (and the replay driver's test) reports as a crash with its input.
// Header-only; each target is single-threaded.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/result.h"
#include "daemon/feeds/parse_support.h"

namespace gridshift::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

// A refusal is the documented error: its code, a message, and at least one detail naming a
// field (the contract: "errors name the field").
inline void require_error(const Error& error, std::string_view code) {
  require(error.code == code, "unexpected error code");
  require(!error.message.empty(), "error without a message");
  require(!error.details.empty(), "error without details");
  for (const auto& detail : error.details)
    require(!detail.message.empty(), "error detail without a message");
}

// What every feed parser promises for what it accepts: plausible normalised values only.
inline void require_plausible(const Reading& reading) {
  require(std::isfinite(reading.gco2_per_kwh), "non-finite reading");
  require(reading.gco2_per_kwh >= 0 && reading.gco2_per_kwh <= kMaxPlausibleGco2PerKwh,
          "implausible reading stored");
  require(reading.step.count() > 0, "reading with a non-positive step");
}

inline void require_feed_result(const Result<std::vector<Reading>>& result) {
  if (!result) {
    require_error(result.error(), kBadFeedData);
    return;
  }
  for (const auto& reading : *result)
    require_plausible(reading);
}

}  // namespace gridshift::fuzz
