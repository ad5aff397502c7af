// The feed poller: one timer loop per configured feed on the daemon's io_context. Each poll
// runs the feed's source for every location a region uses it for, upserts the readings into
// the ReadingStore and keeps the feed's health. Failures back off exponentially (capped), 429
// honours Retry-After, an optional daily call budget is respected, polls of one feed never
// overlap. Times come from the injected Clock, so tests drive poll_once() with a ManualClock.
// Single-threaded (io_context thread); the Clock, store, config and HttpClient outlive it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/config_slices.h"
#include "core/ports/clock.h"
#include "core/ports/reading_store.h"
#include "daemon/feeds/registry.h"
#include "net/http_client.h"

namespace gridshift {

struct FeedHealth {
  std::string name;
  std::string type;  // the feed's type name
  SignalType signal = SignalType::average;
  std::vector<std::string> locations;
  std::optional<TimePoint> last_success;
  std::optional<TimePoint> last_error;
  std::string last_error_code;
  std::string last_error_message;
  int consecutive_failures = 0;
  std::optional<TimePoint> next_poll;
  int calls_today = 0;
  std::chrono::sys_days budget_day{};
  bool polling = false;
  bool backfilled = false;  // the first successful poll (with history backfill) happened
  // Counters since start.
  std::uint64_t polls = 0;
  std::uint64_t failed_polls = 0;
  std::uint64_t readings_stored = 0;
  std::map<std::string, std::uint64_t> errors_by_code;

  bool failing() const { return consecutive_failures > 0; }
};

struct PollerOptions {
  Seconds backoff_base{30};      // first retry after a failure
  Seconds backoff_cap{3600};     // longest wait between failed polls
  double jitter_fraction = 0.1;  // up to +10 % of the wait, so feeds do not poll in lockstep
  std::uint64_t seed = 0;        // 0 = random seed
};

class FeedPoller {
 public:
  // Builds one source per feed of `config` that some region uses (others are not polled).
  FeedPoller(boost::asio::any_io_executor executor, const Clock& clock, ReadingStore& store,
             const ServiceConfig& config, const ResolvedSecrets& secrets, HttpClient& http,
             PollerOptions options = {});
  ~FeedPoller();
  FeedPoller(const FeedPoller&) = delete;
  FeedPoller& operator=(const FeedPoller&) = delete;

  // Spawns the timer loops (each polls at once, then on its schedule). Exceptions escaping a
  // loop are logged and rethrown to the io_context.
  void start();
  // Cancels the timers; running polls finish their current request.
  void stop();

  // Applies a reloaded configuration (SIGHUP). A feed whose settings, secrets and locations
  // are unchanged keeps its loop, schedule and health; a changed or new feed gets a fresh
  // source and polls at once; a removed feed stops after any poll in flight. Returns how many
  // feeds were (re)started.
  std::size_t reconfigure(const ServiceConfig& config, const ResolvedSecrets& secrets);

  // One poll of `feed` now, as the timer would run it (schedules next_poll). Returns an error
  // "busy" when a poll of that feed is already running, "budget_exhausted" when the daily
  // budget is used up, "not_found" for an unknown feed, or the poll's first failure.
  boost::asio::awaitable<Status> poll_once(std::string feed);

  std::vector<FeedHealth> health() const;
  const FeedHealth* find(std::string_view feed) const;

  // Called after every poll that stored readings (the scheduler re-plans on new data).
  void on_new_readings(std::function<void()> callback) { on_new_readings_ = std::move(callback); }

 private:
  // One feed: its settings, health, source and timer. Shared with the feed's loop and any
  // poll in flight, so a reload can replace it while a request is under way.
  struct Slot;
  std::vector<std::shared_ptr<Slot>> make_slots(const ServiceConfig& config,
                                                const ResolvedSecrets& secrets) const;
  std::shared_ptr<Slot> find_slot(std::string_view feed) const;
  boost::asio::awaitable<void> loop(std::shared_ptr<Slot> slot);
  boost::asio::awaitable<Status> poll_slot(std::shared_ptr<Slot> slot);
  Seconds wait_after(const Slot& slot, const FetchResult* result);
  void record_failure(FeedHealth& health, const Error& error, std::size_t error_count);
  void record_success(FeedHealth& health);

  boost::asio::any_io_executor executor_;
  const Clock& clock_;
  ReadingStore& store_;
  PollerOptions options_;
  HttpClient& http_;
  std::vector<std::shared_ptr<Slot>> slots_;
  std::mt19937_64 rng_;
  std::function<void()> on_new_readings_;
  bool stopped_ = true;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once destroyed
};

}  // namespace gridshift
