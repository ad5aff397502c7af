// The configuration's slices that the subsystems below the daemon share (docs/design.md,
// "Configuration"): the socket, metrics, scheduler and limits settings, the feeds and regions,
// and where secrets come from. Plain values with defaulted ==, so that a reload compares whole
// slices. The top-level Config (daemon/config/config.h) adds the dispatch target's settings,
// which each target folder owns (deploy/<target>/settings.h). resolve_secrets does the I/O of
// reading `*_env` / `*_file` secrets.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/feed_schema.h"
#include "common/secret.h"
#include "core/levers.h"
#include "core/result.h"
#include "core/time.h"

namespace gridshift {

struct SocketConfig {
  std::string path = "/run/gridshift/gridshift.sock";
  unsigned mode = 0660;  // written as an octal string, "0660"
  std::string group;     // empty = the daemon's primary group
  bool operator==(const SocketConfig&) const = default;
};

struct MetricsConfig {
  std::optional<std::string> listen;  // "host:port"
  bool operator==(const MetricsConfig&) const = default;
};

struct SchedulerConfig {
  Seconds tick{60};
  Seconds default_deadline{24 * 3600};
  Seconds dispatch_slack{15 * 60};
  double min_gain = 0;      // per hour moved (docs/scheduling.md); 0: wait for the planned window
  double error_margin = 0;  // x the forecasts' expected error; 0: never start early for it
  Seconds max_staleness{3 * 3600};
  int max_concurrent_dispatches = 8;
  Seconds retention{90 * 24 * 3600};
  bool operator==(const SchedulerConfig&) const = default;
};

// What one caller may ask of the daemon (docs/configuration.md, "limits"); root is exempt from
// the per-user limits and has connections in reserve.
struct LimitsConfig {
  std::size_t max_spec_bytes = 64 * 1024;    // a submitted spec's JSON; 413 beyond
  std::size_t max_queued_per_user = 1000;    // queued jobs per owner; 429 beyond
  std::size_t max_connections_per_uid = 64;  // open socket connections per uid; 503 beyond
  bool operator==(const LimitsConfig&) const = default;
};

// Where a secret comes from; the value itself is resolved later into `Secret`.
struct SecretSource {
  enum class Kind { env, file } kind = Kind::env;
  std::string name;         // variable name or file path
  std::string key;          // the config key it was given under, e.g. "feeds[1].token_env"
  bool identifier = false;  // a user name rather than a secret (FeedSecret::identifier)
  bool operator==(const SecretSource&) const = default;
};

// One `feeds:` entry. The type's own keys are validated against its FeedSchema and kept as
// text in `options` (defaults filled in); each feed folder reads them into its own settings.
struct FeedConfig {
  std::string name;
  const FeedSchema* schema = nullptr;  // the registered type; set whenever parsing succeeded
  std::string base_url;                // HTTP feeds; default per type
  Seconds poll_interval{15 * 60};
  Seconds timeout{30};              // per request
  std::optional<int> daily_budget;  // calls per UTC day, when the plan is metered
  std::map<std::string, std::string, std::less<>> options;   // by key
  std::map<std::string, SecretSource, std::less<>> secrets;  // by FeedSecret::base
  int line = 0;  // where the feed is defined, for later messages

  std::string_view type() const { return schema != nullptr ? schema->type : ""; }
  // The option's text, or "" when neither given nor defaulted.
  std::string option(std::string_view key) const;
  // The same settings wherever in the file they are written: line and secret key paths
  // cleared (a reload compares these, so moving a feed in the file does not restart it).
  FeedConfig position_free() const;
  bool operator==(const FeedConfig&) const = default;
};

struct RegionConfig {
  std::string name;                // Google Cloud region id
  std::vector<std::string> feeds;  // fallback chain, first fresh wins
  std::string location;            // defaults to name
  double pue = 1.0;
  RegionLevers levers;  // accelerators, prices, wue_l_per_kwh (docs/levers.md)
  int line = 0;
  bool operator==(const RegionConfig&) const = default;
};

// `embodied:` how the accelerators' embodied carbon is amortised (docs/levers.md).
struct EmbodiedConfig {
  Seconds lifetime{5LL * 365 * 24 * 3600};
  std::map<std::string, double, std::less<>> accelerators;  // kg CO2e by type, over the table
  bool operator==(const EmbodiedConfig&) const = default;
};

// `storage:` where jobs, readings and the dispatch journal live (docs/operations.md): one SQLite
// file in state_dir (one daemon), or a PostgreSQL database several daemons share.
enum class StorageType { sqlite, postgres };
std::string_view to_string(StorageType type);

struct StorageConfig {
  StorageType type = StorageType::sqlite;
  std::optional<SecretSource> dsn;  // postgres: `dsn_file` or `dsn_env`, a libpq connection string
  // postgres: how soon after the leader's database session ends another daemon leads.
  Seconds lease{15};
  int line = 0;
  bool operator==(const StorageConfig&) const = default;
};

enum class LogLevel { trace, debug, info, warn, error };
std::string_view to_string(LogLevel level);

// Every setting but the dispatch target's: what the feeds, the scheduler and the API read.
// Subsystems hold a reference to the daemon's ServiceConfig, which a reload replaces as a whole.
struct ServiceConfig {
  std::string state_dir = "/var/lib/gridshift";
  StorageConfig storage;
  SocketConfig socket;
  LogLevel log_level = LogLevel::info;
  MetricsConfig metrics;
  SchedulerConfig scheduler;
  std::vector<FeedConfig> feeds;
  std::vector<RegionConfig> regions;
  LimitsConfig limits;
  EmbodiedConfig embodied;

  std::vector<std::string> region_names() const;
  const FeedConfig* find_feed(std::string_view name) const;
  const RegionConfig* find_region(std::string_view name) const;
  bool operator==(const ServiceConfig&) const = default;
};

// What the lever rules (core/levers.h) read of the config: each region's levers and the
// embodied settings, over the built-in tables.
LeverContext lever_context(const ServiceConfig& config);

// The key a feed stores a region's readings under (FeedSchema::keyed_by_region_name).
std::string feed_location(const FeedConfig& feed, const RegionConfig& region);
// The same by feed name (a name the config does not know maps to the region's `location`).
std::string feed_location(const ServiceConfig& config, const std::string& feed,
                          const RegionConfig& region);
// The signal a feed delivers (average when the feed is unknown).
SignalType feed_signal(const FeedConfig& feed);

// "FILE:LINE: field: message" per detail, one per line (the message alone without details).
std::string format_config_errors(const std::string& path, const Error& error);

// Everything secret the config refers to, resolved. Keyed by SecretSource::key.
using ResolvedSecrets = std::map<std::string, Secret>;

// Environment lookups go through `getenv` so that tests can inject one. A relative `*_file`
// name is looked up in `credentials_directory` first (systemd's $CREDENTIALS_DIRECTORY), then
// relative to the working directory. Error "invalid_config" naming the key when a variable is
// unset or a file unreadable or empty. Secret values never appear in messages.
Result<ResolvedSecrets> resolve_secrets(
    const ServiceConfig& config,
    const std::function<std::optional<std::string>(const std::string&)>& getenv,
    const std::string& credentials_directory);

}  // namespace gridshift
