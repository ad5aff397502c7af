#include "daemon/feeds/electricitymaps/parser.h"

#include <fmt/format.h>

#include "daemon/feeds/parse_support.h"

namespace gridshift {

using namespace wire;  // NOLINT(google-build-using-namespace): the parsers' own toolkit

namespace {

Status check_zone(const json& obj, std::string_view expected, const std::string& field) {
  if (expected.empty()) return {};
  auto zone = get_string(obj, "zone", field);
  if (!zone) return zone.error();
  if (*zone != expected) {
    return bad(field, fmt::format("response is for zone '{}', asked for '{}'", *zone, expected));
  }
  return {};
}

// One Electricity Maps point: value (nullable) at datetime. nullopt when the value is null.
Result<std::optional<Reading>> emaps_point(const json& p, const std::string& prefix,
                                           ReadingKind kind, TimePoint issued_at,
                                           const ParseContext& ctx) {
  if (!p.is_object()) return bad(prefix, "expected an object");
  auto t = get_time(p, "datetime", prefix + "datetime");
  if (!t) return t.error();
  auto v = get_number(p, "carbonIntensity", prefix + "carbonIntensity");
  if (!v) return v.error();
  if (!*v) return std::optional<Reading>{};
  if (auto ok = check_plausible(**v, prefix + "carbonIntensity"); !ok) return ok.error();
  auto r = make_reading(ctx, SignalType::average, kind, *t, Seconds{3600}, **v, issued_at);
  const json& est = member(p, "isEstimated");
  if (!est.is_null() && !est.is_boolean()) return bad(prefix + "isEstimated", "expected a boolean");
  r.estimated = est.is_boolean() && est.get<bool>();
  return std::optional<Reading>(std::move(r));
}

Result<std::vector<Reading>> emaps_series(std::string_view body, std::string_view expected_zone,
                                          const char* array_key, ReadingKind kind,
                                          const ParseContext& ctx) {
  auto doc = parse_json(body);
  if (!doc) return doc.error();
  if (auto ok = check_zone(*doc, expected_zone, "zone"); !ok) return ok.error();
  TimePoint issued_at = ctx.fetched_at;
  if (kind == ReadingKind::forecast && !member(*doc, "updatedAt").is_null()) {
    auto t = get_time(*doc, "updatedAt", "updatedAt");
    if (!t) return t.error();
    issued_at = *t;
  }
  const json& items = member(*doc, array_key);
  if (!items.is_array()) return bad(array_key, "missing or not an array");
  std::vector<Reading> out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto prefix = fmt::format("{}[{}].", array_key, i);
    const json& item = items[i];
    if (kind == ReadingKind::actual && !member(item, "zone").is_null()) {
      if (auto ok = check_zone(item, expected_zone, prefix + "zone"); !ok) return ok.error();
    }
    auto r = emaps_point(item, prefix, kind, issued_at, ctx);
    if (!r) return r.error();
    if (*r) out.push_back(std::move(**r));
  }
  if (auto ok = check_sorted(out, array_key); !ok) return ok.error();
  assign_steps(out, Seconds{3600});
  return out;
}

}  // namespace

Result<Reading> parse_emaps_latest(std::string_view body, std::string_view expected_zone,
                                   const ParseContext& ctx) {
  auto doc = parse_json(body);
  if (!doc) return doc.error();
  if (auto ok = check_zone(*doc, expected_zone, "zone"); !ok) return ok.error();
  auto r = emaps_point(*doc, "", ReadingKind::actual, ctx.fetched_at, ctx);
  if (!r) return r.error();
  if (!*r) return bad("carbonIntensity", "missing or null");
  return std::move(**r);
}

Result<std::vector<Reading>> parse_emaps_history(std::string_view body,
                                                 std::string_view expected_zone,
                                                 const ParseContext& ctx) {
  return emaps_series(body, expected_zone, "history", ReadingKind::actual, ctx);
}

Result<std::vector<Reading>> parse_emaps_forecast(std::string_view body,
                                                  std::string_view expected_zone,
                                                  const ParseContext& ctx) {
  return emaps_series(body, expected_zone, "forecast", ReadingKind::forecast, ctx);
}

Result<PowerBreakdown> parse_emaps_power_breakdown(std::string_view body,
                                                   std::string_view expected_zone) {
  auto doc = parse_json(body);
  if (!doc) return doc.error();
  if (auto ok = check_zone(*doc, expected_zone, "zone"); !ok) return ok.error();
  PowerBreakdown out;
  auto t = get_time(*doc, "datetime", "datetime");
  if (!t) return t.error();
  out.datetime = *t;
  auto renewable = get_percent(*doc, "renewablePercentage");
  if (!renewable) return renewable.error();
  auto fossil_free = get_percent(*doc, "fossilFreePercentage");
  if (!fossil_free) return fossil_free.error();
  out.renewable_percent = *renewable;
  out.fossil_free_percent = *fossil_free;
  // MW per source; null (unknown) and negative (storage charging) values take no share.
  if (auto it = doc->find("powerConsumptionBreakdown"); it != doc->end() && it->is_object()) {
    double total = 0;
    for (const auto& [source, mw] : it->items()) {
      if (mw.is_number() && mw.get<double>() > 0) total += mw.get<double>();
    }
    for (const auto& [source, mw] : it->items()) {
      if (total > 0 && mw.is_number() && mw.get<double>() > 0) {
        out.consumption_mix[source] = mw.get<double>() / total * 100.0;
      }
    }
  }
  return out;
}

}  // namespace gridshift
