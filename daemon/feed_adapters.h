// Feed adapters: one per configured feed, turning a poll of the feed's locations into
// normalised readings (g/kWh, signal type, forecast issue time). HTTP feeds go through the
// shared HttpClient; parsing is done by the pure parsers of core/feed_parsers.h. Adapters live
// on the daemon's io_context thread and keep per-feed state (WattTime token, region cache).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/reading.h"
#include "core/result.h"
#include "daemon/config.h"
#include "daemon/http_client.h"

namespace gridshift {

// The outcome of one poll of one feed. Each response is all-or-nothing: a bad response adds
// an Error and contributes no readings; good responses of the same poll are kept.
struct FetchResult {
  std::vector<Reading> readings;
  std::vector<Error> errors;
  std::optional<Seconds> retry_after;  // the feed answered 429 (Retry-After, when given)
  int calls = 0;                       // HTTP requests made, for the daily budget
};

struct FetchRequest {
  std::vector<std::string> locations;  // the feed's keys of the regions that use it
  TimePoint now{};
  bool first = false;  // first poll since start: backfill history where the API allows
};

// Adapters are shared: a poll keeps its adapter alive (shared_from_this) so that frames the
// io_context destroys at shutdown never outlive it.
class FeedAdapter : public std::enable_shared_from_this<FeedAdapter> {
 public:
  virtual ~FeedAdapter() = default;
  virtual boost::asio::awaitable<FetchResult> fetch(FetchRequest request) = 0;
  // The signal type the feed delivers (for regions with no data yet).
  virtual SignalType signal() const = 0;
};

SignalType feed_signal(FeedType type);

// The key a feed stores a region's readings under: the region's `location` for the HTTP
// feeds, the region's name for the local datasets (their CSVs are keyed by GCP region id).
std::string feed_location(const FeedConfig& feed, const RegionConfig& region);
// The same by feed name (a name the config does not know maps to the region's `location`).
std::string feed_location(const Config& config, const std::string& feed,
                          const RegionConfig& region);

// `secrets` is keyed by SecretSource::key (see resolve_secrets). `http` must outlive the adapter.
std::shared_ptr<FeedAdapter> make_feed_adapter(const FeedConfig& feed,
                                               const ResolvedSecrets& secrets, HttpClient& http);

// Seconds from a Retry-After header (delta-seconds form; HTTP dates are not used by these APIs).
std::optional<Seconds> parse_retry_after(const std::string& value);

// "lat,lon" locations (Electricity Maps and WattTime accept coordinates instead of a zone).
struct LatLon {
  std::string lat;
  std::string lon;
};
std::optional<LatLon> parse_lat_lon(const std::string& location);

}  // namespace gridshift
