#include "core/footprint.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/text.h"
#include "core/time.h"

namespace gridshift {
namespace {

Error footprint_error(std::string field, std::string message, int line = 0) {
  return make_error("invalid_footprint",
                    line > 0 ? fmt::format("footprint export line {}: {}", line, message)
                             : "footprint export: " + message,
                    {FieldError{std::move(field), std::move(message), line}});
}

// Splits one CSV record (RFC 4180: fields may be quoted, "" is a quote inside quotes) starting
// at `at`; advances `at` past its line end and counts the lines it spans. False when a quote
// is left open.
bool next_record(std::string_view text, std::size_t& at, std::vector<std::string>& fields,
                 int& lines) {
  fields.assign(1, std::string());
  bool quoted = false;
  ++lines;
  while (at < text.size()) {
    const char c = text[at++];
    if (quoted) {
      if (c == '"') {
        if (at < text.size() && text[at] == '"') {
          fields.back() += '"';
          ++at;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++lines;
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c == '\n') {
      break;
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return !quoted;
}

}  // namespace

std::optional<std::string> footprint_month(std::string_view usage_month) {
  auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (usage_month.size() != 7 && usage_month.size() != 10) return std::nullopt;
  if (usage_month[4] != '-' || !digits(usage_month.substr(0, 4)) ||
      !digits(usage_month.substr(5, 2))) {
    return std::nullopt;
  }
  const int month = (usage_month[5] - '0') * 10 + (usage_month[6] - '0');
  if (month < 1 || month > 12) return std::nullopt;
  if (usage_month.size() == 10 && (usage_month[7] != '-' || !digits(usage_month.substr(8, 2)))) {
    return std::nullopt;
  }
  return std::string(usage_month.substr(0, 7));
}

Result<std::vector<FootprintRow>> parse_footprint_csv(std::string_view text) {
  std::size_t at = 0;
  int line = 0;
  std::vector<std::string> header;
  while (at < text.size()) {  // the first non-blank line
    if (!next_record(text, at, header, line)) return footprint_error("", "unclosed quote", line);
    if (header.size() > 1 || !header[0].empty()) break;
    header.clear();
  }
  if (header.empty()) return footprint_error("header", "the file is empty");
  // A UTF-8 byte order mark from a spreadsheet.
  if (header[0].starts_with("\xEF\xBB\xBF")) header[0].erase(0, 3);
  auto column = [&](std::string_view name) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    return std::nullopt;
  };
  const auto month_at = column("usage_month");
  const auto service_at = column("service.description");
  const auto region_at = column("location.region");
  const auto kg_at = column("carbon_footprint_total_kgCO2e.location_based");
  for (const auto& [name, found] :
       {std::pair{"usage_month", month_at}, std::pair{"service.description", service_at},
        std::pair{"location.region", region_at},
        std::pair{"carbon_footprint_total_kgCO2e.location_based", kg_at}}) {
    if (!found) {
      return footprint_error(name, fmt::format("the header has no {} column (a CSV export of the "
                                               "Carbon Footprint BigQuery table is expected)",
                                               name));
    }
  }
  std::vector<FootprintRow> rows;
  std::vector<std::string> fields;
  while (at < text.size()) {
    if (!next_record(text, at, fields, line)) {
      return footprint_error("", "unclosed quote", line);
    }
    if (fields.size() == 1 && fields[0].empty()) continue;
    if (fields.size() != header.size()) {
      return footprint_error(
          "", fmt::format("{} fields where the header has {}", fields.size(), header.size()), line);
    }
    FootprintRow row;
    auto month = footprint_month(fields[*month_at]);
    if (!month) {
      return footprint_error("usage_month", "usage_month '" + fields[*month_at] + "' is not a date",
                             line);
    }
    row.month = std::move(*month);
    row.service = fields[*service_at];
    row.region = fields[*region_at];
    const std::string& kg = fields[*kg_at];
    if (!kg.empty()) {
      row.kg = parse_number(kg);
      if (!row.kg) {
        return footprint_error("carbon_footprint_total_kgCO2e.location_based",
                               "'" + kg + "' is not a number", line);
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<FootprintLine> compare_footprint(const std::vector<FootprintRow>& rows,
                                             const std::vector<Job>& jobs) {
  std::map<std::pair<std::string, std::string>, FootprintLine> lines;
  auto line_for = [&](const std::string& month, const std::string& region) -> FootprintLine& {
    auto& l = lines[{month, region}];
    l.month = month;
    l.region = region;
    return l;
  };
  for (const auto& row : rows) {
    if (row.service != kVertexAiService) continue;
    auto& l = line_for(row.month, row.region);  // a NULL figure still shows its line, unknown
    if (row.kg) l.google_kg = l.google_kg.value_or(0) + *row.kg;
  }
  for (const auto& job : jobs) {
    if (!job.accounting || !job.accounting->actual_g || !job.finished_at || !job.region) continue;
    const std::string month = format_rfc3339(*job.finished_at).substr(0, 7);
    auto& l = line_for(month, *job.region);
    ++l.jobs;
    l.gridshift_kg = l.gridshift_kg.value_or(0) + *job.accounting->actual_g / 1000.0;
    if (job.accounting->embodied_g) {
      l.embodied_kg = l.embodied_kg.value_or(0) + *job.accounting->embodied_g / 1000.0;
    }
  }
  std::vector<FootprintLine> out;
  for (auto& [key, l] : lines) {
    if (l.google_kg && l.gridshift_kg && *l.gridshift_kg > 0) {
      l.ratio = *l.google_kg / *l.gridshift_kg;
    }
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace gridshift
