#include "core/feed_parsers.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/units.h"

namespace gridshift {
namespace {

using nlohmann::json;

// Feed bodies are small; anything deeper than this is not one of the documented shapes.
constexpr int kMaxJsonDepth = 32;

Error bad(std::string_view field, std::string message) {
  // Formatted before `message` is moved into the detail (argument order is unspecified).
  auto text = fmt::format("bad feed response: {}: {}", field, message);
  return make_error(std::string(kBadFeedData), std::move(text),
                    {FieldError{std::string(field), std::move(message)}});
}

std::string describe_start(std::string_view body) {
  auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "empty body";
  if (body[first] == '<') return "HTML or XML instead of JSON";
  return "malformed JSON";
}

Result<json> parse_json(std::string_view body) {
  int depth = 0;
  int max_depth = 0;
  auto callback = [&](int, json::parse_event_t event, json&) {
    if (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) {
      max_depth = std::max(max_depth, ++depth);
    } else if (event == json::parse_event_t::object_end ||
               event == json::parse_event_t::array_end) {
      --depth;
    }
    return max_depth <= kMaxJsonDepth;
  };
  json value = json::parse(body.begin(), body.end(), callback, false);
  if (value.is_discarded()) return bad("body", describe_start(body));
  if (max_depth > kMaxJsonDepth) return bad("body", "JSON nested too deeply");
  if (!value.is_object()) return bad("body", "expected a JSON object");
  return value;
}

// The member `key` of object `obj`, or null when absent.
const json& member(const json& obj, std::string_view key) {
  static const json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

Result<std::string> get_string(const json& obj, std::string_view key, const std::string& field) {
  const json& v = member(obj, key);
  if (v.is_null()) return bad(field, "missing or null");
  if (!v.is_string()) return bad(field, "expected a string");
  return v.get<std::string>();
}

Result<TimePoint> get_time(const json& obj, std::string_view key, const std::string& field) {
  auto text = get_string(obj, key, field);
  if (!text) return text.error();
  auto t = parse_rfc3339(*text);
  if (!t) return bad(field, t.error().message);
  return *t;
}

// A nullable number: nullopt when null or absent, error when of another type.
Result<std::optional<double>> get_number(const json& obj, std::string_view key,
                                         const std::string& field) {
  const json& v = member(obj, key);
  if (v.is_null()) return std::optional<double>{};
  if (!v.is_number()) return bad(field, "expected a number");
  return std::optional<double>(v.get<double>());
}

Result<std::optional<double>> get_percent(const json& obj, std::string_view key) {
  auto v = get_number(obj, key, std::string(key));
  if (!v) return v;
  if (*v && (!std::isfinite(**v) || **v < 0 || **v > 100)) {
    return bad(key, fmt::format("{} is not a percentage", **v));
  }
  return v;
}

Status check_zone(const json& obj, std::string_view expected, const std::string& field) {
  if (expected.empty()) return {};
  auto zone = get_string(obj, "zone", field);
  if (!zone) return zone.error();
  if (*zone != expected) {
    return bad(field, fmt::format("response is for zone '{}', asked for '{}'", *zone, expected));
  }
  return {};
}

Reading make_reading(const ParseContext& ctx, SignalType signal, ReadingKind kind, TimePoint t,
                     Seconds step, double value, TimePoint issued_at) {
  Reading r;
  r.feed = ctx.feed;
  r.location = ctx.location;
  r.signal = signal;
  r.kind = kind;
  r.timestamp = t;
  r.step = step;
  r.gco2_per_kwh = value;
  r.issued_at = kind == ReadingKind::actual ? t : issued_at;
  r.fetched_at = ctx.fetched_at;
  return r;
}

// Steps of a series: the gap to the next point; the last point repeats the previous gap.
void assign_steps(std::vector<Reading>& readings, Seconds fallback) {
  for (std::size_t i = 0; i < readings.size(); ++i) {
    if (i + 1 < readings.size() && readings[i + 1].timestamp > readings[i].timestamp) {
      readings[i].step = readings[i + 1].timestamp - readings[i].timestamp;
    } else if (i > 0) {
      readings[i].step = readings[i - 1].step;
    } else {
      readings[i].step = fallback;
    }
  }
}

Status check_sorted(const std::vector<Reading>& readings, std::string_view array) {
  for (std::size_t i = 1; i < readings.size(); ++i) {
    if (readings[i].timestamp <= readings[i - 1].timestamp) {
      return bad(fmt::format("{}[{}]", array, i), "timestamps not strictly increasing");
    }
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

bool blank(std::string_view body) {
  return body.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Splits one CSV line; double quotes may wrap a field and "" inside is a quote.
std::vector<std::string> split_csv_line(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::optional<double> to_double(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

Error csv_error(int line, std::string field, std::string message) {
  auto text = fmt::format("line {}: {}: {}", line, field, message);
  return make_error(std::string(kBadFeedData), std::move(text),
                    {FieldError{std::move(field), std::move(message), line}});
}

}  // namespace

Status check_plausible(double gco2_per_kwh, std::string_view field) {
  if (!std::isfinite(gco2_per_kwh) || gco2_per_kwh < 0 || gco2_per_kwh > kMaxPlausibleGco2PerKwh) {
    return bad(field, fmt::format("implausible intensity {} g/kWh (allowed 0..{})", gco2_per_kwh,
                                  kMaxPlausibleGco2PerKwh));
  }
  return {};
}

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
  return out;
}

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

Result<std::vector<GcpRegionRow>> parse_gcp_regions_csv(std::string_view text) {
  auto lines = split_lines(text);
  if (lines.empty()) return csv_error(1, "header", "empty file");
  auto header = split_csv_line(lines[0]);
  auto column = [&](std::string_view name) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    return std::nullopt;
  };
  auto c_region = column("region");
  auto c_cfe = column("cfe_percent");
  auto c_grid = column("grid_gco2_per_kwh");
  auto c_year = column("year");
  if (!c_region || !c_cfe || !c_grid || !c_year) {
    return csv_error(1, "header", "needs region, cfe_percent, grid_gco2_per_kwh and year");
  }
  std::vector<GcpRegionRow> out;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const int line = static_cast<int>(i + 1);
    if (lines[i].empty()) continue;
    auto f = split_csv_line(lines[i]);
    if (f.size() != header.size()) {
      return csv_error(line, "row", fmt::format("expected {} fields", header.size()));
    }
    GcpRegionRow row;
    row.region = f[*c_region];
    if (row.region.empty()) return csv_error(line, "region", "empty");
    auto cfe = to_double(f[*c_cfe]);
    if (!cfe || *cfe < 0 || *cfe > 100) return csv_error(line, "cfe_percent", "not a percentage");
    auto grid = to_double(f[*c_grid]);
    if (!grid) return csv_error(line, "grid_gco2_per_kwh", "not a number");
    if (auto ok = check_plausible(*grid, "grid_gco2_per_kwh"); !ok) {
      return csv_error(line, "grid_gco2_per_kwh", ok.error().details[0].message);
    }
    auto year = to_double(f[*c_year]);
    if (!year || *year < 1990 || *year > 2200) return csv_error(line, "year", "not a year");
    row.cfe_percent = *cfe;
    row.grid_gco2_per_kwh = *grid;
    row.year = static_cast<int>(*year);
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace gridshift
