// Tests of parse_config / load_config_file (daemon/config/config.h): the shipped example, a config
// with every key, defaults, and malformed configs whose errors must name key path and line.
#include "daemon/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "daemon/feeds/registry.h"

namespace gridshift {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::Not;

std::string all_errors(const Error& error) {
  return to_string(error);
}

Config parse_ok(const std::string& text) {
  auto config = parse_config(text, "test.yaml", feed_schemas());
  EXPECT_TRUE(config) << (config ? "" : all_errors(config.error()));
  return config ? *config : Config{};
}

TEST(ConfigExample, ShippedExampleParses) {
  const std::string path = std::string(GRIDSHIFT_SOURCE_DIR) + "/config.example.yaml";
  auto config = load_config_file(path, feed_schemas());
  ASSERT_TRUE(config) << all_errors(config.error());
  EXPECT_EQ(config->state_dir, "./var");
  EXPECT_EQ(config->socket.path, "./var/gridshift.sock");
  EXPECT_EQ(config->socket.mode, 0660u);
  EXPECT_EQ(config->socket.group, "");
  EXPECT_EQ(config->log_level, LogLevel::info);
  EXPECT_FALSE(config->metrics.listen.has_value());
  EXPECT_EQ(config->scheduler.tick, seconds(60));
  EXPECT_EQ(config->scheduler.retention, hours(24 * 90));
  EXPECT_DOUBLE_EQ(config->scheduler.min_gain, 0.0);
  EXPECT_DOUBLE_EQ(config->scheduler.error_margin, 0.0);
  EXPECT_EQ(config->dispatch.type, DispatchType::dry_run);
  EXPECT_EQ(config->dispatch.local.workdir, "./var/jobs");

  ASSERT_EQ(config->feeds.size(), 2u);
  const FeedConfig* uk = config->find_feed("uk");
  ASSERT_NE(uk, nullptr);
  EXPECT_EQ(uk->type(), "carbon_intensity_uk");
  EXPECT_EQ(uk->base_url, "https://api.carbonintensity.org.uk");
  EXPECT_EQ(uk->poll_interval, minutes(30));
  const FeedConfig* annual = config->find_feed("annual");
  ASSERT_NE(annual, nullptr);
  EXPECT_EQ(annual->type(), "gcp_region_dataset");
  EXPECT_EQ(annual->option("file"), "data/gcp-regions.csv");
  // The dataset the example points at ships with the repository.
  EXPECT_TRUE(
      std::filesystem::exists(std::string(GRIDSHIFT_SOURCE_DIR) + "/" + annual->option("file")));

  ASSERT_GE(config->regions.size(), 3u);
  const RegionConfig* london = config->find_region("europe-west2");
  ASSERT_NE(london, nullptr);
  EXPECT_THAT(london->feeds, ElementsAre("uk", "annual"));
  EXPECT_EQ(london->location, "GB");
  EXPECT_DOUBLE_EQ(london->pue, 1.09);
  const RegionConfig* belgium = config->find_region("europe-west1");
  ASSERT_NE(belgium, nullptr);
  EXPECT_THAT(belgium->feeds, ElementsAre("annual"));
  EXPECT_EQ(belgium->location, "europe-west1");
  EXPECT_GE(belgium->pue, 1.0);
}

// The example's commented-out feed and dispatch blocks must be valid too: uncomment them.
TEST(ConfigExample, CommentedExamplesParseWhenUncommented) {
  std::ifstream in(std::string(GRIDSHIFT_SOURCE_DIR) + "/config.example.yaml");
  ASSERT_TRUE(in);
  std::string text, line;
  bool inside = false;  // within a block of commented YAML to enable
  while (std::getline(in, line)) {
    const bool starts_block = line.rfind("  # - name: ", 0) == 0 ||
                              line.rfind("  # vertex_ai:", 0) == 0 ||
                              line.rfind("  # local:", 0) == 0;
    if (starts_block) inside = true;
    if (inside && line.rfind("  # ", 0) == 0) {
      const std::string body = line.substr(4);
      // Lines of prose inside a block are indented comments; keep them commented.
      if (body.rfind("#", body.find_first_not_of(' ')) == body.find_first_not_of(' ')) {
        text += line + "\n";
      } else {
        text += "  " + body + "\n";
      }
      continue;
    }
    inside = false;
    text += line + "\n";
  }
  auto config = parse_config(text, "uncommented.yaml", feed_schemas());
  ASSERT_TRUE(config) << all_errors(config.error()) << "\n" << text;
  EXPECT_EQ(config->feeds.size(), 5u);
  const FeedConfig* emaps = config->find_feed("emaps");
  ASSERT_NE(emaps, nullptr);
  ASSERT_TRUE(emaps->secrets.contains("token"));
  EXPECT_EQ(emaps->secrets.at("token").name, "ELECTRICITYMAPS_TOKEN");
  const FeedConfig* wt = config->find_feed("wt");
  ASSERT_NE(wt, nullptr);
  ASSERT_TRUE(wt->secrets.contains("password"));
  EXPECT_EQ(wt->secrets.at("password").kind, SecretSource::Kind::file);
  const FeedConfig* replay = config->find_feed("replay");
  ASSERT_NE(replay, nullptr);
  EXPECT_EQ(replay->option("actuals"), "examples/simulate/actuals.csv");
  EXPECT_EQ(replay->option("shift_to"), "now");
  EXPECT_EQ(replay->poll_interval, std::chrono::minutes(5));
  EXPECT_EQ(config->dispatch.vertex_ai.project, "my-project");
  EXPECT_EQ(config->dispatch.local.workdir, "./var/jobs");
}

TEST(ConfigParse, EveryKey) {
  const std::string text = R"(state_dir: /srv/gridshift
socket: {path: /run/gs/gs.sock, mode: "0640", group: trainers}
log_level: debug
metrics: {listen: "[::1]:9100"}
scheduler:
  tick: 2m
  default_deadline: 12h
  dispatch_slack: 0s
  min_gain: 0.1
  max_staleness: 1h30m
  max_concurrent_dispatches: 3
  retention: 30d
feeds:
  - {name: uk, type: carbon_intensity_uk, base_url: "http://127.0.0.1:8081", poll_interval: 10m, timeout: 5s, daily_budget: 200}
  - name: emaps
    type: electricitymaps
    base_url: https://em.example
    token_file: em-token
    poll_interval: 20m
    timeout: 45s
    daily_budget: 50
    forecast: true
    emission_factor_type: direct
  - name: wt
    type: watttime
    username_env: WT_USER
    password_file: /etc/gs/wt-pass
  - {name: annual, type: gcp_region_dataset, file: /opt/regions.csv}
  - {name: replay, type: trace_file, actuals: a.csv, forecast: f.csv}
regions:
  - {name: europe-west2, feeds: [uk, annual], location: GB, pue: 1.09}
  - {name: europe-west9, feeds: [emaps, annual], location: FR, pue: 1.2}
  - {name: us-west1, feeds: [wt, replay]}
dispatch:
  type: vertex_ai
  vertex_ai:
    project: my-project
    credentials: /etc/gs/sa.json
    endpoint: "http://127.0.0.1:9000/{region}"
    storage_endpoint: "http://127.0.0.1:9001"
    token_uri: "http://127.0.0.1:9002/token"
    metadata_url: "http://127.0.0.1:9003"
    staging_bucket: {enabled: true, prefix: my-staging, delete_after: false}
  local: {workdir: /scratch/jobs}
)";
  const Config c = parse_ok(text);
  EXPECT_EQ(c.state_dir, "/srv/gridshift");
  EXPECT_EQ(c.socket.path, "/run/gs/gs.sock");
  EXPECT_EQ(c.socket.mode, 0640u);
  EXPECT_EQ(c.socket.group, "trainers");
  EXPECT_EQ(c.log_level, LogLevel::debug);
  EXPECT_EQ(c.metrics.listen, "[::1]:9100");
  EXPECT_EQ(c.scheduler.tick, minutes(2));
  EXPECT_EQ(c.scheduler.default_deadline, hours(12));
  EXPECT_EQ(c.scheduler.dispatch_slack, seconds(0));
  EXPECT_DOUBLE_EQ(c.scheduler.min_gain, 0.1);
  EXPECT_EQ(c.scheduler.max_staleness, minutes(90));
  EXPECT_EQ(c.scheduler.max_concurrent_dispatches, 3);
  EXPECT_EQ(c.scheduler.retention, hours(24 * 30));

