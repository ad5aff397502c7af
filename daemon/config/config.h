// The daemon's configuration, top level (docs/configuration.md): the service's slices
// (common/config_slices.h) plus the dispatch target's settings (deploy/settings.h), parsed from
// YAML. parse_config is pure (text in, values or errors naming key path and line out). Values
// are immutable once loaded; a reload builds a new Config and compares it slice by slice.
#pragma once

#include <string>
#include <string_view>

#include "common/config_slices.h"
#include "common/feed_schema.h"
#include "core/result.h"
#include "deploy/settings.h"

namespace gridshift {

struct Config : ServiceConfig {
  DispatchConfig dispatch;
  bool operator==(const Config&) const = default;
};

// Parses and validates YAML text. `source_name` (usually the file path) prefixes messages.
// Error code "invalid_config"; each detail names the key path (e.g. "scheduler.tick",
// "feeds[1].poll_interval", "regions[0].feeds[1]") and its 1-based line.
// `feeds` lists the feed types a `type:` may name (daemon/feeds/registry.h: feed_schemas()).
Result<Config> parse_config(std::string_view text, std::string_view source_name,
                            const FeedSchemas& feeds);

// Reads the file and parses it. Error "invalid_config" also when the file cannot be read.
Result<Config> load_config_file(const std::string& path, const FeedSchemas& feeds);

}  // namespace gridshift
