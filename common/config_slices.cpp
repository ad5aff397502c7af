#include "common/config_slices.h"

#include <fmt/format.h>

namespace gridshift {

std::string FeedConfig::option(std::string_view key) const {
  auto it = options.find(key);
  return it == options.end() ? std::string() : it->second;
}

FeedConfig FeedConfig::position_free() const {
  FeedConfig copy = *this;
  copy.line = 0;
  for (auto& [base, source] : copy.secrets)
    source.key.clear();
  return copy;
}

std::string feed_location(const FeedConfig& feed, const RegionConfig& region) {
  return feed.schema != nullptr && feed.schema->keyed_by_region_name ? region.name
                                                                     : region.location;
}

std::string feed_location(const ServiceConfig& config, const std::string& feed,
                          const RegionConfig& region) {
  const auto* f = config.find_feed(feed);
  return f ? feed_location(*f, region) : region.location;
}

SignalType feed_signal(const FeedConfig& feed) {
  return feed.schema != nullptr ? feed.schema->signal : SignalType::average;
}

std::string_view to_string(StorageType type) {
  return type == StorageType::postgres ? "postgres" : "sqlite";
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::trace:
      return "trace";
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "unknown";
}

std::vector<std::string> ServiceConfig::region_names() const {
  std::vector<std::string> names;
  names.reserve(regions.size());
  for (const auto& region : regions)
    names.push_back(region.name);
  return names;
}

const FeedConfig* ServiceConfig::find_feed(std::string_view name) const {
  for (const auto& feed : feeds) {
    if (feed.name == name) return &feed;
  }
  return nullptr;
}

const RegionConfig* ServiceConfig::find_region(std::string_view name) const {
  for (const auto& region : regions) {
    if (region.name == name) return &region;
  }
  return nullptr;
}

LeverContext lever_context(const ServiceConfig& config) {
  LeverContext context;
  for (const auto& region : config.regions)
    context.regions.emplace(region.name, region.levers);
  context.embodied_kgco2e = config.embodied.accelerators;
  context.embodied_lifetime = config.embodied.lifetime;
  return context;
}

std::string format_config_errors(const std::string& path, const Error& error) {
  std::string out;
  if (error.details.empty()) return error.message;
  for (const auto& detail : error.details) {
    if (!out.empty()) out += '\n';
    out += path;
    if (detail.line > 0) out += fmt::format(":{}", detail.line);
    out += ": ";
    if (!detail.field.empty()) out += detail.field + ": ";
    out += detail.message;
  }
  return out;
}

}  // namespace gridshift