  ASSERT_EQ(c.feeds.size(), 5u);
  const FeedConfig& uk = c.feeds[0];
  EXPECT_EQ(uk.name, "uk");
  EXPECT_EQ(uk.type(), "carbon_intensity_uk");
  EXPECT_EQ(uk.base_url, "http://127.0.0.1:8081");
  EXPECT_EQ(uk.poll_interval, minutes(10));
  EXPECT_EQ(uk.timeout, seconds(5));
  EXPECT_EQ(uk.daily_budget, 200);
  EXPECT_EQ(uk.line, 14);

  const FeedConfig& em = c.feeds[1];
  EXPECT_EQ(em.type(), "electricitymaps");
  EXPECT_EQ(em.base_url, "https://em.example");
  ASSERT_TRUE(em.secrets.contains("token"));
  EXPECT_EQ(em.secrets.at("token").kind, SecretSource::Kind::file);
  EXPECT_EQ(em.secrets.at("token").name, "em-token");
  EXPECT_EQ(em.secrets.at("token").key, "feeds[1].token_file");
  EXPECT_EQ(em.poll_interval, minutes(20));
  EXPECT_EQ(em.timeout, seconds(45));
  EXPECT_EQ(em.daily_budget, 50);
  EXPECT_EQ(em.option("forecast"), "true");
  EXPECT_EQ(em.option("emission_factor_type"), "direct");
  EXPECT_EQ(em.line, 15);

  const FeedConfig& wt = c.feeds[2];
  EXPECT_EQ(wt.type(), "watttime");
  EXPECT_EQ(wt.base_url, "https://api.watttime.org");
  ASSERT_TRUE(wt.secrets.contains("username") && wt.secrets.contains("password"));
  EXPECT_EQ(wt.secrets.at("username").kind, SecretSource::Kind::env);
  EXPECT_EQ(wt.secrets.at("username").name, "WT_USER");
  EXPECT_EQ(wt.secrets.at("username").key, "feeds[2].username_env");
  EXPECT_EQ(wt.secrets.at("password").kind, SecretSource::Kind::file);
  EXPECT_EQ(wt.secrets.at("password").name, "/etc/gs/wt-pass");
  EXPECT_EQ(wt.secrets.at("password").key, "feeds[2].password_file");
  EXPECT_FALSE(wt.secrets.contains("token"));

  EXPECT_EQ(c.feeds[3].type(), "gcp_region_dataset");
  EXPECT_EQ(c.feeds[3].option("file"), "/opt/regions.csv");
  EXPECT_EQ(c.feeds[4].type(), "trace_file");
  EXPECT_EQ(c.feeds[4].option("actuals"), "a.csv");
  EXPECT_EQ(c.feeds[4].option("forecast"), "f.csv");

  ASSERT_EQ(c.regions.size(), 3u);
  EXPECT_EQ(c.regions[1].name, "europe-west9");
  EXPECT_THAT(c.regions[1].feeds, ElementsAre("emaps", "annual"));
  EXPECT_EQ(c.regions[1].location, "FR");
  EXPECT_DOUBLE_EQ(c.regions[1].pue, 1.2);
  EXPECT_EQ(c.regions[1].line, 32);
  EXPECT_EQ(c.regions[2].location, "us-west1");
  EXPECT_DOUBLE_EQ(c.regions[2].pue, 1.0);
  EXPECT_THAT(c.region_names(), ElementsAre("europe-west2", "europe-west9", "us-west1"));

