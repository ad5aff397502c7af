#include "daemon/feed_adapters.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <map>

#include "core/feed_parsers.h"
#include "core/trace.h"
#include "daemon/file_io.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;
using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;

// WattTime tokens live 30 minutes; renew a little early.
constexpr Seconds kWattTimeTokenLife = minutes(25);
// WattTime advises re-resolving coordinates at least monthly; daily is cheap.
constexpr Seconds kWattTimeRegionCacheLife = hours(24);
// How much of a replayed trace each poll writes: recent actuals and the forecast ahead.
constexpr Seconds kTraceActualWindow = hours(48);
constexpr Seconds kTraceForecastWindow = hours(72);

std::string strip_slash(std::string url) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  return url;
}

Error located(const Error& error, const std::string& feed, const std::string& location) {
  Error out = error;
  out.message = fmt::format("feed {} location {}: {}", feed, location, error.message);
  return out;
}

// Judges one HTTP exchange: the body of a 200, or an error recorded into `result` (429
// also sets retry_after so that the poller backs off as the server asks).
std::optional<std::string> body_or_error(const Result<HttpResponse>& response,
                                         const std::string& what, FetchResult& result) {
  if (!response) {
    Error e = response.error();
    e.message = fmt::format("{}: {}", what, e.message);
    result.errors.push_back(std::move(e));
    return std::nullopt;
  }
  if (response->status == 200) return response->body;
  if (response->status == 429) {
    auto header = response->header("retry-after");
    auto after = header ? parse_retry_after(*header) : std::nullopt;
    result.retry_after =
        std::max(result.retry_after.value_or(Seconds{0}), after.value_or(Seconds{0}));
    result.errors.push_back(
        make_error("feed_rate_limited",
                   fmt::format("{}: HTTP 429 (rate limited{})", what,
                               after ? fmt::format(", retry after {}s", after->count()) : "")));
    return std::nullopt;
  }
  result.errors.push_back(
      make_error("feed_http_status", fmt::format("{}: HTTP {}", what, response->status)));
  return std::nullopt;
}

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

