// Units and signal types of carbon-intensity data. Everything inside gridshift is g CO2e/kWh;
// marginal feeds that speak lbs/MWh are converted at the edge with these helpers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gridshift {

// Average (location-based) and marginal signals must never be ranked against each other.
enum class SignalType { average, marginal, annual_average };

std::string_view to_string(SignalType type);

// Grams for people: "3.4 g" below 10 g (small figures keep a decimal), "412 g", "1.93 kg".
std::string format_grams(double grams);
std::optional<SignalType> parse_signal_type(std::string_view text);

// 1 lb/MWh = 453.592 g / 1000 kWh.
inline constexpr double kGramsPerKwhPerLbPerMwh = 0.453592;

constexpr double lbs_per_mwh_to_g_per_kwh(double lbs_per_mwh) {
  return lbs_per_mwh * kGramsPerKwhPerLbPerMwh;
}
constexpr double g_per_kwh_to_lbs_per_mwh(double g_per_kwh) {
  return g_per_kwh / kGramsPerKwhPerLbPerMwh;
}

// Emissions [g] = power [W] / 1000 x hours x PUE x intensity [g/kWh].
constexpr double energy_kwh(double power_watts, double hours, double pue) {
  return power_watts / 1000.0 * hours * pue;
}

}  // namespace gridshift
