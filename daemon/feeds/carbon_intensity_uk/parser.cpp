#include "daemon/feeds/carbon_intensity_uk/parser.h"

#include <fmt/format.h>

#include "daemon/feeds/parse_support.h"

namespace gridshift {

using namespace wire;  // NOLINT(google-build-using-namespace): the parsers' own toolkit

namespace {

// The UK API's `intensity` points: [{from, to, intensity: {forecast, actual?}}].
Status uk_points(const json& items, const std::string& array_field, bool with_actuals,
                 TimePoint issued_at, const ParseContext& ctx, std::vector<Reading>& out) {
  if (!items.is_array()) return bad(array_field, "expected an array");
  std::vector<Reading> actuals, forecasts;
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto prefix = fmt::format("{}[{}].", array_field, i);
    const json& item = items[i];
    if (!item.is_object()) return bad(prefix, "expected an object");
    auto from = get_time(item, "from", prefix + "from");
    if (!from) return from.error();
    auto to = get_time(item, "to", prefix + "to");
    if (!to) return to.error();
    if (*to <= *from) return bad(prefix + "to", "not after 'from'");
    const json& intensity = member(item, "intensity");
    if (!intensity.is_object()) return bad(prefix + "intensity", "missing or not an object");
    auto fc = get_number(intensity, "forecast", prefix + "intensity.forecast");
    if (!fc) return fc.error();
    if (*fc) {
      if (auto ok = check_plausible(**fc, prefix + "intensity.forecast"); !ok) return ok.error();
      if (*from >= issued_at) {
        forecasts.push_back(make_reading(ctx, SignalType::average, ReadingKind::forecast, *from,
                                         *to - *from, **fc, issued_at));
      }
    }
    if (with_actuals) {
      auto ac = get_number(intensity, "actual", prefix + "intensity.actual");
      if (!ac) return ac.error();
      if (*ac) {
        if (auto ok = check_plausible(**ac, prefix + "intensity.actual"); !ok) return ok.error();
        actuals.push_back(make_reading(ctx, SignalType::average, ReadingKind::actual, *from,
                                       *to - *from, **ac, *from));
      }
    }
  }
  if (auto ok = check_sorted(actuals, array_field); !ok) return ok.error();
  if (auto ok = check_sorted(forecasts, array_field); !ok) return ok.error();
  out.insert(out.end(), actuals.begin(), actuals.end());
  out.insert(out.end(), forecasts.begin(), forecasts.end());
  return {};
}

}  // namespace

Result<std::vector<Reading>> parse_uk_national(std::string_view body, TimePoint forecast_issued_at,
                                               const ParseContext& ctx) {
  std::vector<Reading> out;
  if (blank(body)) return out;
  auto doc = parse_json(body);
  if (!doc) return doc.error();
  const json& data = member(*doc, "data");
  if (data.is_null()) return out;
  if (data.is_object()) {  // /intensity (current slot) answers a one-element list, but be lenient
    json list = json::array({data});
    if (auto ok = uk_points(list, "data", true, forecast_issued_at, ctx, out); !ok) {
      return ok.error();
    }
    return out;
  }
  if (auto ok = uk_points(data, "data", true, forecast_issued_at, ctx, out); !ok) {
    return ok.error();
  }
  return out;
}

Result<std::vector<Reading>> parse_uk_regional(std::string_view body, TimePoint forecast_issued_at,
                                               const ParseContext& ctx) {
  std::vector<Reading> out;
  if (blank(body)) return out;
  auto doc = parse_json(body);
  if (!doc) return doc.error();
  const json* region = &member(*doc, "data");
  std::string field = "data";
  if (region->is_null()) return out;
  if (region->is_array()) {  // the /regional/regionid/{id} form wraps the object in a list
    if (region->empty()) return out;
    if (region->size() != 1) return bad("data", "expected one region");
    region = &(*region)[0];
    field = "data[0]";
  }
  if (!region->is_object()) return bad(field, "expected an object");
  const json& points = member(*region, "data");
  if (points.is_null()) return bad(field + ".data", "missing");
  if (auto ok = uk_points(points, field + ".data", false, forecast_issued_at, ctx, out); !ok) {
    return ok.error();
  }
  return out;
}

}  // namespace gridshift
