#include "daemon/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <utility>

#include "core/yaml_fields.h"
#include "daemon/file_io.h"

namespace gridshift {

std::string_view to_string(FeedType type) {
  switch (type) {
    case FeedType::carbon_intensity_uk:
      return "carbon_intensity_uk";
    case FeedType::electricitymaps:
      return "electricitymaps";
    case FeedType::watttime:
      return "watttime";
    case FeedType::gcp_region_dataset:
      return "gcp_region_dataset";
    case FeedType::trace_file:
      return "trace_file";
  }
  return "unknown";
}

std::string_view to_string(DispatchType type) {
  switch (type) {
    case DispatchType::vertex_ai:
      return "vertex_ai";
    case DispatchType::local:
      return "local";
    case DispatchType::dry_run:
      return "dry_run";
  }
  return "unknown";
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

std::vector<std::string> Config::region_names() const {
  std::vector<std::string> names;
  names.reserve(regions.size());
  for (const auto& region : regions)
    names.push_back(region.name);
  return names;
}

const FeedConfig* Config::find_feed(std::string_view name) const {
  for (const auto& feed : feeds) {
    if (feed.name == name) return &feed;
  }
  return nullptr;
}

const RegionConfig* Config::find_region(std::string_view name) const {
  for (const auto& region : regions) {
    if (region.name == name) return &region;
  }
  return nullptr;
}

namespace {

using KeyList = std::initializer_list<std::string_view>;

constexpr std::array kFeedTypes = {FeedType::carbon_intensity_uk, FeedType::electricitymaps,
                                   FeedType::watttime, FeedType::gcp_region_dataset,
                                   FeedType::trace_file};
constexpr std::array kDispatchTypes = {DispatchType::vertex_ai, DispatchType::local,
                                       DispatchType::dry_run};
constexpr std::array kLogLevels = {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn,
                                   LogLevel::error};

// Upper bounds of durations in the config.
constexpr Seconds kDay{24 * 3600};
constexpr Seconds kWeek{7 * 24 * 3600};
constexpr Seconds kYear{366 * 24 * 3600};

constexpr std::string_view kDefaultGcpDataset = "/usr/share/gridshift/gcp-regions.csv";

// The keys each feed type accepts besides `name` and `type`.
std::vector<std::string_view> feed_keys(FeedType type) {
  const std::vector<std::string_view> http = {"base_url", "poll_interval", "timeout",
                                              "daily_budget"};
  std::vector<std::string_view> keys = {"name", "type"};
  switch (type) {
    case FeedType::carbon_intensity_uk:
      keys.insert(keys.end(), http.begin(), http.end());
      break;
    case FeedType::electricitymaps:
      keys.insert(keys.end(), http.begin(), http.end());
      keys.insert(keys.end(), {"token_env", "token_file", "forecast", "emission_factor_type"});
      break;
    case FeedType::watttime:
      keys.insert(keys.end(), http.begin(), http.end());
      keys.insert(keys.end(), {"username_env", "username_file", "password_env", "password_file"});
      break;
    case FeedType::gcp_region_dataset:
      keys.push_back("file");
      break;
    case FeedType::trace_file:
      keys.insert(keys.end(), {"actuals", "forecast"});
      break;
  }
  return keys;
}

std::vector<std::string_view> all_feed_keys() {
  std::vector<std::string_view> keys;
  for (auto type : kFeedTypes) {
    for (auto key : feed_keys(type)) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  return keys;
}

std::string_view default_base_url(FeedType type) {
  switch (type) {
    case FeedType::carbon_intensity_uk:
      return "https://api.carbonintensity.org.uk";
    case FeedType::electricitymaps:
      return "https://api.electricitymap.org";
    case FeedType::watttime:
      return "https://api.watttime.org";
    case FeedType::gcp_region_dataset:
    case FeedType::trace_file:
      break;
  }
  return "";
}

bool is_http_feed(FeedType type) {
  return type == FeedType::carbon_intensity_uk || type == FeedType::electricitymaps ||
         type == FeedType::watttime;
}

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

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The closest candidate within edit distance 2 (ignoring case), or empty.
template <class Range>
std::string_view closest(std::string_view word, const Range& candidates) {
  std::string_view best;
  std::size_t best_distance = 3;
  for (std::string_view candidate : candidates) {
    const std::size_t d = edit_distance(lower(word), lower(candidate));
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

template <class Range>
std::string join(const Range& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

using yaml::describe;
using yaml::is_env_name;
using yaml::is_quoted;
using yaml::line_of;

bool is_http_url(std::string_view url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.starts_with(scheme) && url.size() > scheme.size() &&
        url.find_first_of(" \t\r\n") == std::string_view::npos) {
      const char first = url[scheme.size()];
      return first != '/' && first != ':';
    }
  }
  return false;
}

bool is_feed_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// Google Cloud region ids: lower-case letters, digits and hyphens. The name is also put into
// URLs ("{region}-aiplatform...") so nothing else may pass.
bool is_region_name(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// A POSIX portable user name (as useradd accepts by default): no path or shell characters.
bool is_user_name(std::string_view name) {
  if (name.empty() || name.size() > 32 || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

bool is_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return false;  // an IPv6 address must be bracketed
  }
  if (host.find_first_of(" \t/[]") != std::string_view::npos) return false;
  if (port.empty() || port.size() > 5) return false;
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const int value = std::stoi(std::string(port));
  return value >= 1 && value <= 65535;
}

using Entry = yaml::Entry;

class Parser {
 public:
  struct FeedReference {
    std::string name;
    int line = 0;
    std::string path;
  };

  Config parse(const YAML::Node& root) {
    if (!root.IsMap()) {
      add("", line_of(root),
          "the configuration must be a mapping of keys, found " + describe(root));
      return config_;
    }
    bool workdir_given = false;
    for (const auto& e : entries(root, "")) {
      if (e.key == "state_dir") {
        read_non_empty(e, config_.state_dir);
      } else if (e.key == "socket") {
        parse_socket(e);
      } else if (e.key == "log_level") {
        read_enum(e, kLogLevels, config_.log_level);
      } else if (e.key == "metrics") {
        parse_metrics(e);
      } else if (e.key == "scheduler") {
        parse_scheduler(e);
      } else if (e.key == "feeds") {
        parse_feeds(e);
      } else if (e.key == "regions") {
        parse_regions(e);
      } else if (e.key == "dispatch") {
        workdir_given = parse_dispatch(e);
      } else if (e.key == "limits") {
        parse_limits(e);
      } else {
        unknown(e, {"state_dir", "socket", "log_level", "metrics", "scheduler", "feeds", "regions",
                    "dispatch", "limits"});
      }
    }
    if (!workdir_given) {
      std::string dir = config_.state_dir;
      while (dir.size() > 1 && dir.back() == '/')
        dir.pop_back();
      config_.dispatch.local.workdir = (dir == "/" ? "" : dir) + "/jobs";
    }
    check_references();
    return config_;
  }

  std::vector<FieldError> take_errors() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const FieldError& a, const FieldError& b) { return a.line < b.line; });
    return std::move(errors_);
  }

 private:
  void add(std::string field, int line, std::string message) {
    errors_.push_back(FieldError{std::move(field), std::move(message), line});
  }
  void add(const Entry& e, std::string message) { add(e.path, e.value_line(), std::move(message)); }

  std::vector<Entry> entries(const YAML::Node& map, const std::string& path) {
    return yaml::entries(map, path, errors_);
  }

  template <class Range>
  void unknown(const Entry& e, const Range& allowed) {
    std::string message = "unknown key";
    // A secret written into the file: point at the indirections instead.
    const std::string env_key = e.key + "_env";
    const std::string file_key = e.key + "_file";
    const auto secret_keys = {"token", "username", "password"};
    if (std::find(std::begin(secret_keys), std::end(secret_keys), e.key) != std::end(secret_keys)) {
      message += fmt::format(
          "; secrets are never written in the configuration: did you mean '{}' or '{}'?", env_key,
          file_key);
    } else if (auto suggestion = closest(e.key, allowed); !suggestion.empty()) {
      message += fmt::format("; did you mean '{}'?", suggestion);
    }
    add(e.path, e.key_line, std::move(message));
  }
  void unknown(const Entry& e, KeyList allowed) { unknown<KeyList>(e, allowed); }

  // A mapping value; a key with nothing after it counts as an empty mapping.
  std::optional<std::vector<Entry>> mapping(const Entry& e) {
    if (e.value.IsNull()) return std::vector<Entry>{};
    if (!e.value.IsMap()) {
      add(e, "expected a mapping, found " + describe(e.value));
      return std::nullopt;
    }
    return entries(e.value, e.path);
  }

  bool scalar(const Entry& e, std::string_view what) {
    if (e.value.IsScalar()) return true;
    if (e.value.IsNull()) {
      add(e, fmt::format("a value is required ({})", what));
    } else {
      add(e, fmt::format("expected {}, found {}", what, describe(e.value)));
    }
    return false;
  }

  std::optional<std::string> read_string(const Entry& e) {
    if (!scalar(e, "a string")) return std::nullopt;
    return e.value.Scalar();
  }

  void read_non_empty(const Entry& e, std::string& out) {
    auto value = read_string(e);
    if (!value) return;
    if (value->empty()) {
      add(e, "must not be empty");
      return;
    }
    out = *value;
  }

  void read_bool(const Entry& e, bool& out) {
    if (!scalar(e, "true or false")) return;
    bool value = false;
    if (is_quoted(e.value) || !YAML::convert<bool>::decode(e.value, value)) {
      add(e, fmt::format("expected true or false, found {}", describe(e.value)));
      return;
    }
    out = value;
  }

  std::optional<long long> read_integer(const Entry& e) {
    if (!scalar(e, "a whole number")) return std::nullopt;
    long long value = 0;
    if (is_quoted(e.value) || !YAML::convert<long long>::decode(e.value, value)) {
      add(e, fmt::format("expected a whole number, found {}", describe(e.value)));
      return std::nullopt;
    }
    return value;
  }

  std::optional<double> read_number(const Entry& e) {
    if (!scalar(e, "a number")) return std::nullopt;
    double value = 0;
    if (is_quoted(e.value) || !YAML::convert<double>::decode(e.value, value) ||
        !std::isfinite(value)) {
      add(e, fmt::format("expected a number, found {}", describe(e.value)));
      return std::nullopt;
    }
    return value;
  }

  // A number in [least, most] (or [least, most) when `below_most`), assigned to `out`.
  void read_bounded(const Entry& e, double least, double most, bool below_most, double& out) {
    auto value = read_number(e);
    if (!value) return;
    if (*value < least || (below_most ? *value >= most : *value > most)) {
      add(e, fmt::format("must be at least {} and {} {}, found {}", least,
                         below_most ? "below" : "at most", most, e.value.Scalar()));
      return;
    }
    out = *value;
  }

  // `most` bounds what makes sense for the key: a tick of 99999d is a typo, not a setting.
  void read_duration(const Entry& e, Seconds& out, bool positive, Seconds most) {
    if (!scalar(e, "a duration such as 90s, 15m, 4h or 2d")) return;
    auto value = parse_duration(e.value.Scalar());
    if (!value) {
      add(e, fmt::format("invalid duration '{}': {}", e.value.Scalar(), value.error().message));
      return;
    }
    if (positive && value->count() <= 0) {
      add(e, "must be a positive duration");
      return;
    }
    if (*value > most) {
      add(e, fmt::format("must be at most {}, found {}", format_duration(most), e.value.Scalar()));
      return;
    }
    out = *value;
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
    if (!scalar(e, "one of " + join(names))) return;
    const std::string& text = e.value.Scalar();
    for (auto v : values) {
      if (to_string(v) == text) {
        out = v;
        return;
      }
    }
    std::string message =
        fmt::format("invalid value '{}' (expected one of: {})", text, join(names));
    if (auto suggestion = closest(text, names); !suggestion.empty()) {
      message += fmt::format("; did you mean '{}'?", suggestion);
    }
    add(e, std::move(message));
  }

  void read_url(const Entry& e, std::string& out, bool allow_empty = false) {
    auto value = read_string(e);
    if (!value) return;
    if (allow_empty && value->empty()) {
      out.clear();
      return;
    }
    if (!is_http_url(*value)) {
      add(e, fmt::format("expected an http:// or https:// URL, found '{}'", *value));
      return;
    }
    out = *value;
  }

  void parse_socket(const Entry& section) {
    auto items = mapping(section);
    if (!items) return;
    for (const auto& e : *items) {
      if (e.key == "path") {
        read_non_empty(e, config_.socket.path);
      } else if (e.key == "mode") {
        parse_mode(e);
      } else if (e.key == "group") {
        if (auto value = read_string(e)) config_.socket.group = *value;
      } else {
        unknown(e, {"path", "mode", "group"});
      }
    }
  }

  void parse_mode(const Entry& e) {
    if (!scalar(e, "an octal mode string such as \"0660\"")) return;
    std::string_view text = e.value.Scalar();
    if (text.starts_with("0o")) text.remove_prefix(2);
    const bool octal =
        !text.empty() && text.size() <= 4 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
    if (!octal) {
      add(e, fmt::format("expected an octal mode string such as \"0660\", found '{}'",
                         e.value.Scalar()));
      return;
    }
    unsigned mode = 0;
    for (char c : text)
      mode = mode * 8 + static_cast<unsigned>(c - '0');
    if (mode > 0777) {
      add(e, fmt::format("mode '{}' has special bits (setuid, setgid or sticky); at most 0777",
                         e.value.Scalar()));
      return;
    }
    if ((mode & 07) != 0) {
      add(e, fmt::format("mode '{}' gives access to others; the socket must never be "
                         "world-accessible (use e.g. \"0660\")",
                         e.value.Scalar()));
      return;
    }
    config_.socket.mode = mode;
  }

  void parse_metrics(const Entry& section) {
    auto items = mapping(section);
    if (!items) return;
    for (const auto& e : *items) {
      if (e.key == "listen") {
        auto value = read_string(e);
        if (!value) continue;
        if (!is_host_port(*value)) {
          add(e, fmt::format("expected host:port such as 127.0.0.1:9464, found '{}'", *value));
          continue;
        }
        config_.metrics.listen = *value;
      } else {
        unknown(e, {"listen"});
      }
    }
  }

  void parse_limits(const Entry& section) {
    auto items = mapping(section);
    if (!items) return;
    auto& l = config_.limits;
    for (const auto& e : *items) {
      if (e.key == "max_spec_bytes") {
        read_count(e, 1024, 1024 * 1024, l.max_spec_bytes);
      } else if (e.key == "max_queued_per_user") {
        read_count(e, 1, 1'000'000, l.max_queued_per_user);
      } else if (e.key == "max_connections_per_uid") {
        read_count(e, 1, 4096, l.max_connections_per_uid);
      } else {
        unknown(e, {"max_spec_bytes", "max_queued_per_user", "max_connections_per_uid"});
      }
    }
  }

  void parse_scheduler(const Entry& section) {
    auto items = mapping(section);
    if (!items) return;
    auto& s = config_.scheduler;
    for (const auto& e : *items) {
      if (e.key == "tick") {
        read_duration(e, s.tick, true, kDay);
      } else if (e.key == "default_deadline") {
        read_duration(e, s.default_deadline, true, kYear);
      } else if (e.key == "dispatch_slack") {
        read_duration(e, s.dispatch_slack, false, kWeek);
      } else if (e.key == "min_gain") {
        read_bounded(e, 0, 1, /*below_most=*/true, s.min_gain);
      } else if (e.key == "error_margin") {
        read_bounded(e, 0, 10, /*below_most=*/false, s.error_margin);
      } else if (e.key == "max_staleness") {
        read_duration(e, s.max_staleness, true, kYear * 2);
      } else if (e.key == "max_concurrent_dispatches") {
        read_count(e, 1, 100'000, s.max_concurrent_dispatches);
      } else if (e.key == "retention") {
        read_duration(e, s.retention, true, kYear * 10);
      } else {
        unknown(e, {"tick", "default_deadline", "dispatch_slack", "min_gain", "error_margin",
                    "max_staleness", "max_concurrent_dispatches", "retention"});
      }
    }
  }

  std::optional<YAML::Node> sequence(const Entry& e) {
    if (e.value.IsNull()) return YAML::Node(YAML::NodeType::Sequence);
    if (!e.value.IsSequence()) {
      add(e, "expected a list, found " + describe(e.value));
      return std::nullopt;
    }
    return e.value;
  }

  void parse_feeds(const Entry& section) {
    auto list = sequence(section);
    if (!list) return;
    std::size_t index = 0;
    for (const auto& item : *list)
      parse_feed(item, fmt::format("feeds[{}]", index++));
  }

  // A secret indirection: `<base>_env` names a variable, `<base>_file` a file.
  void read_secret(const Entry& e, std::optional<SecretSource>& out) {
    auto value = read_string(e);
    if (!value) return;
    const bool env = e.key.ends_with("_env");
    if (env && !is_env_name(*value)) {
      // Not echoed: a value that is no variable name may be the secret itself, pasted here.
      add(e,
          "expected the name of an environment variable (letters, digits and '_'), not "
          "the secret itself");
      return;
    }
    if (!env && value->empty()) {
      add(e, "must not be empty");
      return;
    }
    out = SecretSource{env ? SecretSource::Kind::env : SecretSource::Kind::file, *value, e.path};
  }

  // Exactly one of `<base>_env` and `<base>_file`.
  void check_secret_pair(const std::vector<Entry>& items, const std::string& path, int line,
                         std::string_view base) {
    const Entry* env = nullptr;
    const Entry* file = nullptr;
    bool env_later = false;  // in document order
    for (const auto& e : items) {
      if (e.key == fmt::format("{}_env", base)) {
        env = &e;
        env_later = file != nullptr;
      }
      if (e.key == fmt::format("{}_file", base)) {
        file = &e;
        env_later = false;
      }
    }
    if (env != nullptr && file != nullptr) {
      const Entry* later = env_later ? env : file;
      const Entry* earlier = later == env ? file : env;
      add(later->path, later->key_line,
          fmt::format("give either {0}_env or {0}_file, not both ({1} is on line {2})", base,
                      earlier->key, earlier->key_line));
    } else if (env == nullptr && file == nullptr) {
      add(fmt::format("{}.{}_env", path, base), line,
          fmt::format("missing required key: {0}_env or {0}_file", base));
    }
  }

  void parse_feed(const YAML::Node& node, const std::string& path) {
    if (!node.IsMap()) {
      add(path, line_of(node), "expected a mapping with name and type, found " + describe(node));
      return;
    }
    FeedConfig feed;
    feed.line = line_of(node);
    const auto items = entries(node, path);

    std::optional<FeedType> type;
    bool type_given = false;
    for (const auto& e : items) {
      if (e.key != "type") continue;
      type_given = true;
      FeedType value{};
      const std::size_t before = errors_.size();
      read_enum(e, kFeedTypes, value);
      if (errors_.size() == before) type = value;
    }
    if (!type_given) add(path + ".type", feed.line, "missing required key");

    const auto allowed = type ? feed_keys(*type) : all_feed_keys();
    const auto every_key = all_feed_keys();
    bool name_given = false;
    for (const auto& e : items) {
      if (std::find(allowed.begin(), allowed.end(), e.key) == allowed.end()) {
        if (std::find(every_key.begin(), every_key.end(), e.key) != every_key.end()) {
          add(e.path, e.key_line, fmt::format("not allowed for feed type '{}'", to_string(*type)));
        } else {
          unknown(e, allowed);
        }
        continue;
      }
      if (e.key == "type") continue;
      if (e.key == "name") {
        name_given = true;
        auto value = read_string(e);
        if (!value) continue;
        if (!is_feed_name(*value)) {
          add(e, fmt::format("invalid feed name '{}' (letters, digits, '.', '_', '-'; at most 64)",
                             *value));
          continue;
        }
        feed.name = *value;
        feed_name_lines_.push_back({*value, e.value_line(), e.path});
      } else if (e.key == "base_url") {
        read_url(e, feed.base_url);
      } else if (e.key == "poll_interval") {
        read_duration(e, feed.poll_interval, true, kWeek);
      } else if (e.key == "timeout") {
        read_duration(e, feed.timeout, true, Seconds{3600});
      } else if (e.key == "daily_budget") {
        if (auto value = read_integer(e)) {
          if (*value < 1 || *value > std::numeric_limits<int>::max()) {
            add(e, fmt::format("must be at least 1, found {}", e.value.Scalar()));
          } else {
            feed.daily_budget = static_cast<int>(*value);
          }
        }
      } else if (e.key == "forecast") {
        // A switch for Electricity Maps, a CSV path for a trace; unknown type: not checked.
        if (type == FeedType::electricitymaps) {
          read_bool(e, feed.forecast);
        } else if (type == FeedType::trace_file) {
          read_non_empty(e, feed.forecast_file);
        }
      } else if (e.key == "emission_factor_type") {
        if (auto value = read_string(e)) {
          if (*value != "lifecycle" && *value != "direct") {
            add(e, fmt::format("invalid value '{}' (expected one of: lifecycle, direct)", *value));
          } else {
            feed.emission_factor_type = *value;
          }
        }
      } else if (e.key == "token_env" || e.key == "token_file") {
        read_secret(e, feed.token);
      } else if (e.key == "username_env" || e.key == "username_file") {
        read_secret(e, feed.username);
      } else if (e.key == "password_env" || e.key == "password_file") {
        read_secret(e, feed.password);
      } else if (e.key == "file") {
        read_non_empty(e, feed.file);
      } else if (e.key == "actuals") {
        read_non_empty(e, feed.actuals);
      }
    }

    if (!name_given) add(path + ".name", feed.line, "missing required key");
    if (type) {
      feed.type = *type;
      if (is_http_feed(*type) && feed.base_url.empty()) {
        feed.base_url = std::string(default_base_url(*type));
      }
      if (*type == FeedType::gcp_region_dataset && feed.file.empty()) {
        feed.file = std::string(kDefaultGcpDataset);
      }
      if (*type == FeedType::electricitymaps) {
        check_secret_pair(items, path, feed.line, "token");
      } else if (*type == FeedType::watttime) {
        check_secret_pair(items, path, feed.line, "username");
        check_secret_pair(items, path, feed.line, "password");
      } else if (*type == FeedType::trace_file && !has_key(items, "actuals")) {
        add(path + ".actuals", feed.line, "missing required key");
      }
    }
    config_.feeds.push_back(std::move(feed));
  }

  static bool has_key(const std::vector<Entry>& items, std::string_view key) {
    return std::any_of(items.begin(), items.end(), [&](const Entry& e) { return e.key == key; });
  }

  void parse_regions(const Entry& section) {
    auto list = sequence(section);
    if (!list) return;
    std::size_t index = 0;
    for (const auto& item : *list)
      parse_region(item, fmt::format("regions[{}]", index++));
  }

  void parse_region(const YAML::Node& node, const std::string& path) {
    if (!node.IsMap()) {
      add(path, line_of(node), "expected a mapping with name and feeds, found " + describe(node));
      return;
    }
    RegionConfig region;
    region.line = line_of(node);
    bool name_given = false, feeds_given = false, location_given = false;
    std::vector<FeedReference> references;
    for (const auto& e : entries(node, path)) {
      if (e.key == "name") {
        name_given = true;
        auto value = read_string(e);
        if (!value) continue;
        if (!is_region_name(*value)) {
          add(e, fmt::format("invalid region name '{}' (a Google Cloud region id such as "
                             "europe-west2: lower-case letters, digits and '-')",
                             *value));
          continue;
        }
        region.name = *value;
        region_name_lines_.push_back({*value, e.value_line(), e.path});
      } else if (e.key == "feeds") {
        feeds_given = true;
        parse_region_feeds(e, region, references);
      } else if (e.key == "location") {
        location_given = true;
        read_non_empty(e, region.location);
      } else if (e.key == "pue") {
        if (auto value = read_number(e)) {
          if (*value < 1.0) {
            add(e, fmt::format("must be at least 1.0, found {}", e.value.Scalar()));
          } else {
            region.pue = *value;
          }
        }
      } else {
        unknown(e, {"name", "feeds", "location", "pue"});
      }
    }
    if (!name_given) add(path + ".name", region.line, "missing required key");
    if (!feeds_given) add(path + ".feeds", region.line, "missing required key");
    if (!location_given) region.location = region.name;
    feed_references_.insert(feed_references_.end(), references.begin(), references.end());
    config_.regions.push_back(std::move(region));
  }

  void parse_region_feeds(const Entry& e, RegionConfig& region,
                          std::vector<FeedReference>& references) {
    if (e.value.IsNull() || (e.value.IsSequence() && e.value.size() == 0)) {
      add(e, "must list at least one feed");
      return;
    }
    if (!e.value.IsSequence()) {
      add(e, "expected a list of feed names, found " + describe(e.value));
      return;
    }
    std::size_t index = 0;
    for (const auto& item : e.value) {
      const std::string item_path = fmt::format("{}[{}]", e.path, index++);
      if (!item.IsScalar()) {
        add(item_path, line_of(item), "expected a feed name, found " + describe(item));
        continue;
      }
      const std::string& name = item.Scalar();
      if (std::find(region.feeds.begin(), region.feeds.end(), name) != region.feeds.end()) {
        add(item_path, line_of(item), fmt::format("feed '{}' is listed twice", name));
        continue;
      }
      region.feeds.push_back(name);
      references.push_back({name, line_of(item), item_path});
    }
  }

  // Returns whether dispatch.local.workdir was given.
  bool parse_dispatch(const Entry& section) {
    bool workdir_given = false;
    auto items = mapping(section);
    if (!items) return workdir_given;
    auto& d = config_.dispatch;
    int type_line = section.key_line;
    int vertex_line = 0;
    bool type_valid = true;
    for (const auto& e : *items) {
      if (e.key == "type") {
        const std::size_t before = errors_.size();
        read_enum(e, kDispatchTypes, d.type);
        type_valid = errors_.size() == before;
        type_line = e.value_line();
      } else if (e.key == "vertex_ai") {
        vertex_line = e.key_line;
        parse_vertex_ai(e);
      } else if (e.key == "local") {
        auto local = mapping(e);
        if (!local) continue;
        for (const auto& l : *local) {
          if (l.key == "workdir") {
            const std::size_t before = errors_.size();
            read_non_empty(l, d.local.workdir);
            workdir_given = errors_.size() == before;
          } else if (l.key == "run_as") {
            auto value = read_string(l);
            if (!value) continue;
            if (!is_user_name(*value)) {
              add(l, fmt::format("expected \"owner\" or a user name, got '{}'", *value));
              continue;
            }
            d.local.run_as = *value;
          } else {
            unknown(l, {"workdir", "run_as"});
          }
        }
      } else {
        unknown(e, {"type", "vertex_ai", "local"});
      }
    }
    if (type_valid && d.type == DispatchType::vertex_ai && d.vertex_ai.project.empty() &&
        !vertex_project_given_) {
      add("dispatch.vertex_ai.project", vertex_line != 0 ? vertex_line : type_line,
          "missing required key (dispatch.type is vertex_ai)");
    }
    return workdir_given;
  }

  void parse_vertex_ai(const Entry& section) {
    auto items = mapping(section);
    if (!items) return;
    auto& v = config_.dispatch.vertex_ai;
    for (const auto& e : *items) {
      if (e.key == "project") {
        vertex_project_given_ = true;
        auto value = read_string(e);
        if (!value) continue;
        if (value->empty() || value->find_first_of(" \t/:{}") != std::string::npos) {
          add(e, fmt::format("invalid project id '{}'", *value));
          continue;
        }
        v.project = *value;
      } else if (e.key == "credentials") {
        read_non_empty(e, v.credentials);
      } else if (e.key == "endpoint") {
        read_url(e, v.endpoint);
      } else if (e.key == "storage_endpoint") {
        read_url(e, v.storage_endpoint);
      } else if (e.key == "token_uri") {
        read_url(e, v.token_uri, true);
      } else if (e.key == "metadata_url") {
        read_url(e, v.metadata_url);
      } else if (e.key == "staging_bucket") {
        auto bucket = mapping(e);
        if (!bucket) continue;
        for (const auto& b : *bucket) {
          if (b.key == "enabled") {
            read_bool(b, v.staging_bucket.enabled);
          } else if (b.key == "prefix") {
            read_non_empty(b, v.staging_bucket.prefix);
          } else if (b.key == "delete_after") {
            read_bool(b, v.staging_bucket.delete_after);
          } else {
            unknown(b, {"enabled", "prefix", "delete_after"});
          }
        }
      } else {
        unknown(e, {"project", "credentials", "endpoint", "storage_endpoint", "token_uri",
                    "metadata_url", "staging_bucket"});
      }
    }
  }

  // Checks that need the whole file: duplicate names and region -> feed references (a region
  // may come before the feeds it names).
  void check_references() {
    auto duplicates = [this](const std::vector<FeedReference>& names, std::string_view what) {
      std::map<std::string, int> first;
      for (const auto& n : names) {
        auto [pos, inserted] = first.emplace(n.name, n.line);
        if (!inserted) {
          add(n.path, n.line,
              fmt::format("duplicate {} name '{}' (first defined on line {})", what, n.name,
                          pos->second));
        }
      }
    };
    duplicates(feed_name_lines_, "feed");
    duplicates(region_name_lines_, "region");

    std::vector<std::string> defined;
    for (const auto& n : feed_name_lines_) {
      if (std::find(defined.begin(), defined.end(), n.name) == defined.end()) {
        defined.push_back(n.name);
      }
    }
    for (const auto& ref : feed_references_) {
      if (std::find(defined.begin(), defined.end(), ref.name) != defined.end()) continue;
      std::string message = fmt::format("unknown feed '{}'", ref.name);
      if (auto suggestion = closest(ref.name, defined); !suggestion.empty()) {
        message += fmt::format("; did you mean '{}'?", suggestion);
      } else if (!defined.empty()) {
        message += fmt::format(" (defined feeds: {})", join(defined));
      } else {
        message += " (no feeds are defined)";
      }
      add(ref.path, ref.line, std::move(message));
    }
  }

  Config config_;
  std::vector<FieldError> errors_;
  std::vector<FeedReference> feed_name_lines_;
  std::vector<FeedReference> region_name_lines_;
  std::vector<FeedReference> feed_references_;
  bool vertex_project_given_ = false;
};

Error invalid(std::string_view source_name, std::vector<FieldError> details) {
  const std::size_t n = details.size();
  return make_error(
      "invalid_config",
      fmt::format("{}: configuration is invalid ({} error{})", source_name, n, n == 1 ? "" : "s"),
      std::move(details));
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    return invalid(source_name, {FieldError{"", "invalid YAML: " + e.msg, line}});
  }
  if (root.IsNull()) {
    return invalid(source_name, {FieldError{"", "the configuration is empty", 0}});
  }
  Parser parser;
  Config config;
  try {
    config = parser.parse(root);
  } catch (const YAML::Exception& e) {
    // Conversions are checked before use; this guards against a yaml-cpp surprise.
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    return invalid(source_name, {FieldError{"", "cannot read the configuration: " + e.msg, line}});
  }
  auto errors = parser.take_errors();
  if (!errors.empty()) return invalid(source_name, std::move(errors));
  return config;
}

Result<Config> load_config_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) {
    return make_error("invalid_config",
                      fmt::format("{}: cannot read configuration: {}", path, text.error().message));
  }
  return parse_config(*text, path);
}

}  // namespace gridshift
