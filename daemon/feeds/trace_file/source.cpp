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
      : feed_(feed),
        actuals_(feed.option("actuals")),
        forecast_(feed.option("forecast")),
        shift_to_now_(feed.option("shift_to") == "now") {}

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
    if (shift_to_now_) {
      // Fixed at the first poll, so the replay then moves through the trace day by day.
      if (!shift_) shift_ = whole_days_to(first_day(*actuals), request.now);
      shift_trace(*actuals, *shift_);
      if (forecast_.empty()) {
        forecast = actuals;
      } else {
        shift_trace(*forecast, *shift_);
      }
    }
    for (const auto& location : request.locations) {
      replay(location, *actuals, *forecast, request.now, result);
    }
    if (result.readings.empty() && result.errors.empty()) {
      // A trace of another year replays nothing today: say so rather than look healthy.
      result.errors.push_back(
          make_error("feed_no_data",
                     fmt::format("feed {}: 0 readings near now in {} (its rows are from {}){}",
                                 feed_.name, actuals_, format_rfc3339(first_day(*actuals)),
                                 shift_to_now_ ? ""
                                               : "; set shift_to: now to replay it as if its first "
                                                 "day were today")));
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

  static TimePoint first_day(const TraceSet& traces) {
    std::optional<TimePoint> first;
    for (const auto& [location, points] : traces.series) {
      if (!points.empty() && (!first || points.front().start < *first))
        first = points.front().start;
    }
    return std::chrono::floor<std::chrono::days>(first.value_or(TimePoint{}));
  }

  static Seconds whole_days_to(TimePoint first, TimePoint now) {
    return std::chrono::floor<std::chrono::days>(now) - first;
  }

  static void shift_trace(TraceSet& traces, Seconds by) {
    for (auto& [location, points] : traces.series) {
      for (auto& p : points) {
        p.start += by;
        p.end += by;
      }
    }
  }

  FeedConfig feed_;
  std::string actuals_;
  std::string forecast_;
  bool shift_to_now_ = false;
  std::optional<Seconds> shift_;  // set at the first poll when shift_to_now_
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
    schema.options = {text_option("actuals", "", true), text_option("forecast"),
                      choice_option("shift_to", {"now"}, "")};
    return schema;
  }();
  return FeedType{&kSchema, trace_file_source::make_source};
}

}  // namespace gridshift
