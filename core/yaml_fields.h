// Shared groundwork of gridshift's YAML readers (job specs, configuration): dotted key paths,
// 1-based lines, readable descriptions of a node, and the walk over a mapping's keys that
// reports non-text and duplicate keys (yaml-cpp silently keeps duplicates). Pure functions.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace gridshift::yaml {

// 1-based line of a node, 0 when yaml-cpp knows none.
int line_of(const YAML::Node& node);

// "a mapping", "a list", "nothing" (null or absent), "the quoted text \"x\"" or "'x'".
std::string describe(const YAML::Node& node);

// True for a quoted scalar ("10" rather than 10).
bool is_quoted(const YAML::Node& node);

// "a.b" from ("a", "b"), "b" from ("", "b"); "a[2]" from ("a", 2).
std::string child_path(const std::string& path, std::string_view key);
std::string index_path(const std::string& path, std::size_t index);

// One key/value pair of a mapping, with what error messages need.
struct Entry {
  std::string key;
  std::string path;  // dotted path of the value
  YAML::Node value;
  int key_line = 0;

  // A missing value's mark points past the key; the key's line is the useful one then.
  int value_line() const;
};

// The pairs of `map` (which must be a mapping) in document order. Keys that are not text and
// repeated keys are reported into `errors` and left out, so that each key is handled once.
std::vector<Entry> entries(const YAML::Node& map, const std::string& path,
                           std::vector<FieldError>& errors);

// An environment variable name: [A-Za-z_][A-Za-z0-9_]*.
bool is_env_name(std::string_view name);

}  // namespace gridshift::yaml
