#include "core/units.h"

#include <fmt/format.h>

#include "core/reading.h"

namespace gridshift {

std::string_view to_string(SignalType type) {
  switch (type) {
    case SignalType::average:
      return "average";
    case SignalType::marginal:
      return "marginal";
    case SignalType::annual_average:
      return "annual_average";
  }
  return "unknown";
}

std::optional<SignalType> parse_signal_type(std::string_view text) {
  for (const auto type : {SignalType::average, SignalType::marginal, SignalType::annual_average}) {
    if (to_string(type) == text) return type;
  }
  return std::nullopt;
}

std::string_view to_string(ReadingKind kind) {
  switch (kind) {
    case ReadingKind::actual:
      return "actual";
    case ReadingKind::forecast:
      return "forecast";
  }
  return "unknown";
}

std::optional<ReadingKind> parse_reading_kind(std::string_view text) {
  for (const auto kind : {ReadingKind::actual, ReadingKind::forecast}) {
    if (to_string(kind) == text) return kind;
  }
  return std::nullopt;
}

std::string format_grams(double g) {
  const double magnitude = g < 0 ? -g : g;
  if (magnitude < 9.95) return fmt::format("{:.1f} g", g);
  if (magnitude < 999.5) return fmt::format("{:.0f} g", g);
  return fmt::format("{:.2f} kg", g / 1000.0);
}

}  // namespace gridshift
