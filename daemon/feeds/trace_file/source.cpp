#include "daemon/feeds/trace_file/source.h"

#include <fmt/format.h>

#include "core/trace.h"
#include "daemon/feeds/source_support.h"

namespace gridshift {
namespace trace_file_source {

namespace asio = boost::asio;
using namespace wire;  // NOLINT(google-build-using-namespace): the sources' own toolkit

using std::chrono::hours;

// How much of a replayed trace each poll writes: recent actuals and the forecast ahead.
constexpr Seconds kTraceActualWindow = hours(48);
constexpr Seconds kTraceForecastWindow = hours(72);

class TraceFileSource final : public FeedSource {
 public:
  explicit TraceFileSource(const FeedConfig& feed)
      : feed_(feed), actuals_(feed.option("actuals")), forecast_(feed.option("forecast")) {}

  SignalType signal() const override { return SignalType::average; }

  asio::awaitable<FetchResult> fetch(FetchRequest request) override {
    FetchResult result;
    auto actuals = load(actuals_, "actuals", result);
    if (!actuals) co_return result;
    std::optional<TraceSet> forecast = actuals;
    if (!forecast_.empty()) {
      forecast = load(forecast_, "forecast", result);
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
  std::string actuals_;
  std::string forecast_;
};

std::shared_ptr<FeedSource> make_source(const FeedConfig& feed, const ResolvedSecrets&,
                                        HttpClient&) {
  return std::make_shared<TraceFileSource>(feed);
}

}  // namespace trace_file_source

FeedType trace_file_feed() {
  static const FeedSchema kSchema = [] {
    FeedSchema schema;
    schema.type = "trace_file";
    schema.signal = SignalType::average;
    schema.options = {text_option("actuals", "", true), text_option("forecast")};
    return schema;
  }();
  return FeedType{&kSchema, trace_file_source::make_source};
}

}  // namespace gridshift
