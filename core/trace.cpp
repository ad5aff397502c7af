#include "core/trace.h"

#include <charconv>
#include <cmath>

namespace gridshift {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

constexpr std::size_t kMaxErrors = 20;

}  // namespace

const std::vector<Point>* TraceSet::find(std::string_view region) const {
  auto it = series.find(std::string(region));
  return it == series.end() ? nullptr : &it->second;
}

Result<TraceSet> parse_trace_csv(std::string_view text, std::string_view source_name) {
  TraceSet out;
  std::vector<FieldError> errors;
  std::map<std::string, int> last_line;
  int line_no = 0;
  bool header_seen = false;
  std::size_t pos = 0;
  while (pos < text.size() && errors.size() < kMaxErrors) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view line = trim(text.substr(pos, eol - pos));
    pos = eol + 1;
    ++line_no;
    if (line.empty()) continue;
    std::string_view cols[3];
    std::size_t n = 0;
    std::size_t start = 0;
    bool too_many = false;
    while (true) {
      const std::size_t comma = line.find(',', start);
      const std::string_view col = trim(line.substr(start, comma - start));
      if (n == 3) {
        too_many = true;
        break;
      }
      cols[n++] = col;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (!header_seen) {
      header_seen = true;
      if (too_many || n != 3 || cols[0] != "region" || cols[1] != "timestamp" ||
          cols[2] != "gco2_per_kwh") {
        errors.push_back({"header", "expected 'region,timestamp,gco2_per_kwh'", line_no});
        break;
      }
      continue;
    }
    if (too_many || n != 3) {
      errors.push_back({"line", "expected 3 columns: region,timestamp,gco2_per_kwh", line_no});
      continue;
    }
    if (cols[0].empty()) {
      errors.push_back({"region", "empty", line_no});
      continue;
    }
    auto ts = parse_rfc3339(cols[1]);
    if (!ts) {
      errors.push_back({"timestamp", ts.error().message, line_no});
      continue;
    }
    double value = 0;
    const auto* first = cols[2].data();
    const auto* last = first + cols[2].size();
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc{} || ptr != last || !std::isfinite(value)) {
      errors.push_back({"gco2_per_kwh", "not a number: '" + std::string(cols[2]) + "'", line_no});
      continue;
    }
    if (value < 0) {
      errors.push_back({"gco2_per_kwh", "negative", line_no});
      continue;
    }
    const std::string region(cols[0]);
    auto [it, inserted] = out.series.try_emplace(region);
    if (inserted) out.regions.push_back(region);
    auto& points = it->second;
    if (!points.empty() && *ts <= points.back().start) {
      errors.push_back({"timestamp",
                        "not after the previous timestamp of region " + region + " (line " +
                            std::to_string(last_line[region]) + ")",
                        line_no});
      continue;
    }
    if (!points.empty()) points.back().end = *ts;
    points.push_back(Point{*ts, *ts, value});
    last_line[region] = line_no;
  }
  if (!header_seen && errors.empty()) errors.push_back({"header", "empty file", 1});
  if (!errors.empty()) {
    return make_error("invalid_trace", std::string(source_name) + ": invalid trace CSV",
                      std::move(errors));
  }
  for (auto& [region, points] : out.series) {
    const Seconds step = points.size() >= 2
                             ? points[points.size() - 1].start - points[points.size() - 2].start
                             : Seconds{3600};
    points.back().end = points.back().start + step;
  }
  return out;
}

}  // namespace gridshift
