#include "daemon/feeds/watttime/source.h"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>

#include "core/encoding.h"
#include "daemon/feeds/source_support.h"
#include "daemon/feeds/watttime/parser.h"

namespace gridshift {
namespace watttime_source {

namespace asio = boost::asio;
using namespace wire;  // NOLINT(google-build-using-namespace): the sources' own toolkit

using std::chrono::hours;
using std::chrono::minutes;

// WattTime tokens live 30 minutes; renew a little early.
constexpr Seconds kWattTimeTokenLife = minutes(25);
// WattTime advises re-resolving coordinates at least monthly; daily is cheap.
constexpr Seconds kWattTimeRegionCacheLife = hours(24);

class WattTimeSource final : public PerLocationSource<WattTimeSource> {
 public:
  WattTimeSource(const FeedConfig& feed, const ResolvedSecrets& secrets, HttpClient& http)
      : feed_(feed),
        username_(secret_of(feed, "username", secrets)),
        password_(secret_of(feed, "password", secrets)),
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
    explicit LoginFlag(WattTimeSource& source)
        : source_(source), keep_alive_(source.shared_from_this()) {
      source_.logging_in_ = true;
      source_.token_.clear();
    }
    ~LoginFlag() {
      source_.logging_in_ = false;
      for (auto& waiter : source_.login_waiters_)
        waiter->cancel();
      source_.login_waiters_.clear();
    }
    LoginFlag(const LoginFlag&) = delete;
    LoginFlag& operator=(const LoginFlag&) = delete;

   private:
    WattTimeSource& source_;
    std::shared_ptr<FeedSource> keep_alive_;
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
    auto historical = co_await get(
        fmt::format("/v3/historical?region={}&start={}&end={}&signal_type=co2_moer",
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

std::shared_ptr<FeedSource> make_source(const FeedConfig& feed, const ResolvedSecrets& secrets,
                                        HttpClient& http) {
  return std::make_shared<WattTimeSource>(feed, secrets, http);
}

// The Basic authorization the login sends is as secret as the password it holds.
std::vector<std::string> derived_secrets(const FeedConfig& feed, const ResolvedSecrets& secrets) {
  const auto username = secret_of(feed, "username", secrets);
  const auto password = secret_of(feed, "password", secrets);
  if (username.empty() || password.empty()) return {};
  return {base64_encode(username + ":" + password)};
}

}  // namespace watttime_source

FeedType watttime_feed() {
  static const FeedSchema kSchema = [] {
    FeedSchema schema;
    schema.type = "watttime";
    schema.signal = SignalType::marginal;
    schema.default_base_url = "https://api.watttime.org";
    schema.secrets = {FeedSecret{"username", true}, FeedSecret{"password", false}};
    return schema;
  }();
  return FeedType{&kSchema, watttime_source::make_source, watttime_source::derived_secrets};
}

}  // namespace gridshift