  EXPECT_EQ(c.dispatch.type, DispatchType::vertex_ai);
  const VertexAiConfig& v = c.dispatch.vertex_ai;
  EXPECT_EQ(v.project, "my-project");
  EXPECT_EQ(v.credentials, "/etc/gs/sa.json");
  EXPECT_EQ(v.endpoint, "http://127.0.0.1:9000/{region}");
  EXPECT_EQ(v.storage_endpoint, "http://127.0.0.1:9001");
  EXPECT_EQ(v.token_uri, "http://127.0.0.1:9002/token");
  EXPECT_EQ(v.metadata_url, "http://127.0.0.1:9003");
  EXPECT_TRUE(v.staging_bucket.enabled);
  EXPECT_EQ(v.staging_bucket.prefix, "my-staging");
  EXPECT_FALSE(v.staging_bucket.delete_after);
  EXPECT_EQ(c.dispatch.local.workdir, "/scratch/jobs");
}

TEST(ConfigParse, Defaults) {
  const Config c = parse_ok(R"(state_dir: /srv/gs/
feeds:
  - {name: uk, type: carbon_intensity_uk}
  - {name: em, type: electricitymaps, token_env: EM}
  - {name: wt, type: watttime, username_env: U, password_env: P}
  - {name: annual, type: gcp_region_dataset}
regions:
  - {name: europe-west2, feeds: [uk]}
)");
  EXPECT_EQ(c.socket.path, "/run/gridshift/gridshift.sock");
  EXPECT_EQ(c.socket.mode, 0660u);
  EXPECT_EQ(c.log_level, LogLevel::info);
  EXPECT_EQ(c.scheduler.tick, seconds(60));
  EXPECT_EQ(c.scheduler.default_deadline, hours(24));
  EXPECT_EQ(c.scheduler.dispatch_slack, minutes(15));
  EXPECT_EQ(c.scheduler.max_staleness, hours(3));
  EXPECT_EQ(c.scheduler.max_concurrent_dispatches, 8);
  EXPECT_EQ(c.dispatch.type, DispatchType::dry_run);
  EXPECT_EQ(c.dispatch.vertex_ai.credentials, "auto");
  EXPECT_EQ(c.dispatch.vertex_ai.endpoint, "https://{region}-aiplatform.googleapis.com");
  EXPECT_EQ(c.dispatch.local.workdir, "/srv/gs/jobs");
  EXPECT_EQ(c.feeds[0].base_url, "https://api.carbonintensity.org.uk");
  EXPECT_EQ(c.feeds[0].poll_interval, minutes(15));
  EXPECT_EQ(c.feeds[0].timeout, seconds(30));
  EXPECT_FALSE(c.feeds[0].daily_budget.has_value());
  EXPECT_EQ(c.feeds[1].base_url, "https://api.electricitymaps.com");
  EXPECT_EQ(c.feeds[1].option("api_version"), "v4");
  EXPECT_EQ(c.feeds[1].option("emission_factor_type"), "lifecycle");
  EXPECT_EQ(c.feeds[1].option("forecast"), "false");
  EXPECT_EQ(c.feeds[2].base_url, "https://api.watttime.org");
  EXPECT_EQ(c.feeds[3].option("file"), "/usr/share/gridshift/gcp-regions.csv");
  EXPECT_TRUE(c.feeds[3].base_url.empty());
  EXPECT_EQ(c.regions[0].location, "europe-west2");
  EXPECT_DOUBLE_EQ(c.regions[0].pue, 1.0);
}

TEST(ConfigParse, StorageIsSqliteByDefaultAndPostgresWithItsDsnAndLease) {
  const auto plain = parse_ok("log_level: info\n");
  EXPECT_EQ(plain.storage.type, StorageType::sqlite);
  EXPECT_FALSE(plain.storage.dsn);
  EXPECT_EQ(plain.storage.lease, Seconds{15});

  const auto shared = parse_ok(
      "storage: {type: postgres, dsn_file: /etc/gridshift/pg-dsn, lease: 20s}\n"
      "dispatch: {type: dry_run}\n");
  EXPECT_EQ(shared.storage.type, StorageType::postgres);
  ASSERT_TRUE(shared.storage.dsn);
  EXPECT_EQ(shared.storage.dsn->kind, SecretSource::Kind::file);
  EXPECT_EQ(shared.storage.dsn->name, "/etc/gridshift/pg-dsn");
  EXPECT_EQ(shared.storage.dsn->key, "storage.dsn_file");
  EXPECT_EQ(shared.storage.lease, Seconds{20});

  const auto from_env = parse_ok("storage: {type: postgres, dsn_env: GRIDSHIFT_PG_DSN}\n");
  ASSERT_TRUE(from_env.storage.dsn);
  EXPECT_EQ(from_env.storage.dsn->kind, SecretSource::Kind::env);
  EXPECT_EQ(from_env.storage.dsn->name, "GRIDSHIFT_PG_DSN");
}

TEST(ConfigParse, RegionLeversAndEmbodied) {
  const auto c = parse_ok(R"(
feeds:
  - {name: annual, type: gcp_region_dataset}
regions:
  - name: r1
    feeds: [annual]
    wue_l_per_kwh: 0.4
    accelerators: [NVIDIA_L4]
    prices: {g2-standard-8: 0.9, NVIDIA_L4: {usd_per_hour: 0.7, spot_usd_per_hour: 0.3}}
embodied: {lifetime: 4y, accelerators: {NVIDIA_L4: 150}}
)");
  const auto& levers = c.regions.at(0).levers;
  EXPECT_EQ(levers.wue_l_per_kwh, 0.4);
  EXPECT_EQ(levers.accelerators, std::vector<std::string>{"NVIDIA_L4"});
  EXPECT_EQ(levers.prices.at("g2-standard-8"), (SkuPrice{0.9, std::nullopt}));
  EXPECT_EQ(levers.prices.at("NVIDIA_L4"), (SkuPrice{0.7, 0.3}));
  EXPECT_EQ(c.embodied.lifetime, std::chrono::seconds(4LL * 365 * 24 * 3600));
  EXPECT_EQ(c.embodied.accelerators.at("NVIDIA_L4"), 150);
  // Without the keys: nothing known, five years.
  const auto plain = parse_ok("regions: []\n");
  EXPECT_EQ(plain.embodied.lifetime, std::chrono::seconds(5LL * 365 * 24 * 3600));
  EXPECT_TRUE(plain.embodied.accelerators.empty());
}

