#include "daemon/feeds/watttime/parser.h"

#include <fmt/format.h>

#include "core/units.h"
#include "daemon/feeds/parse_support.h"

namespace gridshift {

using namespace wire;  // NOLINT(google-build-using-namespace): the parsers' own toolkit

Result<std::string> parse_watttime_login(std::string_view body) {
  auto doc = parse_json(body);
  if (!doc) return doc.error();
  auto token = get_string(*doc, "token", "token");
  if (!token) return token.error();
  if (token->empty()) return bad("token", "empty");
  return token;
}

Result<std::string> parse_watttime_region(std::string_view body) {
  auto doc = parse_json(body);
  if (!doc) return doc.error();
  auto region = get_string(*doc, "region", "region");
  if (!region) return region.error();
  if (region->empty()) return bad("region", "empty");
  return region;
}

Result<std::vector<Reading>> parse_watttime_data(std::string_view body,
                                                 std::string_view expected_region, ReadingKind kind,
                                                 const ParseContext& ctx) {
  auto doc = parse_json(body);
  if (!doc) return doc.error();
  const json& meta = member(*doc, "meta");
  if (!meta.is_object()) return bad("meta", "missing or not an object");
  auto region = get_string(meta, "region", "meta.region");
  if (!region) return region.error();
  if (!expected_region.empty() && *region != expected_region) {
    return bad("meta.region", fmt::format("response is for region '{}', asked for '{}'", *region,
                                          expected_region));
  }
  auto units = get_string(meta, "units", "meta.units");
  if (!units) return units.error();
  if (*units != "lbs_co2_per_mwh") {
    return bad("meta.units", fmt::format("unexpected units '{}'", *units));
  }
  Seconds period{300};
  if (auto p = get_number(meta, "data_point_period_seconds", "meta.data_point_period_seconds");
      !p) {
    return p.error();
  } else if (*p) {
    if (**p < 1 || **p > 86400) return bad("meta.data_point_period_seconds", "out of range");
    period = Seconds{static_cast<long long>(**p)};
  }
  TimePoint issued_at = ctx.fetched_at;
  if (kind == ReadingKind::forecast && !member(meta, "generated_at").is_null()) {
    auto t = get_time(meta, "generated_at", "meta.generated_at");
    if (!t) return t.error();
    issued_at = *t;
  }
  const json& data = member(*doc, "data");
  if (!data.is_array()) return bad("data", "missing or not an array");
  std::vector<Reading> out;
  for (std::size_t i = 0; i < data.size(); ++i) {
    auto prefix = fmt::format("data[{}].", i);
    if (!data[i].is_object()) return bad(prefix, "expected an object");
    auto t = get_time(data[i], "point_time", prefix + "point_time");
    if (!t) return t.error();
    auto v = get_number(data[i], "value", prefix + "value");
    if (!v) return v.error();
    if (!*v) continue;
    double g = lbs_per_mwh_to_g_per_kwh(**v);
    if (auto ok = check_plausible(g, prefix + "value"); !ok) return ok.error();
    out.push_back(make_reading(ctx, SignalType::marginal, kind, *t, period, g, issued_at));
  }
  if (auto ok = check_sorted(out, "data"); !ok) return ok.error();
  return out;
}

}  // namespace gridshift
