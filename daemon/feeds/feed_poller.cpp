#include "daemon/feeds/feed_poller.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>

#include "common/logging.h"
#include "common/spawn.h"
#include "core/backoff.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;

// Resets `flag` when a poll ends, however it ends. At shutdown the io_context may destroy a
// suspended poll after the poller: `alive` says whether `flag` still exists.
class PollingFlag {
 public:
  PollingFlag(bool& flag, std::shared_ptr<bool> alive) : flag_(flag), alive_(std::move(alive)) {
    flag_ = true;
  }
  ~PollingFlag() {
    if (*alive_) flag_ = false;
  }
  PollingFlag(const PollingFlag&) = delete;
  PollingFlag& operator=(const PollingFlag&) = delete;

 private:
  bool& flag_;
  std::shared_ptr<bool> alive_;
};

TimePoint next_utc_midnight(TimePoint now) {
  return TimePoint{std::chrono::floor<std::chrono::days>(now) + std::chrono::days(1)};
}

}  // namespace

struct FeedPoller::Slot {
  Slot(FeedConfig feed, FeedHealth h, std::shared_ptr<FeedSource> a,
       const asio::any_io_executor& executor)
      : config(std::move(feed)), health(std::move(h)), source(std::move(a)), timer(executor) {}

  FeedConfig config;
  FeedHealth health;
  std::shared_ptr<FeedSource> source;
  asio::steady_timer timer;
  std::vector<std::string> secret_values;  // what the source was built with, to spot rotation
  bool retired = false;                    // replaced or removed by a reload
};

namespace {

std::vector<std::string> secret_values(const FeedConfig& feed, const ResolvedSecrets& secrets) {
  std::vector<std::string> values;
  for (const auto& [base, source] : feed.secrets) {
    auto it = secrets.find(source.key);
    values.push_back(it == secrets.end() ? std::string() : it->second.reveal());
  }
  return values;
}

}  // namespace

FeedPoller::FeedPoller(asio::any_io_executor executor, const Clock& clock, ReadingStore& store,
                       const ServiceConfig& config, const ResolvedSecrets& secrets,
                       HttpClient& http, PollerOptions options)
    : executor_(std::move(executor)),
      clock_(clock),
      store_(store),
      options_(options),
      http_(http),
      rng_(options.seed != 0 ? options.seed : std::random_device{}()) {
  slots_ = make_slots(config, secrets);
}

std::vector<std::shared_ptr<FeedPoller::Slot>> FeedPoller::make_slots(
    const ServiceConfig& config, const ResolvedSecrets& secrets) const {
  std::vector<std::shared_ptr<Slot>> slots;
  for (const auto& feed : config.feeds) {
    FeedHealth health;
    health.name = feed.name;
    health.type = std::string(feed.type());
    health.signal = feed_signal(feed);
    for (const auto& region : config.regions) {
      const auto location = feed_location(feed, region);
      if (std::find(region.feeds.begin(), region.feeds.end(), feed.name) != region.feeds.end() &&
          std::find(health.locations.begin(), health.locations.end(), location) ==
              health.locations.end()) {
        health.locations.push_back(location);
      }
    }
    auto slot = std::make_shared<Slot>(feed, std::move(health),
                                       make_feed_source(feed, secrets, http_), executor_);
    slot->secret_values = secret_values(feed, secrets);
    slots.push_back(std::move(slot));
  }
  return slots;
}

FeedPoller::~FeedPoller() {
  *alive_ = false;
}

std::vector<FeedHealth> FeedPoller::health() const {
  std::vector<FeedHealth> out;
  out.reserve(slots_.size());
  for (const auto& slot : slots_)
    out.push_back(slot->health);
  return out;
}

std::shared_ptr<FeedPoller::Slot> FeedPoller::find_slot(std::string_view feed) const {
  auto it = std::find_if(slots_.begin(), slots_.end(),
                         [&](const auto& slot) { return slot->config.name == feed; });
  return it == slots_.end() ? nullptr : *it;
}

const FeedHealth* FeedPoller::find(std::string_view feed) const {
  auto slot = find_slot(feed);
  return slot ? &slot->health : nullptr;
}

void FeedPoller::start() {
  stopped_ = false;
  for (const auto& slot : slots_) {
    if (slot->health.locations.empty()) continue;  // no region uses it
    spawn(executor_, loop(slot), "feeds", "feed poller", OnFailure::stop);
  }
}

void FeedPoller::stop() {
  stopped_ = true;
  for (auto& slot : slots_)
    slot->timer.cancel();
}

std::size_t FeedPoller::reconfigure(const ServiceConfig& config, const ResolvedSecrets& secrets) {
  auto log = subsystem_logger("feeds");
  auto fresh = make_slots(config, secrets);
  std::size_t restarted = 0;
  for (auto& slot : fresh) {
    auto old = find_slot(slot->config.name);
    if (old && old->config.position_free() == slot->config.position_free() &&
        old->secret_values == slot->secret_values &&
        old->health.locations == slot->health.locations) {
      slot = old;  // unchanged: keeps its loop, schedule and health
      continue;
    }
    log->info("feed {}: {} by the reload", slot->config.name, old ? "changed" : "added");
    if (!stopped_ && !slot->health.locations.empty()) {
      spawn(executor_, loop(slot), "feeds", "feed poller", OnFailure::stop);
      ++restarted;
    }
  }
  for (auto& old : slots_) {
    if (std::find(fresh.begin(), fresh.end(), old) != fresh.end()) continue;
    const bool kept_name = std::any_of(fresh.begin(), fresh.end(), [&](const auto& slot) {
      return slot->config.name == old->config.name;
    });
    if (!kept_name) {
      log->info("feed {}: removed by the reload", old->config.name);
    }
    old->retired = true;
    old->timer.cancel();
  }
  slots_ = std::move(fresh);
  return restarted;
}

