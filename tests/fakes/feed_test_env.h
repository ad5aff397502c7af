// Test support for the feeds: a temp database, a ManualClock, the fake feed server, a config
// built from YAML text pointing at the fake, and a FeedPoller whose polls run synchronously on
// a private io_context (poll() drives one poll_once to completion). Single-threaded test use.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "common/logging.h"
#include "core/ports/clock.h"
#include "daemon/config/config.h"
#include "daemon/feeds/feed_poller.h"
#include "daemon/feeds/registry.h"
#include "fakes/fake_feed_server.h"
#include "net/http_client.h"
#include "storage/sqlite/sqlite_store.h"
#include "support/process.h"

namespace gridshift::testing {

inline const TimePoint kFeedTestStart =
    TimePoint{std::chrono::sys_days(std::chrono::year(2026) / 11 / 26)} + std::chrono::hours(18) +
    std::chrono::minutes(10);

// Runs `op` to completion on `io` and returns its value.
template <class T>
T run_on(boost::asio::io_context& io, boost::asio::awaitable<T> op) {
  auto future = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
  io.restart();
  io.run();
  return future.get();
}

// Collects what the "feeds" logger writes while alive.
class FeedLogCapture {
 public:
  FeedLogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)) {
    logger_ = subsystem_logger("feeds");
    logger_->sinks().push_back(sink_);
  }
  ~FeedLogCapture() {
    auto& sinks = logger_->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  int count(const std::string& needle) const {
    const auto text = text_.str();
    int n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
      ++n;
    return n;
  }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> logger_;
};

class FeedTestEnv {
 public:
  FeedTestEnv() : clock_(kFeedTestStart) {
    fake_.set_now(kFeedTestStart);
    auto store = SqliteStore::open((dir_ / "gridshift.db").string());
    if (!store) throw std::runtime_error(to_string(store.error()));
    store_ = std::move(*store);
  }

  // `feeds_and_regions` is YAML with `feeds:` and `regions:`; "{BASE}" becomes the fake's URL.
  void configure(std::string feeds_and_regions, HttpClientOptions http_options = {}) {
    for (auto pos = feeds_and_regions.find("{BASE}"); pos != std::string::npos;
         pos = feeds_and_regions.find("{BASE}")) {
      feeds_and_regions.replace(pos, 6, fake_.base_url());
    }
    const std::string text = "state_dir: " + dir_.path().string() + "\n" + feeds_and_regions +
                             "dispatch: {type: dry_run}\n";
    auto config = parse_config(text, "test.yaml", feed_schemas());
    if (!config) throw std::runtime_error(to_string(config.error()));
    config_ = std::move(*config);
    const std::map<std::string, std::string> env = {
        {"EM_TOKEN", "emaps-token"}, {"WT_USER", "wt-user"}, {"WT_PASS", "wt-pass"}};
    auto secrets = resolve_secrets(
        config_,
        [&env](const std::string& name) -> std::optional<std::string> {
          auto it = env.find(name);
          if (it == env.end()) return std::nullopt;
          return it->second;
        },
        "");
    if (!secrets) throw std::runtime_error(to_string(secrets.error()));
    secrets_ = std::move(*secrets);
    poller_.reset();
    http_ = std::make_unique<HttpClient>(io_.get_executor(), http_options);
    PollerOptions options;
    options.seed = 42;
    poller_ = std::make_unique<FeedPoller>(io_.get_executor(), clock_, *store_, config_, secrets_,
                                           *http_, options);
  }

  Status poll(const std::string& feed) { return run_on(io_, poller_->poll_once(feed)); }

  void advance(Seconds d) {
    clock_.advance(d);
    fake_.set_now(clock_.now());
  }

  const FeedHealth& health(const std::string& feed) const { return *poller_->find(feed); }
  std::optional<Reading> latest(const std::string& feed, const std::string& location) {
    return store_->latest_actual(feed, location).value();
  }

  TempDir dir_;
  FakeFeedServer fake_;
  ManualClock clock_;
  std::unique_ptr<SqliteStore> store_;
  boost::asio::io_context io_;
  Config config_;
  ResolvedSecrets secrets_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<FeedPoller> poller_;
};

}  // namespace gridshift::testing
