// The reader every part of the configuration is parsed with: typed reads of YAML values
// (strings, numbers, durations, URLs, choices, secrets given as `<base>_env` / `<base>_file`)
// whose errors name the dotted key path and the 1-based line, collected rather than thrown so
// that one run reports every problem. The top-level parser, each feed's schema and each
// dispatch target's settings (deploy/<target>/settings.cpp) read through one ConfigReader.
// Not thread-safe; one reader serves one parse.
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/config_slices.h"
#include "core/result.h"
#include "core/text.h"
#include "core/time.h"
#include "core/yaml_fields.h"

namespace gridshift {
namespace config_text {

using gridshift::closest;

template <class Range>
std::string join(const Range& items) {
  return join_list(items);
}

// An http:// or https:// URL with a host.
bool is_http_url(std::string_view url);
// A POSIX portable user name (as useradd accepts by default): no path or shell characters.
bool is_user_name(std::string_view name);

}  // namespace config_text

class ConfigReader {
 public:
  using Entry = yaml::Entry;

  // `secret_bases` ("token", "password", ...): a key named like one gets a hint that secrets
  // are given as `<base>_env` or `<base>_file`, never written in the file.
  explicit ConfigReader(std::vector<std::string> secret_bases = {})
      : secret_bases_(std::move(secret_bases)) {}

  void add(std::string field, int line, std::string message);

  std::vector<Entry> entries(const YAML::Node& map, const std::string& path);

  // A mapping value; a key with nothing after it counts as an empty mapping.
  std::optional<std::vector<Entry>> mapping(const Entry& e);

  bool scalar(const Entry& e, std::string_view what);

  std::optional<std::string> read_string(const Entry& e);

  void read_non_empty(const Entry& e, std::string& out);

  void read_bool(const Entry& e, bool& out);

  std::optional<long long> read_integer(const Entry& e);

  std::optional<double> read_number(const Entry& e);

  // A number in [least, most] (or [least, most) when `below_most`), assigned to `out`.
  void read_bounded(const Entry& e, double least, double most, bool below_most, double& out);

  // `most` bounds what makes sense for the key: a tick of 99999d is a typo, not a setting.
  void read_duration(const Entry& e, Seconds& out, bool positive, Seconds most);

  // The index of the value in `names`, or nullopt with the error added.
  std::optional<std::size_t> read_choice(const Entry& e,
                                         const std::vector<std::string_view>& names);

  void read_url(const Entry& e, std::string& out, bool allow_empty = false);

  std::optional<YAML::Node> sequence(const Entry& e);

  // A secret indirection: `<base>_env` names a variable, `<base>_file` a file.
  void read_secret(const Entry& e, std::optional<SecretSource>& out);

  // Exactly one of `<base>_env` and `<base>_file`.
  void check_secret_pair(const std::vector<Entry>& items, const std::string& path, int line,
                         std::string_view base);

  std::vector<FieldError> take_errors();

  void add(const Entry& e, std::string message) { add(e.path, e.value_line(), std::move(message)); }

  template <class Range>
  void unknown(const Entry& e, const Range& allowed) {
    std::string message = "unknown key";
    // A secret written into the file: point at the indirections instead.
    const std::string env_key = e.key + "_env";
    const std::string file_key = e.key + "_file";
    if (std::find(secret_bases_.begin(), secret_bases_.end(), e.key) != secret_bases_.end()) {
      message += fmt::format(
          "; secrets are never written in the configuration: did you mean '{}' or '{}'?", env_key,
          file_key);
    } else if (auto suggestion = config_text::closest(e.key, allowed); !suggestion.empty()) {
      message += fmt::format("; did you mean '{}'?", suggestion);
    }
    add(e.path, e.key_line, std::move(message));
  }

  void unknown(const Entry& e, std::initializer_list<std::string_view> allowed) {
    unknown<std::initializer_list<std::string_view>>(e, allowed);
  }

  void read_count(const Entry& e, std::int64_t least, std::int64_t most, auto& out) {
    if (auto value = read_integer(e)) {
      if (*value < least || *value > most) {
        add(e, fmt::format("must be from {} to {}, found {}", least, most, e.value.Scalar()));
      } else {
        out = static_cast<std::remove_reference_t<decltype(out)>>(*value);
      }
    }
  }

  template <class Enum, std::size_t N>
  void read_enum(const Entry& e, const std::array<Enum, N>& values, Enum& out) {
    std::vector<std::string_view> names;
    for (auto v : values)
      names.push_back(to_string(v));
    if (auto index = read_choice(e, names)) out = values[*index];
  }

  std::size_t error_count() const { return errors_.size(); }

 private:
  std::vector<std::string> secret_bases_;
  std::vector<FieldError> errors_;
};

}  // namespace gridshift
