// Scenario benchmark of the feeds: 200 regions spread over the three HTTP feed types
// (Electricity Maps, WattTime, UK Carbon Intensity), served by the fake feed server on
// 127.0.0.1, polled concurrently by the real FeedPoller into a SQLite file. Reports the time
// of a full cycle (all three feeds polled at once, readings upserted) and the resident memory
// every N cycles, so leaks show as growth.
// Run: feeds_bench [cycles (default 10000)] [report_every (default 1000)]
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/feeds/feed_poller.h"
#include "daemon/feeds/registry.h"
#include "fakes/fake_feed_server.h"
#include "storage/sqlite/sqlite_store.h"

namespace {

namespace asio = boost::asio;
using namespace gridshift;

constexpr int kRegions = 200;

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long value = 0;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> value;
      return value;
    }
    status.ignore(1 << 12, '\n');
  }
  return -1;
}

asio::awaitable<int> poll_all(FeedPoller& poller) {
  auto executor = co_await asio::this_coro::executor;
  using Op = decltype(asio::co_spawn(executor, poller.poll_once(""), asio::deferred));
  std::vector<Op> ops;
  for (const char* feed : {"emaps", "wt", "uk"}) {
    ops.push_back(asio::co_spawn(executor, poller.poll_once(feed), asio::deferred));
  }
  auto [order, exceptions, results] =
      co_await asio::experimental::make_parallel_group(std::move(ops))
          .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  int failed = 0;
  for (const auto& r : results)
    failed += r ? 0 : 1;
  co_return failed;
}

}  // namespace

int main(int argc, char** argv) {
  const int cycles = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int report_every = argc > 2 ? std::atoi(argv[2]) : 1000;
  if (cycles < 1 || report_every < 1) {
    std::fprintf(stderr, "usage: feeds_bench [cycles >= 1] [report_every >= 1]\n");
    return 2;
  }
  const auto dir = std::filesystem::temp_directory_path() /
                   ("gridshift-feeds-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  testing::FakeFeedServer fake;
  const TimePoint now = *parse_rfc3339("2026-11-26T18:10:00Z");
  fake.set_now(now);
  std::string feeds_yaml =
      "feeds:\n"
      "  - {name: emaps, type: electricitymaps, base_url: \"" +
      fake.base_url() +
      "\", token_env: T, forecast: true}\n"
      "  - {name: wt, type: watttime, base_url: \"" +
      fake.base_url() +
      "\", username_env: U, password_env: P}\n"
      "  - {name: uk, type: carbon_intensity_uk, base_url: \"" +
      fake.base_url() + "\"}\n";
  std::string regions_yaml = "regions:\n";
  for (int i = 0; i < kRegions; ++i) {
    const auto name = "r" + std::to_string(i);
    std::string feed, location;
    switch (i % 3) {
      case 0: {
        feed = "emaps";
        location = "Z" + std::to_string(i);
        testing::FakeZone zone;
        zone.intensity = 50 + i;
        zone.renewable_percent = 40;
        zone.fossil_free_percent = 80;
        fake.set_emaps_zone(location, zone);
        break;
      }
      case 1:
        feed = "wt";
        location = "WT" + std::to_string(i);
        fake.set_watttime_region(location, 700 + i);
        break;
      default:
        feed = "uk";
        location = "PC" + std::to_string(i);  // postcodes of UK regions 1..17
        fake.set_uk_region(1 + i % 17, 100 + i % 17, location);
        break;
    }
    regions_yaml += "  - {name: " + name + ", feeds: [" + feed + "], location: " + location + "}\n";
  }
  auto config = parse_config("state_dir: " + dir.string() + "\n" + feeds_yaml + regions_yaml +
                                 "dispatch: {type: dry_run}\n",
                             "bench.yaml", feed_schemas());
  if (!config) {
    std::fprintf(stderr, "%s\n", to_string(config.error()).c_str());
    return 1;
  }
  ResolvedSecrets secrets = {{"feeds[0].token_env", Secret("emaps-token")},
                             {"feeds[1].username_env", Secret("wt-user")},
                             {"feeds[1].password_env", Secret("wt-pass")}};
  auto store = SqliteStore::open((dir / "gridshift.db").string());
  if (!store) return 1;
  asio::io_context io;
  ManualClock clock(now);
  HttpClientOptions http_options;
  http_options.max_connections_per_host = 16;
  HttpClient http(io.get_executor(), http_options);
  FeedPoller poller(io.get_executor(), clock, **store, *config, secrets, http);

  std::vector<double> times_ms;
  long first_rss = 0;
  std::printf("cycle,ms,rss_kib,readings_stored\n");
  for (int c = 1; c <= cycles; ++c) {
    const auto start = std::chrono::steady_clock::now();
    auto done = asio::co_spawn(io, poll_all(poller), asio::use_future);
    io.restart();
    io.run();
    const int failed = done.get();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (failed != 0) {
      std::fprintf(stderr, "cycle %d: %d feeds failed: %s\n", c, failed,
                   poller.health()[0].last_error_message.c_str());
      return 1;
    }
    times_ms.push_back(ms);
    if (c == 10) first_rss = rss_kib();
    if (c == 1 || c % report_every == 0) {
      std::uint64_t stored = 0;
      for (const auto& h : poller.health())
        stored += h.readings_stored;
      std::printf("%d,%.1f,%ld,%llu\n", c, ms, rss_kib(), static_cast<unsigned long long>(stored));
      std::fflush(stdout);
    }
  }
  std::sort(times_ms.begin(), times_ms.end());
  const auto pct = [&](double p) {
    return times_ms[static_cast<std::size_t>(p * static_cast<double>(times_ms.size() - 1))];
  };
  std::printf(
      "summary: %d cycles of %d regions: cycle p50 %.1f ms, p99 %.1f ms, max %.1f ms; "
      "rss after 10 cycles %ld KiB, at the end %ld KiB\n",
      cycles, kRegions, pct(0.5), pct(0.99), times_ms.back(), first_rss, rss_kib());
  std::filesystem::remove_all(dir);
  return 0;
}
