// Small text helpers shared by config, spec and CLI messages: "did you mean" (the closest known
// word to a misspelt one: a config key, a spec field, a subcommand) and joining lists. Pure.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace gridshift {

// The first `columns` - 1 comma-separated fields of a CSV line and the rest of it as the last
// (so that a trailing free-text column may hold commas); empty when the line has fewer. A
// trailing '\r' is dropped. The data tables under data/ are read with it.
std::vector<std::string_view> split_columns(std::string_view line, std::size_t columns);

// The whole of `text` as a finite decimal number (std::from_chars, so "1.5", "2e3", no
// spaces or units); nullopt otherwise.
std::optional<double> parse_number(std::string_view text);

// Reads a data table: the first non-empty line must equal `header`, and `row(line, fields)` is
// called for every later non-empty line with its `columns` fields (split_columns). The first
// error is returned: a wrong header or too few columns as error `code` naming the line (`what`
// names the table in the message), or what `row` returned.
using CsvRow = std::function<std::optional<Error>(int line, const std::vector<std::string_view>&)>;
std::optional<Error> csv_rows(std::string_view text, std::string_view header, std::size_t columns,
                              std::string_view code, std::string_view what, const CsvRow& row);
// Error `code` "WHAT line N: MESSAGE" with one detail naming `field` and the line.
Error csv_line_error(std::string_view code, std::string_view what, int line, std::string field,
                     std::string message);

// Levenshtein distance of two words.
std::size_t edit_distance(std::string_view a, std::string_view b);
// ASCII lower case.
std::string lower_ascii(std::string_view text);

// The closest candidate within edit distance 2 (ignoring case), or empty.
template <class Range>
std::string_view closest(std::string_view word, const Range& candidates) {
  std::string_view best;
  std::size_t best_distance = 3;
  const std::string needle = lower_ascii(word);
  for (std::string_view candidate : candidates) {
    const std::size_t d = edit_distance(needle, lower_ascii(candidate));
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

// "a, b, c" (or with another separator).
template <class Range>
std::string join_list(const Range& items, std::string_view separator = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

}  // namespace gridshift