TEST(ConfigParse, WorkdirDefaultFollowsStateDirAndRegionsMayPrecedeFeeds) {
  const Config c = parse_ok(R"(regions:
  - {name: europe-west1, feeds: [annual]}
feeds:
  - {name: annual, type: gcp_region_dataset}
dispatch:
  local:
)");
  EXPECT_EQ(c.dispatch.local.workdir, "/var/lib/gridshift/jobs");
  EXPECT_THAT(c.regions[0].feeds, ElementsAre("annual"));
}

TEST(ConfigParse, ModeWithoutQuotesOrLeadingZero) {
  EXPECT_EQ(parse_ok("socket: {mode: 0600}\n").socket.mode, 0600u);
  EXPECT_EQ(parse_ok("socket: {mode: \"750\"}\n").socket.mode, 0750u);
}

TEST(ConfigParse, Helpers) {
  // Every registered feed type is named once, in the registry's order.
  std::vector<std::string_view> types;
  for (const auto* schema : feed_schemas())
    types.push_back(schema->type);
  EXPECT_EQ(types, (std::vector<std::string_view>{"carbon_intensity_uk", "electricitymaps",
                                                  "watttime", "gcp_region_dataset", "trace_file"}));
  EXPECT_EQ(to_string(DispatchType::vertex_ai), "vertex_ai");
  EXPECT_EQ(to_string(DispatchType::dry_run), "dry_run");
  EXPECT_EQ(to_string(LogLevel::warn), "warn");
  EXPECT_EQ(to_string(LogLevel::trace), "trace");
  const Config c = parse_ok(R"(feeds: [{name: annual, type: gcp_region_dataset}]
regions: [{name: europe-west1, feeds: [annual]}]
)");
  EXPECT_EQ(c.find_feed("nope"), nullptr);
  EXPECT_EQ(c.find_region("europe-west9"), nullptr);
  ASSERT_NE(c.find_region("europe-west1"), nullptr);
  EXPECT_EQ(c.find_region("europe-west1")->line, 2);
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* field;
  int line;
  const char* message;  // a part of the message
};

void PrintTo(const BadCase& c, std::ostream* os) {
  *os << c.name;
}

class ConfigBad : public testing::TestWithParam<BadCase> {};

TEST_P(ConfigBad, NamesKeyAndLine) {
  const BadCase& c = GetParam();
  auto config = parse_config(c.yaml, "bad.yaml", feed_schemas());
  ASSERT_FALSE(config) << c.yaml;
  const Error& error = config.error();
  EXPECT_EQ(error.code, "invalid_config");
  EXPECT_EQ(error.message, "bad.yaml: configuration is invalid (1 error)");
  ASSERT_EQ(error.details.size(), 1u) << all_errors(error);
  EXPECT_EQ(error.details[0].field, c.field) << all_errors(error);
  EXPECT_EQ(error.details[0].line, c.line) << all_errors(error);
  EXPECT_THAT(error.details[0].message, HasSubstr(c.message));
}

