// Small text helpers shared by config, spec and CLI messages: "did you mean" (the closest known
// word to a misspelt one: a config key, a spec field, a subcommand) and joining lists. Pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gridshift {

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
