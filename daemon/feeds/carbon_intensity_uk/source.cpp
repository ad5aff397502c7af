#include "daemon/feeds/carbon_intensity_uk/source.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/encoding.h"
#include "daemon/feeds/carbon_intensity_uk/parser.h"
#include "daemon/feeds/source_support.h"

namespace gridshift {
namespace carbon_intensity_uk_source {

namespace asio = boost::asio;
using namespace wire;  // NOLINT(google-build-using-namespace): the sources' own toolkit

using std::chrono::hours;
using std::chrono::minutes;

class CarbonIntensityUkSource final : public PerLocationSource<CarbonIntensityUkSource> {
 public:
  CarbonIntensityUkSource(const FeedConfig& feed, HttpClient& http) : feed_(feed), http_(http) {}

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

std::shared_ptr<FeedSource> make_source(const FeedConfig& feed, const ResolvedSecrets&,
                                        HttpClient& http) {
  return std::make_shared<CarbonIntensityUkSource>(feed, http);
}

}  // namespace carbon_intensity_uk_source

FeedType carbon_intensity_uk_feed() {
  static const FeedSchema kSchema = [] {
    FeedSchema schema;
    schema.type = "carbon_intensity_uk";
    schema.signal = SignalType::average;
    schema.default_base_url = "https://api.carbonintensity.org.uk";
    return schema;
  }();
  return FeedType{&kSchema, carbon_intensity_uk_source::make_source};
}

}  // namespace gridshift