// Lines are 1-based; most cases put the mistake on a known line of a small document.
const BadCase kBadCases[] = {
    {"storage_type_unknown", "storage: {type: mysql}\n", "storage.type", 1, "mysql"},
    {"storage_postgres_without_dsn", "log_level: info\nstorage: {type: postgres}\n",
     "storage.dsn_env", 2, "missing required key: dsn_env or dsn_file"},
    {"storage_lease_too_short", "storage:\n  type: postgres\n  dsn_file: pg-dsn\n  lease: 1s\n",
     "storage.lease", 4, "must be at least 3s"},
    {"storage_dsn_for_sqlite", "storage:\n  dsn_file: pg-dsn\n", "storage.dsn_file", 2,
     "only with type: postgres"},
    {"storage_lease_for_sqlite", "storage:\n  type: sqlite\n  lease: 10s\n", "storage.lease", 3,
     "only with type: postgres"},
    {"storage_postgres_with_local_dispatch",
     "storage: {type: postgres, dsn_file: pg-dsn}\ndispatch: {type: local}\n", "storage.type", 1,
     "needs a remote dispatch target"},
    {"storage_unknown_key", "storage: {type: postgres, dsn_file: pg-dsn, leases: 3s}\n",
     "storage.leases", 1, "unknown key"},
    {"misspelt_scheduler_key", "scheduler:\n  tick: 60s\n  tikc: 30s\n", "scheduler.tikc", 3,
     "unknown key; did you mean 'tick'?"},
    {"wue_negative",
     "feeds:\n  - {name: annual, type: gcp_region_dataset}\nregions:\n  - name: r1\n    feeds: "
     "[annual]\n    wue_l_per_kwh: -1\n",
     "regions[0].wue_l_per_kwh", 6, "must be from 0 to 100"},
    {"accelerator_unknown",
     "feeds:\n  - {name: annual, type: gcp_region_dataset}\nregions:\n  - name: r1\n    feeds: "
     "[annual]\n    accelerators: [NVIDIA_L4, GPU_X]\n",
     "regions[0].accelerators[1]", 6, "expected a Vertex AI accelerator type"},
    {"price_negative",
     "feeds:\n  - {name: annual, type: gcp_region_dataset}\nregions:\n  - name: r1\n    feeds: "
     "[annual]\n    prices: {g2-standard-8: -0.5}\n",
     "regions[0].prices.g2-standard-8", 6, "must be from 0 to 1000000"},
    {"price_unknown_key",
     "feeds:\n  - {name: annual, type: gcp_region_dataset}\nregions:\n  - name: r1\n    feeds: "
     "[annual]\n    prices: {NVIDIA_L4: {usd_per_hr: 1}}\n",
     "regions[0].prices.NVIDIA_L4.usd_per_hr", 6, "did you mean 'usd_per_hour'?"},
    {"embodied_lifetime_unit", "embodied: {lifetime: 5q}\n", "embodied.lifetime", 1,
     "invalid duration"},
    {"embodied_lifetime_years", "embodied: {lifetime: 90y}\n", "embodied.lifetime", 1,
     "from 1y to 50y"},
    {"embodied_unknown_type", "embodied: {accelerators: {GPU_X: 100}}\n",
     "embodied.accelerators.GPU_X", 1, "unknown accelerator type"},
    {"emaps_api_version",
     "feeds:\n  - {name: e, type: electricitymaps, token_env: T, api_version: v5}\n",
     "feeds[0].api_version", 2, "v4"},
    {"misspelt_top_level_key", "stat_dir: /x\n", "stat_dir", 1, "did you mean 'state_dir'?"},
    {"unknown_key_without_suggestion", "log_level: info\ncolour: red\n", "colour", 2,
     "unknown key"},
    {"bad_duration", "scheduler:\n  tick: soon\n", "scheduler.tick", 2, "invalid duration"},
    {"duration_without_unit", "scheduler:\n  max_staleness: 90\n", "scheduler.max_staleness", 2,
     "invalid duration"},
    {"zero_tick", "scheduler:\n  tick: 0s\n", "scheduler.tick", 2, "positive"},
    {"zero_retention", "scheduler:\n  retention: 0d\n", "scheduler.retention", 2, "positive"},
    {"duration_as_list", "scheduler:\n  default_deadline: [1h]\n", "scheduler.default_deadline", 2,
     "found a list"},
    {"min_gain_one", "scheduler:\n  min_gain: 1.0\n", "scheduler.min_gain", 2, "below 1"},
    {"error_margin_large", "scheduler:\n  error_margin: 11\n", "scheduler.error_margin", 2,
     "at most 10"},
    {"error_margin_negative", "scheduler:\n  error_margin: -1\n", "scheduler.error_margin", 2,
     "at least 0"},
    {"error_margin_text", "scheduler:\n  error_margin: some\n", "scheduler.error_margin", 2,
     "expected a number"},
    {"min_gain_negative", "scheduler:\n  min_gain: -0.5\n", "scheduler.min_gain", 2, "at least 0"},
    {"min_gain_text", "scheduler:\n  min_gain: lots\n", "scheduler.min_gain", 2,
     "expected a number"},
    {"min_gain_quoted", "scheduler:\n  min_gain: \"0.1\"\n", "scheduler.min_gain", 2,
     "expected a number"},
    {"concurrency_zero", "scheduler:\n  max_concurrent_dispatches: 0\n",
     "scheduler.max_concurrent_dispatches", 2, "from 1 to 100000"},
    {"concurrency_fraction", "scheduler:\n  max_concurrent_dispatches: 2.5\n",
     "scheduler.max_concurrent_dispatches", 2, "whole number"},
    {"scheduler_not_mapping", "log_level: info\nscheduler: [tick]\n", "scheduler", 2,
     "expected a mapping"},
    {"bad_log_level", "log_level: verbose\n", "log_level", 1, "invalid value 'verbose'"},
    {"log_level_suggestion", "log_level: debg\n", "log_level", 1, "did you mean 'debug'?"},
    {"log_level_upper_case", "log_level: INFO\n", "log_level", 1, "did you mean 'info'?"},
    {"pue_quoted",
     "feeds: [{name: uk, type: carbon_intensity_uk}]\nregions:\n  - {name: europe-west2, feeds: "
     "[uk], pue: \"1.1\"}\n",
     "regions[0].pue", 3, "expected a number, found the quoted text \"1.1\""},
    {"world_open_mode", "socket:\n  path: /tmp/s.sock\n  mode: \"0666\"\n", "socket.mode", 3,
     "world-accessible"},
    {"world_readable_mode", "socket:\n  mode: \"0664\"\n", "socket.mode", 2, "world-accessible"},
    {"mode_not_octal", "socket:\n  mode: \"rw-rw----\"\n", "socket.mode", 2, "octal"},
    {"mode_with_digit_8", "socket:\n  mode: \"0680\"\n", "socket.mode", 2, "octal"},
    {"mode_special_bits", "socket:\n  mode: \"1660\"\n", "socket.mode", 2, "at most 0777"},
    {"socket_unknown_key", "socket:\n  owner: root\n", "socket.owner", 2, "unknown key"},
    {"metrics_port_only", "metrics:\n  listen: 9464\n", "metrics.listen", 2, "host:port"},
    {"metrics_port_range", "metrics:\n  listen: localhost:99999\n", "metrics.listen", 2,
     "host:port"},
    {"state_dir_list", "state_dir: [a, b]\n", "state_dir", 1, "expected a string"},
    {"state_dir_empty", "state_dir: \"\"\n", "state_dir", 1, "must not be empty"},
    {"state_dir_missing_value", "log_level: info\nstate_dir:\nsocket: {}\n", "state_dir", 2,
     "a value is required"},
    {"duplicate_key", "scheduler:\n  tick: 60s\n  retention: 9d\n  tick: 90s\n", "scheduler.tick",
     4, "duplicate key (first given on line 2)"},
    {"duplicate_key_flow", "socket: {mode: \"0660\", mode: \"0600\"}\n", "socket.mode", 1,
     "duplicate key"},
    {"duplicate_top_level_key", "state_dir: /a\nlog_level: info\nstate_dir: /b\n", "state_dir", 3,
     "duplicate key"},
    {"feed_missing_type", "feeds:\n  - name: uk\n    poll_interval: 5m\n", "feeds[0].type", 2,
     "missing required key"},
    {"feed_bad_type", "feeds:\n  - name: uk\n    type: carbon-intensity\n", "feeds[0].type", 3,
     "invalid value 'carbon-intensity'"},
    {"feed_missing_name",
     "feeds:\n  - {name: a, type: gcp_region_dataset}\n  - type: "
     "gcp_region_dataset\n",
     "feeds[1].name", 3, "missing required key"},
    {"feed_bad_name", "feeds:\n  - {name: \"u k\", type: carbon_intensity_uk}\n", "feeds[0].name",
     2, "invalid feed name"},
    {"feed_not_mapping", "feeds:\n  - uk\n", "feeds[0]", 2, "expected a mapping"},
    {"feeds_not_list", "feeds: {name: uk}\n", "feeds", 1, "expected a list"},
    {"duplicate_feed_name",
     "feeds:\n  - {name: uk, type: carbon_intensity_uk}\n  - {name: annual, type: "
     "gcp_region_dataset}\n  - {name: uk, type: gcp_region_dataset}\n",
     "feeds[2].name", 4, "duplicate feed name 'uk' (first defined on line 2)"},
    {"feed_bad_poll_interval",
     "feeds:\n  - {name: uk, type: carbon_intensity_uk}\n  - name: uk2\n    type: "
     "carbon_intensity_uk\n    poll_interval: 5x\n",
     "feeds[1].poll_interval", 5, "invalid duration"},
    {"feed_zero_timeout", "feeds:\n  - {name: uk, type: carbon_intensity_uk, timeout: 0s}\n",
     "feeds[0].timeout", 2, "positive"},
    {"feed_zero_budget", "feeds:\n  - {name: uk, type: carbon_intensity_uk, daily_budget: 0}\n",
     "feeds[0].daily_budget", 2, "at least 1"},
    {"feed_bad_base_url",
     "feeds:\n  - name: uk\n    type: carbon_intensity_uk\n    base_url: ftp://example.org\n",
     "feeds[0].base_url", 4, "http:// or https://"},
    {"feed_misspelt_key",
     "feeds:\n  - name: uk\n    type: carbon_intensity_uk\n    pol_interval: 5m\n",
     "feeds[0].pol_interval", 4, "did you mean 'poll_interval'?"},
    {"emaps_missing_token", "feeds:\n  - name: em\n    type: electricitymaps\n",
     "feeds[0].token_env", 2, "missing required key: token_env or token_file"},
    {"emaps_token_env_and_file",
     "feeds:\n  - name: em\n    type: electricitymaps\n    token_env: EM\n    token_file: em\n",
     "feeds[0].token_file", 5, "either token_env or token_file, not both"},
    {"token_file_and_env_in_flow",
     "feeds:\n  - {name: em, type: electricitymaps, token_file: t, token_env: EM}\n",
     "feeds[0].token_env", 2, "not both (token_file is on line 2)"},
    {"secret_value_in_file",
     "feeds:\n  - name: em\n    type: electricitymaps\n    token_env: EM\n    token: abc\n",
     "feeds[0].token", 5, "did you mean 'token_env' or 'token_file'?"},
    {"token_env_not_a_name",
     "feeds:\n  - name: em\n    type: electricitymaps\n    token_env: \"abc def\"\n",
     "feeds[0].token_env", 4, "environment variable"},
    {"emaps_forecast_not_bool",
     "feeds:\n  - {name: em, type: electricitymaps, token_env: EM, forecast: maybe}\n",
     "feeds[0].forecast", 2, "true or false"},
    {"emaps_bad_factor",
     "feeds:\n  - name: em\n    type: electricitymaps\n    token_env: EM\n    "
     "emission_factor_type: average\n",
     "feeds[0].emission_factor_type", 5, "lifecycle, direct"},
    {"watttime_missing_password", "feeds:\n  - name: wt\n    type: watttime\n    username_env: U\n",
     "feeds[0].password_env", 2, "missing required key: password_env or password_file"},
    {"watttime_password_value",
     "feeds:\n  - {name: wt, type: watttime, username_env: U, password_env: P, password: x}\n",
     "feeds[0].password", 2, "password_env"},
    {"token_on_uk_feed", "feeds:\n  - name: uk\n    type: carbon_intensity_uk\n    token_env: EM\n",
     "feeds[0].token_env", 4, "not allowed for feed type 'carbon_intensity_uk'"},
    {"timeout_on_dataset",
     "feeds:\n  - name: annual\n    type: gcp_region_dataset\n    timeout: 1h\n",
     "feeds[0].timeout", 4, "not allowed for feed type 'gcp_region_dataset'"},
    {"trace_missing_actuals", "feeds:\n  - name: replay\n    type: trace_file\n",
     "feeds[0].actuals", 2, "missing required key"},
    {"trace_forecast_not_path",
     "feeds:\n  - {name: r, type: trace_file, actuals: a.csv, "
     "forecast: [f.csv]}\n",
     "feeds[0].forecast", 2, "expected a string"},
    {"region_unknown_feed",
     "feeds:\n  - {name: uk, type: carbon_intensity_uk}\nregions:\n  - name: europe-west2\n    "
     "feeds:\n      - uk\n      - ukk\n",
     "regions[0].feeds[1]", 7, "unknown feed 'ukk'; did you mean 'uk'?"},
    {"region_unknown_feed_none_defined", "regions:\n  - {name: europe-west2, feeds: [uk]}\n",
     "regions[0].feeds[0]", 2, "unknown feed 'uk'"},
    {"region_empty_feeds",
     "feeds: [{name: uk, type: carbon_intensity_uk}]\nregions:\n  - {name: europe-west2, "
     "feeds: []}\n",
     "regions[0].feeds", 3, "at least one feed"},
    {"region_feeds_scalar",
     "feeds: [{name: uk, type: carbon_intensity_uk}]\nregions:\n  - name: europe-west2\n    "
     "feeds: uk\n",
     "regions[0].feeds", 4, "expected a list"},
    {"region_feed_twice",
     "feeds: [{name: uk, type: carbon_intensity_uk}]\nregions:\n  - {name: europe-west2, "
     "feeds: [uk, uk]}\n",
     "regions[0].feeds[1]", 3, "listed twice"},
    {"region_missing_name",
     "feeds: [{name: uk, type: carbon_intensity_uk}]\nregions:\n  - {name: europe-west2, "
     "feeds: [uk]}\n  - feeds: [uk]\n    pue: 1.1\n",
     "regions[1].name", 4, "missing required key"},
    {"region_missing_feeds", "regions:\n  - name: europe-west2\n", "regions[0].feeds", 2,
     "missing required key"},
    {"region_bad_name",
     "feeds: [{name: uk, type: carbon_intensity_uk}]\nregions:\n  - {name: Europe_West2, feeds: "
     "[uk]}\n",
     "regions[0].name", 3, "invalid region name"},
    {"duplicate_region_name",
     "feeds: [{name: uk, type: carbon_intensity_uk}]\nregions:\n  - {name: europe-west2, feeds: "
     "[uk]}\n  - {name: europe-west2, feeds: [uk]}\n",
     "regions[1].name", 4, "duplicate region name 'europe-west2' (first defined on line 3)"},
    {"pue_below_one",
     "feeds: [{name: uk, type: carbon_intensity_uk}]\nregions:\n  - name: europe-west2\n    "
     "feeds: [uk]\n    pue: 0.9\n",
     "regions[0].pue", 5, "at least 1.0"},
    {"pue_text",
     "feeds: [{name: uk, type: carbon_intensity_uk}]\nregions:\n  - {name: europe-west2, feeds: "
     "[uk], pue: high}\n",
     "regions[0].pue", 3, "expected a number"},
    {"region_unknown_key",
     "feeds: [{name: uk, type: carbon_intensity_uk}]\nregions:\n  - {name: europe-west2, feeds: "
     "[uk], zone: GB}\n",
     "regions[0].zone", 3, "unknown key"},
    {"bad_dispatch_type", "dispatch:\n  type: kubernetes\n", "dispatch.type", 2,
     "invalid value 'kubernetes' (expected one of: vertex_ai, local, dry_run)"},
    {"vertex_without_project",
     "dispatch:\n  type: vertex_ai\n  vertex_ai:\n    credentials: auto\n",
     "dispatch.vertex_ai.project", 3, "missing required key"},
    {"vertex_without_section", "dispatch:\n  type: vertex_ai\n", "dispatch.vertex_ai.project", 2,
     "missing required key"},
    {"staging_enabled_not_bool",
     "dispatch:\n  vertex_ai:\n    staging_bucket:\n      enabled: maybe\n",
     "dispatch.vertex_ai.staging_bucket.enabled", 4, "true or false"},
    {"vertex_bad_endpoint", "dispatch:\n  vertex_ai:\n    project: p\n    endpoint: aiplatform\n",
     "dispatch.vertex_ai.endpoint", 4, "http:// or https://"},
    {"local_misspelt_workdir", "dispatch:\n  local:\n    wrokdir: /tmp/jobs\n",
     "dispatch.local.wrokdir", 3, "did you mean 'workdir'?"},
    {"dispatch_not_mapping", "dispatch: dry_run\n", "dispatch", 1, "expected a mapping"},
    {"top_level_list", "- state_dir: /x\n", "", 1, "must be a mapping"},
    {"invalid_yaml", "state_dir: /x\nscheduler:\n  tick: [60s\n  retention: 9d\n", "", 4,
     "invalid YAML"},
    {"bad_indentation", "scheduler:\n  tick: 60s\n retention: 9d\n", "", 3, "invalid YAML"},
    {"empty_file", "", "", 0, "empty"},
    {"comments_only", "# nothing here\n\n", "", 0, "empty"},
};

