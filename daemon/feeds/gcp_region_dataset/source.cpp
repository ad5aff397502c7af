#include "daemon/feeds/gcp_region_dataset/source.h"

#include <fmt/format.h>

#include <algorithm>

#include "daemon/feeds/gcp_region_dataset/parser.h"
#include "daemon/feeds/source_support.h"

namespace gridshift {
namespace gcp_region_dataset_source {

namespace asio = boost::asio;
using namespace wire;  // NOLINT(google-build-using-namespace): the sources' own toolkit

using std::chrono::days;

class GcpRegionDatasetSource final : public FeedSource {
 public:
  explicit GcpRegionDatasetSource(const FeedConfig& feed)
      : feed_(feed), file_(feed.option("file")) {}

  SignalType signal() const override { return SignalType::annual_average; }

  asio::awaitable<FetchResult> fetch(FetchRequest request) override {
    FetchResult result;
    auto text = read_feed_file(file_, "file");
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
            fmt::format("feed {}: region {} is not in {}", feed_.name, location, file_)));
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
  std::string file_;
};

std::shared_ptr<FeedSource> make_source(const FeedConfig& feed, const ResolvedSecrets&,
                                        HttpClient&) {
  return std::make_shared<GcpRegionDatasetSource>(feed);
}

}  // namespace gcp_region_dataset_source

FeedType gcp_region_dataset_feed() {
  static const FeedSchema kSchema = [] {
    FeedSchema schema;
    schema.type = "gcp_region_dataset";
    schema.signal = SignalType::annual_average;
    schema.options = {text_option("file", "/usr/share/gridshift/gcp-regions.csv")};
    schema.keyed_by_region_name = true;
    return schema;
  }();
  return FeedType{&kSchema, gcp_region_dataset_source::make_source};
}

}  // namespace gridshift