void append(std::vector<Reading>& to, std::vector<Reading> from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

// The feed's data file, with the error naming the config field that points at it.
Result<std::string> read_feed_file(const std::string& path, const std::string& field) {
  auto text = read_text_file(path);
  if (!text) {
    return make_error("feed_file", fmt::format("cannot read {}: {}", path, text.error().message),
                      {{field, "cannot read"}});
  }
  return text;
}

std::string secret_of(const std::optional<SecretSource>& source, const ResolvedSecrets& secrets) {
  if (!source) return "";
  auto it = secrets.find(source->key);
  return it == secrets.end() ? "" : it->second.reveal();
}

// Polls every location of a feed at once (the HttpClient bounds the connections per host).
// Coroutines of one io_context thread: they share `result` without locks.
template <class Adapter>
asio::awaitable<void> fetch_all(Adapter* adapter, const FetchRequest& request,
                                FetchResult& result) {
  const auto keep_alive = adapter->shared_from_this();
  auto executor = co_await asio::this_coro::executor;
  using Op = decltype(asio::co_spawn(
      executor, adapter->fetch_location(std::string(), TimePoint{}, false, result),
      asio::deferred));
  std::vector<Op> ops;
  for (const auto& location : request.locations) {
    ops.push_back(asio::co_spawn(
        executor, adapter->fetch_location(location, request.now, request.first, result),
        asio::deferred));
  }
  if (ops.empty()) co_return;
  auto [order, failures] = co_await asio::experimental::make_parallel_group(std::move(ops))
                               .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  for (const auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
}

using Headers = std::vector<std::pair<std::string, std::string>>;

// One GET of a feed, with the feed's timeout, counted for the daily budget.
asio::awaitable<Result<HttpResponse>> feed_get(HttpClient& http, const FeedConfig& feed,
                                               std::string path_and_query, Headers headers,
                                               FetchResult& result) {
  HttpRequest req;
  req.url = strip_slash(feed.base_url) + path_and_query;
  req.headers = std::move(headers);
  req.headers.emplace_back("accept", "application/json");
  req.timeout = feed.timeout;
  ++result.calls;
  co_return co_await http.request(std::move(req));
}

// The HTTP feeds poll each location on its own: Derived::fetch_location, run concurrently.
template <class Derived>
class PerLocationAdapter : public FeedAdapter {
 public:
  asio::awaitable<FetchResult> fetch(FetchRequest request) override {
    FetchResult result;
    co_await fetch_all(static_cast<Derived*>(this), request, result);
    co_return result;
  }
};

// --- Electricity Maps ------------------------------------------------------------------
class ElectricityMapsAdapter final : public PerLocationAdapter<ElectricityMapsAdapter> {
 public:
  ElectricityMapsAdapter(const FeedConfig& feed, const ResolvedSecrets& secrets, HttpClient& http)
      : feed_(feed), token_(secret_of(feed.token, secrets)), http_(http) {}

  SignalType signal() const override { return SignalType::average; }

 private:
  std::string query(const std::string& location) const {
    std::string q;
    if (auto ll = parse_lat_lon(location)) {
      q = fmt::format("lat={}&lon={}", percent_encode(ll->lat), percent_encode(ll->lon));
    } else {
      q = "zone=" + percent_encode(location);
    }
    // Never let the API guess the place from our IP address.
    return q + "&shouldUseFallbackCallerLookup=false";
  }

  asio::awaitable<std::optional<std::string>> get(std::string path, std::string location,
                                                  FetchResult& result) {
    std::string target = fmt::format("{}?{}", path, query(location));
    if (path.find("carbon-intensity") != std::string::npos) {
      target += "&emissionFactorType=" + percent_encode(feed_.emission_factor_type);
    }
    Headers headers = {{"auth-token", token_}};
    auto response = co_await feed_get(http_, feed_, std::move(target), std::move(headers), result);
    co_return body_or_error(response, fmt::format("feed {} {} {}", feed_.name, location, path),
                            result);
  }

 public:
  // One location of a poll; run concurrently by fetch_all.
  asio::awaitable<void> fetch_location(std::string location, TimePoint now, bool first,
                                       FetchResult& result) {
    const ParseContext ctx{feed_.name, location, now};
    const std::string zone = parse_lat_lon(location) ? "" : location;
    const auto what = fmt::format("feed {} location {}", feed_.name, location);
    std::optional<Reading> latest;
    if (auto body = co_await get("/v3/carbon-intensity/latest", location, result)) {
      latest = parsed_or_error(parse_emaps_latest(*body, zone, ctx), what + " latest", result);
    }
    if (latest) {
      if (auto body = co_await get("/v3/power-breakdown/latest", location, result)) {
        auto mix = parsed_or_error(parse_emaps_power_breakdown(*body, zone),
                                   what + " power-breakdown", result);
        if (mix && mix->datetime == latest->timestamp) {
          latest->renewable_percent = mix->renewable_percent;
          latest->fossil_free_percent = mix->fossil_free_percent;
        }
      }
      result.readings.push_back(*latest);
    }
    if (first) {
      if (auto body = co_await get("/v3/carbon-intensity/history", location, result)) {
        if (auto history =
                parsed_or_error(parse_emaps_history(*body, zone, ctx), what + " history", result)) {
          // The latest point (with its power breakdown) wins over its history copy.
          std::erase_if(*history, [&](const Reading& r) {
            return latest && r.timestamp == latest->timestamp;
          });
          append(result.readings, std::move(*history));
        }
      }
    }
    if (feed_.forecast) {
      if (auto body = co_await get("/v3/carbon-intensity/forecast", location, result)) {
        if (auto fc = parsed_or_error(parse_emaps_forecast(*body, zone, ctx), what + " forecast",
                                      result)) {
          append(result.readings, std::move(*fc));
        }
      }
    }
  }

 private:
  FeedConfig feed_;
  std::string token_;
  HttpClient& http_;
};

// --- WattTime ------------------------------------------------------------------------
class WattTimeAdapter final : public PerLocationAdapter<WattTimeAdapter> {
 public:
  WattTimeAdapter(const FeedConfig& feed, const ResolvedSecrets& secrets, HttpClient& http)
      : feed_(feed),
        username_(secret_of(feed.username, secrets)),
        password_(secret_of(feed.password, secrets)),
        http_(http) {}

  SignalType signal() const override { return SignalType::marginal; }

 private:
  // Logs in once for all concurrent location polls: later callers wait for the login that is
  // under way instead of starting their own (the login route has its own, tighter quota).
  asio::awaitable<bool> login(TimePoint now, FetchResult& result) {
    if (logging_in_) {
      auto waiter = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                         asio::steady_timer::time_point::max());
      login_waiters_.push_back(waiter);
      co_await waiter->async_wait(asio::as_tuple(asio::use_awaitable));
      co_return !token_.empty();
    }
    LoginFlag flag(*this);
    Headers headers = {{"authorization", basic_auth(username_, password_)}};
    auto response = co_await feed_get(http_, feed_, "/login", std::move(headers), result);
    auto body = body_or_error(response, fmt::format("feed {} login", feed_.name), result);
    if (!body) co_return false;
    auto token = parsed_or_error(parse_watttime_login(*body),
                                 fmt::format("feed {} login", feed_.name), result);
    if (!token) co_return false;
    token_ = std::move(*token);
    token_expires_ = now + kWattTimeTokenLife;
    co_return true;
  }

  // Ends a login however it ends and wakes the polls waiting for it.
  class LoginFlag {
   public:
    explicit LoginFlag(WattTimeAdapter& adapter)
        : adapter_(adapter), keep_alive_(adapter.shared_from_this()) {
      adapter_.logging_in_ = true;
      adapter_.token_.clear();
    }
    ~LoginFlag() {
      adapter_.logging_in_ = false;
      for (auto& waiter : adapter_.login_waiters_)
        waiter->cancel();
      adapter_.login_waiters_.clear();
    }
    LoginFlag(const LoginFlag&) = delete;
    LoginFlag& operator=(const LoginFlag&) = delete;

   private:
    WattTimeAdapter& adapter_;
    std::shared_ptr<FeedAdapter> keep_alive_;
  };

  // One authorised GET; logs in first when the token is missing or old, and once more on
  // 401/403 (the token was revoked or expired early) unless another poll already renewed it.
  asio::awaitable<std::optional<std::string>> get(std::string path_and_query, std::string what,
                                                  TimePoint now, FetchResult& result) {
    if (token_.empty() || now >= token_expires_) {
      if (!co_await login(now, result)) co_return std::nullopt;
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      const std::string used = token_;
      Headers headers = {{"authorization", "Bearer " + used}};
      auto response = co_await feed_get(http_, feed_, path_and_query, std::move(headers), result);
      if (attempt == 0 && response && (response->status == 401 || response->status == 403)) {
        if (token_ == used && !co_await login(now, result)) co_return std::nullopt;
        if (token_.empty()) co_return std::nullopt;
        continue;
      }
      co_return body_or_error(response, what, result);
    }
    co_return std::nullopt;
  }

  asio::awaitable<std::optional<std::string>> region_of(std::string location, TimePoint now,
                                                        FetchResult& result) {
    auto ll = parse_lat_lon(location);
    if (!ll) co_return location;
    if (auto it = regions_.find(location); it != regions_.end() && now < it->second.second) {
      co_return it->second.first;
    }
    auto what = fmt::format("feed {} location {} region-from-loc", feed_.name, location);
    auto body = co_await get(fmt::format("/v3/region-from-loc?latitude={}&longitude={}&signal_type="
                                         "co2_moer",
                                         percent_encode(ll->lat), percent_encode(ll->lon)),
                             what, now, result);
    if (!body) co_return std::nullopt;
    auto region = parsed_or_error(parse_watttime_region(*body), what, result);
    if (region) regions_[location] = {*region, now + kWattTimeRegionCacheLife};
    co_return region;
  }

 public:
  // One location of a poll; run concurrently by fetch_all.
  asio::awaitable<void> fetch_location(std::string location, TimePoint now, bool first,
                                       FetchResult& result) {
    auto region = co_await region_of(location, now, result);
    if (!region) co_return;
    const ParseContext ctx{feed_.name, location, now};
    const auto what = fmt::format("feed {} location {}", feed_.name, location);
    const Seconds back = first ? Seconds{hours(24)} : Seconds{hours(1)};
    auto historical =
        co_await get(fmt::format("/v3/historical?region={}&start={}&end={}&signal_type=co2_moer",
                                 percent_encode(*region), percent_encode(format_rfc3339(now - back)),
                                 percent_encode(format_rfc3339(now))),
                     what + " historical", now, result);
    if (historical) {
      if (auto readings =
              parsed_or_error(parse_watttime_data(*historical, *region, ReadingKind::actual, ctx),
                              what + " historical", result)) {
        append(result.readings, std::move(*readings));
      }
    }
    auto forecast =
        co_await get(fmt::format("/v3/forecast?region={}&signal_type=co2_moer&horizon_hours=24",
                                 percent_encode(*region)),
                     what + " forecast", now, result);
    if (forecast) {
      if (auto readings =
              parsed_or_error(parse_watttime_data(*forecast, *region, ReadingKind::forecast, ctx),
                              what + " forecast", result)) {
        append(result.readings, std::move(*readings));
      }
    }
  }

 private:
  FeedConfig feed_;
  std::string username_;
  std::string password_;
  HttpClient& http_;
  std::string token_;
  TimePoint token_expires_{};
  bool logging_in_ = false;
  std::vector<std::shared_ptr<asio::steady_timer>> login_waiters_;
  std::map<std::string, std::pair<std::string, TimePoint>> regions_;
};

// --- UK Carbon Intensity -------------------------------------------------------------------
class CarbonIntensityUkAdapter final : public PerLocationAdapter<CarbonIntensityUkAdapter> {
 public:
  CarbonIntensityUkAdapter(const FeedConfig& feed, HttpClient& http) : feed_(feed), http_(http) {}

  SignalType signal() const override { return SignalType::average; }

 private:
  asio::awaitable<std::optional<std::string>> get(std::string path, std::string what,
                                                  FetchResult& result) {
    auto response = co_await feed_get(http_, feed_, std::move(path), Headers{}, result);
    co_return body_or_error(response, what, result);
  }

  // The regional API has no actuals: the forecast of the slot holding `now` stands in for
  // the current value, flagged as estimated.
  static void add_current_estimate(std::vector<Reading>& readings, TimePoint slot) {
    for (const auto& r : readings) {
      if (r.kind == ReadingKind::forecast && r.timestamp == slot) {
        Reading current = r;
        current.kind = ReadingKind::actual;
        current.issued_at = current.timestamp;
        current.estimated = true;
        readings.push_back(current);
        return;
      }
    }
  }

 public:
  // One location of a poll; run concurrently by fetch_all.
  asio::awaitable<void> fetch_location(std::string location, TimePoint now, bool /*first*/,
                                       FetchResult& result) {
    const TimePoint slot =
        TimePoint{now.time_since_epoch() - now.time_since_epoch() % Seconds{minutes(30)}};
    // The API snaps `from` to the half-hour holding it; minute precision, as it documents.
    const std::string from = format_rfc3339(slot).substr(0, 16) + "Z";
    const ParseContext ctx{feed_.name, location, now};
    const auto what = fmt::format("feed {} location {}", feed_.name, location);
    if (location == "GB" || location == "national") {
      if (auto body =
              co_await get(fmt::format("/intensity/{}/pt24h", from), what + " pt24h", result)) {
        if (auto readings =
                parsed_or_error(parse_uk_national(*body, slot, ctx), what + " pt24h", result)) {
          std::erase_if(*readings, [](const Reading& r) { return r.kind != ReadingKind::actual; });
          append(result.readings, std::move(*readings));
        }
      }
      if (auto body =
              co_await get(fmt::format("/intensity/{}/fw48h", from), what + " fw48h", result)) {
        if (auto readings =
                parsed_or_error(parse_uk_national(*body, slot, ctx), what + " fw48h", result)) {
          const bool have_actual =
              std::any_of(result.readings.begin(), result.readings.end(), [&](const Reading& r) {
                return r.location == location && r.kind == ReadingKind::actual &&
                       r.timestamp + r.step > now - Seconds{hours(1)};
              });
          if (!have_actual) add_current_estimate(*readings, slot);
          append(result.readings, std::move(*readings));
        }
      }
      co_return;
    }
    const bool is_region_id =
        !location.empty() &&
        std::all_of(location.begin(), location.end(), [](char c) { return c >= '0' && c <= '9'; });
    auto path = fmt::format("/regional/intensity/{}/fw48h/{}/{}", from,
                            is_region_id ? "regionid" : "postcode", percent_encode(location));
    if (auto body = co_await get(path, what + " regional fw48h", result)) {
      if (auto readings = parsed_or_error(parse_uk_regional(*body, slot, ctx),
                                          what + " regional fw48h", result)) {
        add_current_estimate(*readings, slot);
        append(result.readings, std::move(*readings));
      }
    }
  }

 private:
  FeedConfig feed_;
  HttpClient& http_;
};

// --- Bundled yearly GCP dataset ----------------------------------------------------------
class GcpRegionDatasetAdapter final : public FeedAdapter {
 public:
  explicit GcpRegionDatasetAdapter(const FeedConfig& feed) : feed_(feed) {}

  SignalType signal() const override { return SignalType::annual_average; }

  asio::awaitable<FetchResult> fetch(FetchRequest request) override {
    FetchResult result;
    auto text = read_feed_file(feed_.file, "file");
    if (!text) {
      result.errors.push_back(located(text.error(), feed_.name, "*"));
      co_return result;
    }
    auto rows = parse_gcp_regions_csv(*text);
    if (!rows) {
      result.errors.push_back(located(rows.error(), feed_.name, "*"));
      co_return result;
    }
    // A yearly figure stands for the whole current year: it is the always-fresh last resort.
    const auto today = std::chrono::year_month_day(std::chrono::floor<days>(request.now));
    const TimePoint year_start{std::chrono::sys_days(today.year() / 1 / 1)};
    const TimePoint next_year{
        std::chrono::sys_days((today.year() + std::chrono::years(1)) / 1 / 1)};
    for (const auto& location : request.locations) {
      auto row = std::find_if(rows->begin(), rows->end(),
                              [&](const GcpRegionRow& r) { return r.region == location; });
      if (row == rows->end()) {
        result.errors.push_back(make_error(
            "feed_unknown_location",
            fmt::format("feed {}: region {} is not in {}", feed_.name, location, feed_.file)));
        continue;
      }
      Reading r;
      r.feed = feed_.name;
      r.location = location;
      r.signal = SignalType::annual_average;
      r.kind = ReadingKind::actual;
      r.timestamp = year_start;
      r.step = next_year - year_start;
      r.gco2_per_kwh = row->grid_gco2_per_kwh;
      r.issued_at = year_start;
      r.fetched_at = request.now;
      result.readings.push_back(std::move(r));
    }
    co_return result;
  }

 private:
  FeedConfig feed_;
};

// --- Trace replay ------------------------------------------------------------------------
class TraceFileAdapter final : public FeedAdapter {
 public:
  explicit TraceFileAdapter(const FeedConfig& feed) : feed_(feed) {}

  SignalType signal() const override { return SignalType::average; }

  asio::awaitable<FetchResult> fetch(FetchRequest request) override {
    FetchResult result;
    auto actuals = load(feed_.actuals, "actuals", result);
    if (!actuals) co_return result;
    std::optional<TraceSet> forecast = actuals;
    if (!feed_.forecast_file.empty()) {
      forecast = load(feed_.forecast_file, "forecast", result);
      if (!forecast) co_return result;
    }
    for (const auto& location : request.locations) {
      replay(location, *actuals, *forecast, request.now, result);
    }
    co_return result;
  }

 private:
  std::optional<TraceSet> load(const std::string& path, const char* key, FetchResult& result) {
    auto text = read_feed_file(path, key);
    if (!text) {
      result.errors.push_back(located(text.error(), feed_.name, "*"));
      return std::nullopt;
    }
    auto traces = parse_trace_csv(*text, path);
    if (!traces) {
      Error e = traces.error();
      e.message = fmt::format("feed {}: {}", feed_.name, e.message);
      result.errors.push_back(std::move(e));
      return std::nullopt;
    }
    return std::move(*traces);
  }

  Reading reading(const std::string& location, const Point& p, ReadingKind kind, TimePoint issued,
                  TimePoint now) const {
    Reading r;
    r.feed = feed_.name;
    r.location = location;
    r.signal = SignalType::average;
    r.kind = kind;
    r.timestamp = p.start;
    r.step = p.end - p.start;
    r.gco2_per_kwh = p.gco2_per_kwh;
    r.issued_at = kind == ReadingKind::actual ? p.start : issued;
    r.fetched_at = now;
    return r;
  }

  void replay(const std::string& location, const TraceSet& actual_set, const TraceSet& forecast_set,
              TimePoint now, FetchResult& result) const {
    const auto* actuals = actual_set.find(location);
    const auto* forecast = forecast_set.find(location);
    if (actuals == nullptr && forecast == nullptr) {
      result.errors.push_back(
          make_error("feed_unknown_location",
                     fmt::format("feed {}: region {} is not in the trace", feed_.name, location)));
      return;
    }
    // The forecast snapshot is "issued" at the start of the slot holding now, so that polls
    // within one slot rewrite one snapshot instead of piling up new ones.
    static const std::vector<Point> kNone;
    TimePoint issued = now;
    for (const auto& p : actuals ? *actuals : kNone) {
      if (p.start > now) break;
      issued = p.start;
      if (p.end > now - kTraceActualWindow) {
        result.readings.push_back(reading(location, p, ReadingKind::actual, issued, now));
      }
    }
    for (const auto& p : forecast ? *forecast : kNone) {
      if (p.end > now && p.start < now + kTraceForecastWindow) {
        result.readings.push_back(reading(location, p, ReadingKind::forecast, issued, now));
      }
    }
  }

  FeedConfig feed_;
};

}  // namespace

