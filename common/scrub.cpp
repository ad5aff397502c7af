#include "common/scrub.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/encoding.h"

namespace gridshift {
namespace {

using Patterns = std::vector<std::string>;

std::atomic<std::shared_ptr<const Patterns>>& patterns() {
  static std::atomic<std::shared_ptr<const Patterns>> current{std::make_shared<const Patterns>()};
  return current;
}

// The values the patterns are made of: the configured ones and the recent run-time ones. Only
// written from the daemon's io thread; readers see `patterns()`.
std::vector<std::string>& configured_values() {
  static std::vector<std::string> values;
  return values;
}
std::vector<std::string>& runtime_values() {
  static std::vector<std::string> values;
  return values;
}

void rebuild() {
  auto next = std::make_shared<Patterns>();
  std::vector<std::string> values = configured_values();
  values.insert(values.end(), runtime_values().begin(), runtime_values().end());
  for (const auto& value : values) {
    if (value.size() < kMinScrubbedLength) continue;
    next->push_back(value);
    next->push_back(percent_encode(value));
    const std::string json = nlohmann::json(value).dump();  // escaped, with its quotes
    next->push_back(json.substr(1, json.size() - 2));
  }
  std::sort(next->begin(), next->end());
  next->erase(std::unique(next->begin(), next->end()), next->end());
  // Longest first, so that a value is replaced whole before a shorter one inside it.
  std::stable_sort(next->begin(), next->end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  patterns().store(std::move(next));
}

}  // namespace

void set_scrubbed_secrets(const std::vector<std::string>& values) {
  configured_values() = values;
  rebuild();
}

void add_runtime_secret(const std::string& value) {
  auto& recent = runtime_values();
  if (std::find(recent.begin(), recent.end(), value) != recent.end()) return;
  recent.push_back(value);
  if (recent.size() > kRecentRuntimeSecrets) recent.erase(recent.begin());
  rebuild();
}

bool contains_secret(std::string_view text) {
  const auto current = patterns().load();
  return std::any_of(current->begin(), current->end(),
                     [&](const std::string& p) { return text.find(p) != std::string_view::npos; });
}

std::string scrub_secrets(std::string_view text) {
  std::string out(text);
  const auto current = patterns().load();
  for (const auto& p : *current) {
    for (auto at = out.find(p); at != std::string::npos; at = out.find(p, at + kRedacted.size()))
      out.replace(at, p.size(), kRedacted);
  }
  return out;
}

}  // namespace gridshift