INSTANTIATE_TEST_SUITE_P(Malformed, ConfigBad, testing::ValuesIn(kBadCases),
                         [](const testing::TestParamInfo<BadCase>& param_info) {
                           return std::string(param_info.param.name);
                         });

TEST(ConfigBadMulti, AllErrorsAtOnceInLineOrder) {
  const std::string text = R"(state_dir: /srv/gs
log_level: loud
scheduler:
  tick: 0s
  min_gain: 2
feeds:
  - {name: uk, type: carbon_intensity_uk, poll_interval: often}
  - {name: uk, type: gcp_region_dataset}
regions:
  - {name: europe-west2, feeds: [uk, nope], pue: 0.5}
socket: {mode: "0777"}
)";
  auto config = parse_config(text, "/etc/gridshift/config.yaml", feed_schemas());
  ASSERT_FALSE(config);
  const Error& e = config.error();
  EXPECT_EQ(e.message, "/etc/gridshift/config.yaml: configuration is invalid (8 errors)");
  std::vector<std::pair<std::string, int>> got;
  for (const auto& d : e.details)
    got.emplace_back(d.field, d.line);
  EXPECT_THAT(got, ElementsAre(std::pair<std::string, int>{"log_level", 2},
                               std::pair<std::string, int>{"scheduler.tick", 4},
                               std::pair<std::string, int>{"scheduler.min_gain", 5},
                               std::pair<std::string, int>{"feeds[0].poll_interval", 7},
                               std::pair<std::string, int>{"feeds[1].name", 8},
                               std::pair<std::string, int>{"regions[0].pue", 10},
                               std::pair<std::string, int>{"regions[0].feeds[1]", 10},
                               std::pair<std::string, int>{"socket.mode", 11}))
      << all_errors(e);
}

