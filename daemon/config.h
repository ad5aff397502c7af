// The daemon's configuration (DESIGN.md §3): typed values parsed from YAML. parse_config is
// pure (text in, values or errors naming key path and line out); resolve_secrets does the I/O
// of reading `*_env` / `*_file` secrets. Values are immutable once loaded; a reload builds a
// new Config.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "daemon/secret.h"

namespace gridshift {

struct SocketConfig {
  std::string path = "/run/gridshift/gridshift.sock";
  unsigned mode = 0660;  // written as an octal string, "0660"
  std::string group;     // empty = the daemon's primary group
};

struct MetricsConfig {
  std::optional<std::string> listen;  // "host:port"
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
};

// What one caller may ask of the daemon (docs/configuration.md, "limits"); root is exempt from
// the per-user limits and has connections in reserve.
struct LimitsConfig {
  std::size_t max_spec_bytes = 64 * 1024;    // a submitted spec's JSON; 413 beyond
  std::size_t max_queued_per_user = 1000;    // queued jobs per owner; 429 beyond
  std::size_t max_connections_per_uid = 64;  // open socket connections per uid; 503 beyond
  bool operator==(const LimitsConfig&) const = default;
};

enum class FeedType {
  carbon_intensity_uk,
  electricitymaps,
  watttime,
  gcp_region_dataset,
  trace_file
};
std::string_view to_string(FeedType type);

// Where a secret comes from; the value itself is resolved later into `Secret`.
struct SecretSource {
  enum class Kind { env, file } kind = Kind::env;
  std::string name;  // variable name or file path
  std::string key;   // the config key it was given under, e.g. "feeds[1].token_env"
};

struct FeedConfig {
  std::string name;
  FeedType type = FeedType::carbon_intensity_uk;
  std::string base_url;  // default per type
  Seconds poll_interval{15 * 60};
  Seconds timeout{30};                             // per request
  std::optional<int> daily_budget;                 // calls per UTC day, when the plan is metered
  bool forecast = false;                           // electricitymaps: also poll the forecast
  std::string emission_factor_type = "lifecycle";  // electricitymaps: lifecycle | direct
  std::string file;                                // gcp_region_dataset: the CSV
  std::string actuals;                             // trace_file: actuals CSV
  std::string forecast_file;             // trace_file: forecast CSV (config key `forecast`)
  std::optional<SecretSource> token;     // electricitymaps
  std::optional<SecretSource> username;  // watttime
  std::optional<SecretSource> password;  // watttime
  int line = 0;                          // where the feed is defined, for later messages
};

struct RegionConfig {
  std::string name;                // Google Cloud region id
  std::vector<std::string> feeds;  // fallback chain, first fresh wins
  std::string location;            // defaults to name
  double pue = 1.0;
  int line = 0;
};

struct StagingBucketConfig {
  bool enabled = false;
  std::string prefix = "gridshift-staging";
  bool delete_after = true;
};

struct VertexAiConfig {
  std::string project;
  std::string credentials = "auto";  // "auto" = ADC order, else a key file path
  std::string endpoint = "https://{region}-aiplatform.googleapis.com";
  std::string storage_endpoint = "https://storage.googleapis.com";
  std::string token_uri;  // override of the key file's token_uri (tests)
  std::string metadata_url = "http://metadata.google.internal";
  StagingBucketConfig staging_bucket;
};

struct LocalDispatchConfig {
  std::string workdir = "/var/lib/gridshift/jobs";
  std::string run_as = "owner";  // "owner" (the submitting uid) or an unprivileged user name
  bool operator==(const LocalDispatchConfig&) const = default;
};

enum class DispatchType { vertex_ai, local, dry_run };
std::string_view to_string(DispatchType type);

struct DispatchConfig {
  DispatchType type = DispatchType::dry_run;
  VertexAiConfig vertex_ai;
  LocalDispatchConfig local;
};

enum class LogLevel { trace, debug, info, warn, error };
std::string_view to_string(LogLevel level);

struct Config {
  std::string state_dir = "/var/lib/gridshift";
  SocketConfig socket;
  LogLevel log_level = LogLevel::info;
  MetricsConfig metrics;
  SchedulerConfig scheduler;
  std::vector<FeedConfig> feeds;
  std::vector<RegionConfig> regions;
  DispatchConfig dispatch;
  LimitsConfig limits;

  std::vector<std::string> region_names() const;
  const FeedConfig* find_feed(std::string_view name) const;
  const RegionConfig* find_region(std::string_view name) const;
};

// Parses and validates YAML text. `source_name` (usually the file path) prefixes messages.
// Error code "invalid_config"; each detail names the key path (e.g. "scheduler.tick",
// "feeds[1].poll_interval", "regions[0].feeds[1]") and its 1-based line.
Result<Config> parse_config(std::string_view text, std::string_view source_name);

// Reads the file and parses it. Error "invalid_config" also when the file cannot be read.
Result<Config> load_config_file(const std::string& path);

// Everything secret the config refers to, resolved. Keyed by SecretSource::key.
using ResolvedSecrets = std::map<std::string, Secret>;

// Environment lookups go through `getenv` so that tests can inject one. A relative `*_file`
// name is looked up in `credentials_directory` first (systemd's $CREDENTIALS_DIRECTORY), then
// relative to the working directory. Error "invalid_config" naming the key when a variable is
// unset or a file unreadable or empty. Secret values never appear in messages.
Result<ResolvedSecrets> resolve_secrets(
    const Config& config,
    const std::function<std::optional<std::string>(const std::string&)>& getenv,
    const std::string& credentials_directory);

}  // namespace gridshift
