// The FeedSource port: one configured feed, polled for all the locations that use it and
// answering normalised readings (g/kWh, signal type, forecast issue time). Sources live on
// the daemon's io_context thread and may keep per-feed state (a login token, a region cache).
// The implementations are the feed folders under daemon/feeds/.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/reading.h"
#include "core/result.h"

namespace gridshift {

// The outcome of one poll of one feed. Each response is all-or-nothing: a bad response adds
// an Error and contributes no readings; good responses of the same poll are kept.
struct FetchResult {
  std::vector<Reading> readings;
  std::vector<Error> errors;
  std::optional<Seconds> retry_after;  // the feed answered 429 (Retry-After, when given)
  int calls = 0;                       // HTTP requests made, for the daily budget
  TimePoint polled_at{};               // the poll's `now`: Retry-After dates are judged by it
};

struct FetchRequest {
  std::vector<std::string> locations;  // the feed's keys of the regions that use it
  TimePoint now{};
  bool first = false;  // first poll since start: backfill history where the API allows
};

// Sources are shared: a poll keeps its source alive (shared_from_this) so that frames the
// io_context destroys at shutdown never outlive it.
class FeedSource : public std::enable_shared_from_this<FeedSource> {
 public:
  virtual ~FeedSource() = default;
  virtual boost::asio::awaitable<FetchResult> fetch(FetchRequest request) = 0;
  // The signal type the feed delivers (for regions with no data yet).
  virtual SignalType signal() const = 0;
};

}  // namespace gridshift
