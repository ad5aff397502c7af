#include "daemon/feeds/electricitymaps/source.h"

#include <fmt/format.h>

#include <boost/asio/awaitable.hpp>

#include "daemon/feeds/electricitymaps/parser.h"
#include "daemon/feeds/source_support.h"

namespace gridshift {
namespace electricitymaps_source {

namespace asio = boost::asio;
using namespace wire;  // NOLINT(google-build-using-namespace): the sources' own toolkit

class ElectricityMapsSource final : public PerLocationSource<ElectricityMapsSource> {
 public:
  ElectricityMapsSource(const FeedConfig& feed, const ResolvedSecrets& secrets, HttpClient& http)
      : feed_(feed),
        token_(secret_of(feed, "token", secrets)),
        forecast_(feed.option("forecast") == "true"),
        emission_factor_type_(feed.option("emission_factor_type")),
        version_(feed.option("api_version")),
        http_(http) {}

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

  // `path` without its version: "/carbon-intensity/latest" is "/v4/carbon-intensity/latest"
  // by default and "/v3/..." with api_version v3 (the legacy API, same shapes).
  asio::awaitable<std::optional<std::string>> get(std::string path, std::string location,
                                                  FetchResult& result) {
    path = "/" + version_ + path;
    std::string target = fmt::format("{}?{}", path, query(location));
    if (path.find("carbon-intensity") != std::string::npos) {
      target += "&emissionFactorType=" + percent_encode(emission_factor_type_);
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
    if (auto body = co_await get("/carbon-intensity/latest", location, result)) {
      latest = parsed_or_error(parse_emaps_latest(*body, zone, ctx), what + " latest", result);
    }
    if (latest) {
      if (auto body = co_await get("/power-breakdown/latest", location, result)) {
        auto mix = parsed_or_error(parse_emaps_power_breakdown(*body, zone),
                                   what + " power-breakdown", result);
        if (mix && mix->datetime == latest->timestamp) {
          latest->renewable_percent = mix->renewable_percent;
          latest->fossil_free_percent = mix->fossil_free_percent;
          latest->consumption_mix = mix->consumption_mix;
        }
      }
      result.readings.push_back(*latest);
    }
    if (first) {
      if (auto body = co_await get("/carbon-intensity/history", location, result)) {
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
    if (forecast_) {
      if (auto body = co_await get("/carbon-intensity/forecast", location, result)) {
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
  bool forecast_ = false;
  std::string emission_factor_type_;
  std::string version_;  // "v4" or "v3"
  HttpClient& http_;
};

std::shared_ptr<FeedSource> make_source(const FeedConfig& feed, const ResolvedSecrets& secrets,
                                        HttpClient& http) {
  return std::make_shared<ElectricityMapsSource>(feed, secrets, http);
}

}  // namespace electricitymaps_source

FeedType electricitymaps_feed() {
  static const FeedSchema kSchema = [] {
    FeedSchema schema;
    schema.type = "electricitymaps";
    schema.signal = SignalType::average;
    // The current API (v4) and its host; v3 is the legacy version, served by the same host.
    schema.default_base_url = "https://api.electricitymaps.com";
    schema.options = {flag_option("forecast", false),
                      choice_option("emission_factor_type", {"lifecycle", "direct"}, "lifecycle"),
                      choice_option("api_version", {"v4", "v3"}, "v4")};
    schema.secrets = {FeedSecret{"token", false}};
    return schema;
  }();
  return FeedType{&kSchema, electricitymaps_source::make_source};
}

}  // namespace gridshift