SignalType feed_signal(FeedType type) {
  switch (type) {
    case FeedType::watttime:
      return SignalType::marginal;
    case FeedType::gcp_region_dataset:
      return SignalType::annual_average;
    default:
      return SignalType::average;
  }
}

std::string feed_location(const FeedConfig& feed, const RegionConfig& region) {
  // The bundled dataset is keyed by Google Cloud region id whatever the region's location (which
  // names the place for the live feeds); traces are keyed like the live feeds (zone codes).
  return feed.type == FeedType::gcp_region_dataset ? region.name : region.location;
}

std::string feed_location(const Config& config, const std::string& feed,
                          const RegionConfig& region) {
  const auto* f = config.find_feed(feed);
  return f ? feed_location(*f, region) : region.location;
}

std::shared_ptr<FeedAdapter> make_feed_adapter(const FeedConfig& feed,
                                               const ResolvedSecrets& secrets, HttpClient& http) {
  switch (feed.type) {
    case FeedType::electricitymaps:
      return std::make_shared<ElectricityMapsAdapter>(feed, secrets, http);
    case FeedType::watttime:
      return std::make_shared<WattTimeAdapter>(feed, secrets, http);
    case FeedType::carbon_intensity_uk:
      return std::make_shared<CarbonIntensityUkAdapter>(feed, http);
    case FeedType::gcp_region_dataset:
      return std::make_shared<GcpRegionDatasetAdapter>(feed);
    case FeedType::trace_file:
      return std::make_shared<TraceFileAdapter>(feed);
  }
  return nullptr;
}

std::optional<Seconds> parse_retry_after(const std::string& value) {
  long long seconds = 0;
  const char* begin = value.data();
  const char* end = begin + value.size();
  while (begin < end && *begin == ' ')
    ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, seconds);
  if (ec != std::errc() || ptr == begin || seconds < 0) return std::nullopt;
  return Seconds{std::min(seconds, 86400LL)};
}

std::optional<LatLon> parse_lat_lon(const std::string& location) {
  auto comma = location.find(',');
  if (comma == std::string::npos) return std::nullopt;
  LatLon out{location.substr(0, comma), location.substr(comma + 1)};
  auto numeric = [](const std::string& s) {
    double v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
  };
  if (!numeric(out.lat) || !numeric(out.lon)) return std::nullopt;
  return out;
}

}  // namespace gridshift