TEST(ConfigBadMulti, SecretWrittenInFileIsNotEchoed) {
  auto config = parse_config(
      "feeds:\n  - name: em\n    type: electricitymaps\n    token: PLANTED-TOKEN-93\n"
      "    token_env: \"PLANTED TOKEN 94\"\n",
      "x.yaml", feed_schemas());
  ASSERT_FALSE(config);
  ASSERT_EQ(config.error().details.size(), 2u) << all_errors(config.error());
  EXPECT_EQ(config.error().details[0].field, "feeds[0].token");
  EXPECT_EQ(config.error().details[1].field, "feeds[0].token_env");
  EXPECT_THAT(all_errors(config.error()), Not(HasSubstr("PLANTED")));
}

class ConfigFile : public testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("gridshift-config-test-" + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigFile, LoadsAndNamesThePathInErrors) {
  const std::string good = write("good.yaml", "state_dir: /srv/x\n");
  auto config = load_config_file(good, feed_schemas());
  ASSERT_TRUE(config) << all_errors(config.error());
  EXPECT_EQ(config->state_dir, "/srv/x");

  const std::string bad = write("bad.yaml", "state_dir: /srv/x\nlog_level: noisy\n");
  auto failed = load_config_file(bad, feed_schemas());
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, bad + ": configuration is invalid (1 error)");
  ASSERT_EQ(failed.error().details.size(), 1u);
  EXPECT_EQ(failed.error().details[0].field, "log_level");
  EXPECT_EQ(failed.error().details[0].line, 2);
}

