#include "core/text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

namespace gridshift {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string_view> split_columns(std::string_view line, std::size_t columns) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string_view> out;
  while (out.size() + 1 < columns) {
    const std::size_t comma = line.find(',');
    if (comma == std::string_view::npos) return {};
    out.push_back(line.substr(0, comma));
    line.remove_prefix(comma + 1);
  }
  out.push_back(line);
  return out;
}

Error csv_line_error(std::string_view code, std::string_view what, int line, std::string field,
                     std::string message) {
  return make_error(std::string(code),
                    std::string(what) + " line " + std::to_string(line) + ": " + message,
                    {FieldError{std::move(field), std::move(message), line}});
}

std::optional<Error> csv_rows(std::string_view text, std::string_view header, std::size_t columns,
                              std::string_view code, std::string_view what, const CsvRow& row) {
  bool header_seen = false;
  int line_number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!header_seen) {
      if (line != header) {
        return csv_line_error(code, what, line_number, "header",
                              "expected header \"" + std::string(header) + "\"");
      }
      header_seen = true;
      continue;
    }
    const auto fields = split_columns(line, columns);
    if (fields.empty()) {
      return csv_line_error(
          code, what, line_number, "",
          "expected " + std::to_string(columns) + " columns: " + std::string(header));
    }
    if (auto error = row(line_number, fields)) return error;
  }
  if (!header_seen) return csv_line_error(code, what, 1, "header", "the table is empty");
  return std::nullopt;
}

std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace gridshift
