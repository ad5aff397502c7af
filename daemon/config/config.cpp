#include "daemon/config/config.h"

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

#include "common/file_io.h"
#include "core/yaml_fields.h"

namespace gridshift {

namespace {

using KeyList = std::initializer_list<std::string_view>;

constexpr std::array kStorageTypes = {StorageType::sqlite, StorageType::postgres};
constexpr std::array kLogLevels = {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn,
                                   LogLevel::error};

// Upper bounds of durations in the config.
constexpr Seconds kDay{24 * 3600};
constexpr Seconds kWeek{7 * 24 * 3600};
constexpr Seconds kYear{366 * 24 * 3600};

// The keys every HTTP feed accepts besides `name` and `type`.
constexpr std::array<std::string_view, 4> kHttpFeedKeys = {"base_url", "poll_interval", "timeout",
                                                           "daily_budget"};

// The keys a feed type accepts: name, type, the HTTP keys for HTTP feeds, its own options and
// `<base>_env` / `<base>_file` for each of its secrets.
std::vector<std::string> feed_keys(const FeedSchema& schema) {
  std::vector<std::string> keys = {"name", "type"};
  // Every feed is polled; only HTTP feeds have a URL, a request timeout and a budget.
  if (schema.is_http()) {
    keys.insert(keys.end(), kHttpFeedKeys.begin(), kHttpFeedKeys.end());
  } else {
    keys.emplace_back("poll_interval");
  }
  for (const auto& option : schema.options)
    keys.emplace_back(option.key);
  for (const auto& secret : schema.secrets) {
    keys.push_back(std::string(secret.base) + "_env");
    keys.push_back(std::string(secret.base) + "_file");
  }
  return keys;
}

std::vector<std::string> all_feed_keys(const FeedSchemas& schemas) {
  std::vector<std::string> keys = {"name", "type"};
  for (const auto* schema : schemas) {
    for (auto& key : feed_keys(*schema)) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(std::move(key));
    }
  }
  return keys;
}

using config_text::closest;
using config_text::join;
using yaml::describe;
using yaml::is_env_name;
using yaml::is_quoted;
using yaml::line_of;

bool is_feed_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// Google Cloud region ids: lower-case letters, digits and hyphens. The name is also put into
// dispatch targets' URLs and resource names, so nothing else may pass.
bool is_region_name(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
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

// The top level: the service's own sections, each feed against its schema, the dispatch
// section through deploy/settings.h, then the checks that need the whole file.
class Parser : public ConfigReader {
 public:
  explicit Parser(const FeedSchemas& feed_schemas)
      : ConfigReader(secret_bases(feed_schemas)), feed_schemas_(feed_schemas) {}

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
      } else if (e.key == "storage") {
        parse_storage(e);
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
        workdir_given = read_dispatch_settings(*this, e, config_.dispatch);
      } else if (e.key == "limits") {
        parse_limits(e);
      } else if (e.key == "embodied") {
        parse_embodied(e);
      } else {
        unknown(e, {"state_dir", "storage", "socket", "log_level", "metrics", "scheduler", "feeds",
                    "regions", "dispatch", "limits", "embodied"});
      }
    }
    if (!workdir_given) {
      std::string dir = config_.state_dir;
      while (dir.size() > 1 && dir.back() == '/')
        dir.pop_back();
      config_.dispatch.local.workdir = (dir == "/" ? "" : dir) + "/jobs";
    }
    check_references();
    if (config_.storage.type == StorageType::postgres &&
        config_.dispatch.type == DispatchType::local) {
      // A local run lives on one host: after a failover no other daemon could follow or stop it.
      add("storage.type", config_.storage.line,
          "postgres (several daemons) needs a remote dispatch target (vertex_ai or dry_run): a "
          "dispatch.type: local run lives on one host and no other daemon could follow it");
    }
    return config_;
  }

 private:
  static std::vector<std::string> secret_bases(const FeedSchemas& schemas) {
    std::vector<std::string> bases;
    for (const auto* schema : schemas) {
      for (const auto& secret : schema->secrets)
        bases.emplace_back(secret.base);
    }
    return bases;
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

  void parse_storage(const Entry& section) {
    auto items = mapping(section);
    if (!items) return;
    auto& st = config_.storage;
    st.line = section.key_line;
    const Entry* lease = nullptr;
    for (const auto& e : *items) {
      if (e.key == "type") {
        read_enum(e, kStorageTypes, st.type);
      } else if (e.key == "dsn_file" || e.key == "dsn_env") {
        read_secret(e, st.dsn);
      } else if (e.key == "lease") {
        // At least 3 s: the lease is checked three times per lease, at most once a second.
        lease = &e;
        read_duration(e, st.lease, true, Seconds{3600});
        if (st.lease < Seconds{3}) add(e, "must be at least 3s");
      } else {
        unknown(e, {"type", "dsn_file", "dsn_env", "lease"});
      }
    }
    if (st.type == StorageType::postgres) {
      check_secret_pair(*items, section.path, section.key_line, "dsn");
    } else {
      for (const auto& e : *items) {
        if (e.key == "dsn_file" || e.key == "dsn_env") {
          add(e, "only with type: postgres (SQLite lives in state_dir)");
        }
      }
      if (lease != nullptr)
        add(*lease, "only with type: postgres (one SQLite daemon always leads)");
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

  void parse_feeds(const Entry& section) {
    auto list = sequence(section);
    if (!list) return;
    std::size_t index = 0;
    for (const auto& item : *list)
      parse_feed(item, fmt::format("feeds[{}]", index++));
  }

  void parse_feed(const YAML::Node& node, const std::string& path) {
    if (!node.IsMap()) {
      add(path, line_of(node), "expected a mapping with name and type, found " + describe(node));
      return;
    }
    FeedConfig feed;
    feed.line = line_of(node);
    const auto items = entries(node, path);

    const FeedSchema* schema = nullptr;
    bool type_given = false;
    for (const auto& e : items) {
      if (e.key != "type") continue;
      type_given = true;
      std::vector<std::string_view> names;
      for (const auto* candidate : feed_schemas_)
        names.push_back(candidate->type);
      if (auto index = read_choice(e, names)) schema = feed_schemas_[*index];
    }
    if (!type_given) add(path + ".type", feed.line, "missing required key");

    const auto allowed = schema ? feed_keys(*schema) : all_feed_keys(feed_schemas_);
    const auto every_key = all_feed_keys(feed_schemas_);
    bool name_given = false;
    for (const auto& e : items) {
      if (std::find(allowed.begin(), allowed.end(), e.key) == allowed.end()) {
        if (std::find(every_key.begin(), every_key.end(), e.key) != every_key.end()) {
          add(e.path, e.key_line, fmt::format("not allowed for feed type '{}'", schema->type));
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
      } else if (schema != nullptr) {
        read_feed_own_key(*schema, e, feed);
      }
    }

    if (!name_given) add(path + ".name", feed.line, "missing required key");
    if (schema != nullptr) {
      feed.schema = schema;
      if (schema->is_http() && feed.base_url.empty()) {
        feed.base_url = std::string(schema->default_base_url);
      }
      for (const auto& option : schema->options) {
        if (has_key(items, option.key)) continue;
        if (option.required) {
          add(fmt::format("{}.{}", path, option.key), feed.line, "missing required key");
        } else if (!option.default_value.empty()) {
          feed.options.emplace(std::string(option.key), std::string(option.default_value));
        }
      }
      for (const auto& secret : schema->secrets)
        check_secret_pair(items, path, feed.line, secret.base);
    }
    config_.feeds.push_back(std::move(feed));
  }

  // A key the feed's type declares: one of its options or one of its secrets.
  void read_feed_own_key(const FeedSchema& schema, const Entry& e, FeedConfig& feed) {
    for (const auto& option : schema.options) {
      if (e.key != option.key) continue;
      std::string text;
      switch (option.kind) {
        case FeedOption::Kind::text:
          read_non_empty(e, text);
          break;
        case FeedOption::Kind::flag: {
          bool value = false;
          const std::size_t before = error_count();
          read_bool(e, value);
          if (error_count() == before) text = value ? "true" : "false";
          break;
        }
        case FeedOption::Kind::choice:
          if (auto index = read_choice(e, option.choices)) text = option.choices[*index];
          break;
      }
      if (!text.empty()) feed.options[std::string(option.key)] = std::move(text);
      return;
    }
    for (const auto& secret : schema.secrets) {
      if (e.key != fmt::format("{}_env", secret.base) &&
          e.key != fmt::format("{}_file", secret.base)) {
        continue;
      }
      std::optional<SecretSource> source;
      read_secret(e, source);
      if (source) {
        source->identifier = secret.identifier;
        feed.secrets[std::string(secret.base)] = std::move(*source);
      }
      return;
    }
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
      } else if (e.key == "wue_l_per_kwh") {
        if (auto value = read_number(e)) {
          if (*value < 0 || *value > 100) {
            add(e,
                fmt::format("must be from 0 to 100 (litres per kWh), found {}", e.value.Scalar()));
          } else {
            region.levers.wue_l_per_kwh = *value;
          }
        }
      } else if (e.key == "accelerators") {
        parse_region_accelerators(e, region);
      } else if (e.key == "prices") {
        parse_region_prices(e, region);
      } else {
        unknown(e, {"name", "feeds", "location", "pue", "wue_l_per_kwh", "accelerators", "prices"});
      }
    }
    if (!name_given) add(path + ".name", region.line, "missing required key");
    if (!feeds_given) add(path + ".feeds", region.line, "missing required key");
    if (!location_given) region.location = region.name;
    feed_references_.insert(feed_references_.end(), references.begin(), references.end());
    config_.regions.push_back(std::move(region));
  }

  void parse_region_accelerators(const Entry& e, RegionConfig& region) {
    if (!e.value.IsSequence()) {
      add(e, "expected a list of accelerator types such as NVIDIA_L4, found " + describe(e.value));
      return;
    }
    std::vector<std::string> types;
    std::size_t index = 0;
    for (const auto& item : e.value) {
      const std::string item_path = fmt::format("{}[{}]", e.path, index++);
      if (!item.IsScalar() || !is_vertex_accelerator_type(item.Scalar())) {
        add(item_path, line_of(item),
            "expected a Vertex AI accelerator type such as NVIDIA_L4, found " +
                (item.IsScalar() ? "'" + item.Scalar() + "'" : describe(item)));
        continue;
      }
      types.push_back(item.Scalar());
    }
    region.levers.accelerators = std::move(types);
  }

  // `prices: {SKU: USD_PER_HOUR}` or `{SKU: {usd_per_hour: N, spot_usd_per_hour: N}}`.
  void parse_region_prices(const Entry& section, RegionConfig& region) {
    auto items = mapping(section);
    if (!items) return;
    for (const auto& e : *items) {
      SkuPrice price;
      auto read_price = [&](const Entry& entry, std::optional<double>& out) {
        if (auto value = read_number(entry)) {
          if (*value < 0 || *value > 1e6) {
            add(entry, fmt::format("must be from 0 to 1000000 (US dollars per hour), found {}",
                                   entry.value.Scalar()));
          } else {
            out = *value;
          }
        }
      };
      if (e.value.IsMap()) {
        for (const auto& sub : entries(e.value, e.path)) {
          if (sub.key == "usd_per_hour") {
            read_price(sub, price.usd_per_hour);
          } else if (sub.key == "spot_usd_per_hour") {
            read_price(sub, price.spot_usd_per_hour);
          } else {
            unknown(sub, {"usd_per_hour", "spot_usd_per_hour"});
          }
        }
      } else {
        read_price(e, price.usd_per_hour);
      }
      region.levers.prices[e.key] = price;
    }
  }

  // `embodied: {lifetime: 5y, accelerators: {TYPE: KG}}`.
  void parse_embodied(const Entry& section) {
    auto items = mapping(section);
    if (!items) return;
    for (const auto& e : *items) {
      if (e.key == "lifetime") {
        read_lifetime(e, config_.embodied.lifetime);
      } else if (e.key == "accelerators") {
        auto kinds = mapping(e);
        if (!kinds) continue;
        for (const auto& k : *kinds) {
          if (!is_vertex_accelerator_type(k.key)) {
            add(k, "unknown accelerator type '" + k.key + "'");
            continue;
          }
          if (auto kg = read_number(k)) {
            if (*kg <= 0 || *kg > 1e6) {
              add(k, fmt::format("must be greater than 0 kg CO2e, found {}", k.value.Scalar()));
            } else {
              config_.embodied.accelerators[k.key] = *kg;
            }
          }
        }
      } else {
        unknown(e, {"lifetime", "accelerators"});
      }
    }
  }

  // A duration, or whole years written "5y" (365 days each): hardware lives for years.
  void read_lifetime(const Entry& e, Seconds& out) {
    if (!scalar(e, "a duration such as 5y or 1460d")) return;
    const std::string& text = e.value.Scalar();
    if (text.size() >= 2 && text.back() == 'y' &&
        std::all_of(text.begin(), text.end() - 1, [](char c) { return c >= '0' && c <= '9'; })) {
      const long long years = text.size() > 4 ? 0 : std::stoll(text.substr(0, text.size() - 1));
      if (years < 1 || years > 50) {
        add(e, "must be from 1y to 50y");
        return;
      }
      out = Seconds{years * 365 * 24 * 3600};
      return;
    }
    read_duration(e, out, true, kYear * 50);
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
  const FeedSchemas& feed_schemas_;
  std::vector<FeedReference> feed_name_lines_;
  std::vector<FeedReference> region_name_lines_;
  std::vector<FeedReference> feed_references_;
};

Error invalid(std::string_view source_name, std::vector<FieldError> details) {
  const std::size_t n = details.size();
  return make_error(
      "invalid_config",
      fmt::format("{}: configuration is invalid ({} error{})", source_name, n, n == 1 ? "" : "s"),
      std::move(details));
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source_name,
                            const FeedSchemas& feeds) {
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
  Parser parser(feeds);
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

Result<Config> load_config_file(const std::string& path, const FeedSchemas& feeds) {
  auto text = read_text_file(path);
  if (!text) {
    return make_error(errc::kInvalidConfig,
                      fmt::format("{}: cannot read configuration: {}", path, text.error().message));
  }
  return parse_config(*text, path, feeds);
}

}  // namespace gridshift
