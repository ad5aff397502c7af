#include "daemon/feeds/parse_support.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace gridshift {
namespace wire {
namespace {

// Feed bodies are small; anything deeper than this is not one of the documented shapes.
constexpr int kMaxJsonDepth = 32;

std::string describe_start(std::string_view body) {
  auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "empty body";
  if (body[first] == '<') return "HTML or XML instead of JSON";
  return "malformed JSON";
}

}  // namespace

Error bad(std::string_view field, std::string message) {
  // Formatted before `message` is moved into the detail (argument order is unspecified).
  auto text = fmt::format("bad feed response: {}: {}", field, message);
  return make_error(std::string(kBadFeedData), std::move(text),
                    {FieldError{std::string(field), std::move(message)}});
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

}  // namespace wire

Status check_plausible(double gco2_per_kwh, std::string_view field) {
  if (!std::isfinite(gco2_per_kwh) || gco2_per_kwh < 0 || gco2_per_kwh > kMaxPlausibleGco2PerKwh) {
    return wire::bad(field, fmt::format("implausible intensity {} g/kWh (allowed 0..{})",
                                        gco2_per_kwh, kMaxPlausibleGco2PerKwh));
  }
  return {};
}

}  // namespace gridshift
