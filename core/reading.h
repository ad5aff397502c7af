// A carbon-intensity reading as cached in the database: a value that holds over
// [timestamp, timestamp + step), from one feed for one location, actual or forecast.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/time.h"
#include "core/units.h"

namespace gridshift {

enum class ReadingKind { actual, forecast };

std::string_view to_string(ReadingKind kind);
std::optional<ReadingKind> parse_reading_kind(std::string_view text);

struct Reading {
  std::string feed;      // configured feed name
  std::string location;  // the feed's key for the place (zone, UK region, GCP region, ...)
  SignalType signal = SignalType::average;
  ReadingKind kind = ReadingKind::actual;
  TimePoint timestamp{};
  Seconds step{3600};
  double gco2_per_kwh = 0;  // always normalised to g CO2e/kWh
  TimePoint issued_at{};    // forecasts: when the forecast was made; actuals: == timestamp
  TimePoint fetched_at{};   // when gridshift received it
  bool estimated = false;   // the source marked the value as estimated
  std::optional<double> renewable_percent;
  std::optional<double> fossil_free_percent;
  // Each source's share of consumption in percent ("nuclear" -> 68.2), where the feed gives a
  // power breakdown (Electricity Maps); empty when unknown.
  std::map<std::string, double> consumption_mix;

  bool operator==(const Reading&) const = default;
};

}  // namespace gridshift