asio::awaitable<void> FeedPoller::loop(std::shared_ptr<Slot> slot) {
  while (!stopped_ && !slot->retired) {
    co_await poll_slot(slot);
    if (stopped_ || slot->retired) co_return;
    const auto now = clock_.now();
    const auto due = slot->health.next_poll.value_or(now + slot->config.poll_interval);
    slot->timer.expires_after(clock_.real_wait(std::max(Seconds{0}, due - now)));
    auto [ec] = co_await slot->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
  }
}

asio::awaitable<Status> FeedPoller::poll_once(std::string feed) {
  auto slot = find_slot(feed);
  if (!slot) co_return make_error(errc::kNotFound, fmt::format("no feed '{}'", feed));
  co_return co_await poll_slot(std::move(slot));
}

asio::awaitable<Status> FeedPoller::poll_slot(std::shared_ptr<Slot> slot) {
  auto& health = slot->health;
  const auto& config = slot->config;
  const std::string& feed = config.name;
  auto log = subsystem_logger("feeds");
  if (health.polling) {
    co_return make_error("busy", fmt::format("feed {} is being polled", feed));
  }

  const auto now = clock_.now();
  const auto today = std::chrono::floor<std::chrono::days>(now);
  if (today != health.budget_day) {
    health.budget_day = today;
    health.calls_today = 0;
  }
  if (config.daily_budget && health.calls_today >= *config.daily_budget) {
    health.next_poll = next_utc_midnight(now);
    co_return make_error(
        "budget_exhausted",
        fmt::format("feed {} used its daily budget of {} calls", feed, *config.daily_budget));
  }

  FetchResult result;
  {
    PollingFlag flag(health.polling, alive_);
    // A named request: GCC 12 destroys aggregate temporaries in co_await expressions twice.
    FetchRequest request{health.locations, now, !health.backfilled};
    // The slot's own source: a reload during the request does not pull it away.
    result = co_await slot->source->fetch(std::move(request));
  }
  health.calls_today += result.calls;
  ++health.polls;

  if (!result.readings.empty()) {
    auto stored = store_.upsert(result.readings);
    if (!stored) {
      Error e = stored.error();
      e.message = fmt::format("feed {}: storing readings failed: {}", feed, e.message);
      result.errors.push_back(std::move(e));
    } else {
      health.readings_stored += *stored;
      health.backfilled = true;
      if (on_new_readings_) on_new_readings_();
    }
  }

  Status status;
  if (result.errors.empty()) {
    record_success(health);
  } else {
    record_failure(health, result.errors.front(), result.errors.size());
    for (const auto& e : result.errors)
      ++health.errors_by_code[e.code];
    status = result.errors.front();
  }
  health.next_poll = now + wait_after(*slot, &result);
  if (config.daily_budget && health.calls_today >= *config.daily_budget) {
    health.next_poll = std::max(*health.next_poll, next_utc_midnight(now));
  }
  log->debug("feed {} polled: {} readings, {} errors, {} calls today, next poll {}", feed,
             result.readings.size(), result.errors.size(), health.calls_today,
             format_rfc3339(*health.next_poll));
  co_return status;
}

void FeedPoller::record_success(FeedHealth& health) {
  if (health.consecutive_failures > 0) {
    subsystem_logger("feeds")->info("feed {} recovered after {} failed polls", health.name,
                                    health.consecutive_failures);
  }
  health.consecutive_failures = 0;
  health.last_success = clock_.now();
}

void FeedPoller::record_failure(FeedHealth& health, const Error& error, std::size_t error_count) {
  auto log = subsystem_logger("feeds");
  // Logged once per episode: the first failure warns, repeats only show at debug level.
  const auto more = error_count > 1 ? fmt::format(" (and {} more errors)", error_count - 1) : "";
  if (health.consecutive_failures == 0) {
    log->warn("feed {} failing: {}{}; serving cached data and retrying with back-off", health.name,
              error.message, more);
  } else {
    log->debug("feed {} still failing ({} polls): {}{}", health.name,
               health.consecutive_failures + 1, error.message, more);
  }
  ++health.consecutive_failures;
  ++health.failed_polls;
  health.last_error = clock_.now();
  health.last_error_code = error.code;
  health.last_error_message = error.message;
}

Seconds FeedPoller::wait_after(const Slot& slot, const FetchResult* result) {
  const auto& config = slot.config;
  const auto& health = slot.health;
  Seconds wait = config.poll_interval;
  if (health.consecutive_failures > 0) {
    const Backoff backoff{options_.backoff_base, options_.backoff_cap};
    wait = std::chrono::duration_cast<Seconds>(backoff.ceiling(health.consecutive_failures - 1));
    if (result != nullptr && result->retry_after) wait = std::max(wait, *result->retry_after);
  } else if (config.daily_budget && result != nullptr && result->calls > 0) {
    // Spread the budget over the day: never poll faster than it allows.
    const auto polls_per_day = std::max(1, *config.daily_budget / result->calls);
    wait = std::max(wait, Seconds{86400 / polls_per_day});
  }
  std::uniform_real_distribution<double> jitter(0.0, options_.jitter_fraction);
  const auto extra = static_cast<long long>(static_cast<double>(wait.count()) * jitter(rng_));
  // Retry-After is a floor: jitter only ever adds.
  return wait + Seconds{extra};
}

}  // namespace gridshift
