// What the feed sources share (daemon/feeds/<type>/source.cpp): one GET with the feed's
// timeout counted against its daily budget, judging an HTTP exchange (429 and Retry-After
// included), polling every location of a feed concurrently, reading a feed's data file and
// its secrets. Used on the daemon's io_context thread only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config_slices.h"
#include "common/feed_schema.h"
#include "core/ports/feed_source.h"
#include "core/result.h"
#include "net/http_client.h"

namespace gridshift {

// What a feed folder contributes to the registry (daemon/feeds/registry.cpp): its schema and
// the factory of its source. `secrets` is keyed by SecretSource::key (see resolve_secrets);
// `http` must outlive the source.
struct FeedType {
  const FeedSchema* schema = nullptr;
  std::shared_ptr<FeedSource> (*make)(const FeedConfig& feed, const ResolvedSecrets& secrets,
                                      HttpClient& http) = nullptr;
  // Values the source sends that are made from its secrets without being one of them (a Basic
  // authorization), so that the daemon scrubs them from logs and answers too; null for none.
  std::vector<std::string> (*derived_secrets)(const FeedConfig& feed,
                                              const ResolvedSecrets& secrets) = nullptr;
};

// "lat,lon" locations (Electricity Maps and WattTime accept coordinates instead of a zone).
struct LatLon {
  std::string lat;
  std::string lon;
};
std::optional<LatLon> parse_lat_lon(const std::string& location);

namespace wire {

// The error, its message prefixed with the feed and location.
Error located(const Error& error, const std::string& feed, const std::string& location);

// Judges one HTTP exchange: the body of a 200, or an error recorded into `result` (429
// also sets retry_after so that the poller backs off as the server asks).
std::optional<std::string> body_or_error(const Result<HttpResponse>& response,
                                         const std::string& what, FetchResult& result);

template <class T>
std::optional<T> parsed_or_error(Result<T> parsed, const std::string& what, FetchResult& result) {
  if (!parsed) {
    Error e = parsed.error();
    e.message = fmt::format("{}: {}", what, e.message);
    result.errors.push_back(std::move(e));
    return std::nullopt;
  }
  return std::move(*parsed);
}

void append(std::vector<Reading>& to, std::vector<Reading> from);

// The feed's data file, with the error naming the config field that points at it.
Result<std::string> read_feed_file(const std::string& path, const std::string& field);

// The resolved value of the feed's secret `base` ("token"), "" when it has none.
std::string secret_of(const FeedConfig& feed, std::string_view base,
                      const ResolvedSecrets& secrets);

using Headers = std::vector<std::pair<std::string, std::string>>;

// One GET of a feed (base_url + path_and_query), with the feed's timeout, counted for the
// daily budget.
boost::asio::awaitable<Result<HttpResponse>> feed_get(HttpClient& http, const FeedConfig& feed,
                                                      std::string path_and_query, Headers headers,
                                                      FetchResult& result);

// Polls every location of a feed at once (the HttpClient bounds the connections per host).
// Coroutines of one io_context thread: they share `result` without locks.
template <class Source>
boost::asio::awaitable<void> fetch_all(Source* source, const FetchRequest& request,
                                       FetchResult& result) {
  const auto keep_alive = source->shared_from_this();
  auto executor = co_await boost::asio::this_coro::executor;
  using Op = decltype(boost::asio::co_spawn(
      executor, source->fetch_location(std::string(), TimePoint{}, false, result),
      boost::asio::deferred));
  std::vector<Op> ops;
  for (const auto& location : request.locations) {
    ops.push_back(boost::asio::co_spawn(
        executor, source->fetch_location(location, request.now, request.first, result),
        boost::asio::deferred));
  }
  if (ops.empty()) co_return;
  auto [order, failures] =
      co_await boost::asio::experimental::make_parallel_group(std::move(ops))
          .async_wait(boost::asio::experimental::wait_for_all(), boost::asio::use_awaitable);
  for (const auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
}

// The HTTP feeds poll each location on its own: Derived::fetch_location, run concurrently.
template <class Derived>
class PerLocationSource : public FeedSource {
 public:
  boost::asio::awaitable<FetchResult> fetch(FetchRequest request) override {
    FetchResult result;
    result.polled_at = request.now;
    co_await fetch_all(static_cast<Derived*>(this), request, result);
    co_return result;
  }
};

}  // namespace wire
}  // namespace gridshift