TEST_F(ConfigFile, MissingFileNamesPathAndReason) {
  const std::string missing = (dir_ / "absent.yaml").string();
  auto config = load_config_file(missing, feed_schemas());
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, "invalid_config");
  EXPECT_THAT(config.error().message, HasSubstr(missing));
  EXPECT_THAT(config.error().message, HasSubstr("No such file or directory"));
}

TEST_F(ConfigFile, DirectoryIsAnError) {
  auto config = load_config_file(dir_.string(), feed_schemas());
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, "invalid_config");
  EXPECT_THAT(config.error().message, HasSubstr(dir_.string()));
  EXPECT_THAT(config.error().message, HasSubstr("Is a directory"));
}

TEST(ConfigLimits, DefaultsAndEveryKey) {
  const Config defaults = parse_ok("state_dir: /srv/gs\n");
  EXPECT_EQ(defaults.limits.max_spec_bytes, 64u * 1024);
  EXPECT_EQ(defaults.limits.max_queued_per_user, 1000u);
  EXPECT_EQ(defaults.limits.max_connections_per_uid, 64u);
  EXPECT_EQ(defaults.dispatch.local.run_as, "owner");
  const Config set = parse_ok(
      "limits: {max_spec_bytes: 2048, max_queued_per_user: 5, max_connections_per_uid: 3}\n"
      "dispatch: {type: local, local: {run_as: gridshift-jobs}}\n");
  EXPECT_EQ(set.limits.max_spec_bytes, 2048u);
  EXPECT_EQ(set.limits.max_queued_per_user, 5u);
  EXPECT_EQ(set.limits.max_connections_per_uid, 3u);
  EXPECT_EQ(set.dispatch.local.run_as, "gridshift-jobs");
}

TEST(ConfigLimits, OutOfRangeValuesAndAbsurdDurationsNameTheKey) {
  const std::string text = R"(scheduler:
  tick: 99999d
  max_concurrent_dispatches: 2147483647
  retention: 100000d
limits:
  max_spec_bytes: 10
  max_queued_per_user: 0
  max_connections_per_uid: 1e9
  max_things: 3
dispatch: {type: local, local: {run_as: "root; rm -rf /"}}
feeds:
  - {name: uk, type: carbon_intensity_uk, poll_interval: 400d}
)";
  auto config = parse_config(text, "c.yaml", feed_schemas());
  ASSERT_FALSE(config);
  std::vector<std::pair<std::string, int>> got;
  for (const auto& d : config.error().details)
    got.emplace_back(d.field, d.line);
  EXPECT_THAT(got,
              ElementsAre(std::pair<std::string, int>{"scheduler.tick", 2},
                          std::pair<std::string, int>{"scheduler.max_concurrent_dispatches", 3},
                          std::pair<std::string, int>{"scheduler.retention", 4},
                          std::pair<std::string, int>{"limits.max_spec_bytes", 6},
                          std::pair<std::string, int>{"limits.max_queued_per_user", 7},
                          std::pair<std::string, int>{"limits.max_connections_per_uid", 8},
                          std::pair<std::string, int>{"limits.max_things", 9},
                          std::pair<std::string, int>{"dispatch.local.run_as", 10},
                          std::pair<std::string, int>{"feeds[0].poll_interval", 12}))
      << to_string(config.error());
  EXPECT_THAT(config.error().details[0].message, HasSubstr("at most 1d"));
}

}  // namespace
}  // namespace gridshift

namespace gridshift {
namespace {

// The config parser knows no feed type by name: a schema it is handed (here a test-only type,
// as a new feed folder would declare one) gets its keys, defaults, secrets and errors.
TEST(ConfigParse, AFeedTypeIsWhatItsSchemaDeclares) {
  FeedSchema schema;
  schema.type = "test_grid";
  schema.signal = SignalType::marginal;
  schema.default_base_url = "http://127.0.0.1:9";
  schema.options = {text_option("zone", "", true), flag_option("hourly", true),
                    choice_option("unit", {"g", "lbs"}, "g")};
  schema.secrets = {FeedSecret{"api_key", false}};
  FeedSchemas schemas = feed_schemas();
  schemas.push_back(&schema);

  const std::string regions = "regions:\n  - {name: europe-west2, feeds: [t]}\n";
  auto ok = parse_config(
      "feeds:\n  - {name: t, type: test_grid, zone: GB, unit: lbs, api_key_env: KEY}\n" + regions,
      "t.yaml", schemas);
  ASSERT_TRUE(ok) << all_errors(ok.error());
  const auto& feed = ok->feeds[0];
  EXPECT_EQ(feed.schema, &schema);
  EXPECT_EQ(feed.option("zone"), "GB");
  EXPECT_EQ(feed.option("hourly"), "true");  // defaulted
  EXPECT_EQ(feed.option("unit"), "lbs");
  EXPECT_EQ(feed.base_url, "http://127.0.0.1:9");
  EXPECT_EQ(feed.secrets.at("api_key").name, "KEY");
  EXPECT_EQ(feed_signal(feed), SignalType::marginal);

  auto bad = parse_config(
      "feeds:\n  - {name: t, type: test_grid, unit: kg, api_key: x, file: a.csv}\n" + regions,
      "t.yaml", schemas);
  ASSERT_FALSE(bad);
  const auto text = all_errors(bad.error());
  EXPECT_THAT(text, HasSubstr("feeds[0].zone: missing required key"));
  EXPECT_THAT(text, HasSubstr("feeds[0].unit: invalid value 'kg' (expected one of: g, lbs)"));
  EXPECT_THAT(text, HasSubstr("did you mean 'api_key_env' or 'api_key_file'?"));
  EXPECT_THAT(text, HasSubstr("feeds[0].file: not allowed for feed type 'test_grid'"));

  // Without the schema the type does not exist.
  auto unknown = parse_config("feeds:\n  - {name: t, type: test_grid}\n", "t.yaml", feed_schemas());
  ASSERT_FALSE(unknown);
  EXPECT_THAT(all_errors(unknown.error()), HasSubstr("invalid value 'test_grid'"));
}

}  // namespace
}  // namespace gridshift
