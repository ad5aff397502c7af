// What a feed type declares about its configuration: the keys it accepts beyond the common
// ones, which of them are secrets, its default base URL and the signal it delivers. Each feed
// folder (daemon/feeds/<type>/) defines its schema; the feed registry lists them and the
// config parser validates every `feeds:` entry against the schema its `type` names, so the
// parser knows no feed type by name. Schemas are immutable statics, shared by every Config.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "core/reading.h"

namespace gridshift {

// One key of a feed's own, kept in FeedConfig::options as validated text.
struct FeedOption {
  enum class Kind {
    text,    // any non-empty string (a path, a name)
    flag,    // true or false, kept as "true" / "false"
    choice,  // one of `choices`
  };
  std::string_view key;
  Kind kind = Kind::text;
  std::vector<std::string_view> choices;  // Kind::choice
  std::string_view default_value;         // filled in when the key is absent; "" = none
  bool required = false;
};

// The three kinds of option.
inline FeedOption text_option(std::string_view key, std::string_view default_value = "",
                              bool required = false) {
  FeedOption option;
  option.key = key;
  option.default_value = default_value;
  option.required = required;
  return option;
}
inline FeedOption flag_option(std::string_view key, bool default_value) {
  FeedOption option;
  option.key = key;
  option.kind = FeedOption::Kind::flag;
  option.default_value = default_value ? "true" : "false";
  return option;
}
inline FeedOption choice_option(std::string_view key, std::vector<std::string_view> choices,
                                std::string_view default_value) {
  FeedOption option;
  option.key = key;
  option.kind = FeedOption::Kind::choice;
  option.choices = std::move(choices);
  option.default_value = default_value;
  return option;
}

// A secret the feed needs: the config gives exactly one of `<base>_env` and `<base>_file`.
struct FeedSecret {
  std::string_view base;    // "token", "username", "password"
  bool identifier = false;  // a user name: short values are allowed (and not scrubbed)
};

struct FeedSchema {
  std::string_view type;  // the config's `type:` value
  SignalType signal = SignalType::average;
  // An HTTP feed's default base URL. HTTP feeds also accept base_url, poll_interval, timeout
  // and daily_budget; a feed with no default URL reads local files and accepts only
  // poll_interval of them.
  std::string_view default_base_url;
  std::vector<FeedOption> options;
  std::vector<FeedSecret> secrets;
  // Readings are stored under the region's name (a dataset keyed by Google Cloud region id)
  // rather than under its `location` (a zone code or coordinates for the live feeds).
  bool keyed_by_region_name = false;

  bool is_http() const { return !default_base_url.empty(); }
};

// Every registered feed type, in the order messages list them.
using FeedSchemas = std::vector<const FeedSchema*>;

}  // namespace gridshift
