// `gridshift report --html FILE`: one self-contained page (inline CSS and SVG; no script, font
// or image fetched) showing the totals, the savings by region and by month, and for each
// finished job the window it ran in drawn on the observed intensity of its region, with the
// start it would have had at submission (the baseline) marked. Pure: JSON in, HTML out.
#pragma once

#include <cstddef>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"

namespace gridshift {

// At most this many jobs get a chart (the newest): a page stays quick to open.
inline constexpr std::size_t kHtmlReportMaxJobs = 50;

struct HtmlReportJob {
  nlohmann::json job;        // GET /v1/jobs/{id} or a list entry
  nlohmann::json intensity;  // GET /v1/regions/{name}/history, or null
};

struct HtmlReportData {
  TimePoint generated_at;
  nlohmann::json totals;     // GET /v1/report
  nlohmann::json by_region;  // GET /v1/report?group_by=region
  nlohmann::json by_month;   // GET /v1/report?group_by=month
  std::vector<HtmlReportJob> jobs;
};

// Picks the jobs a page draws: offered in submission order (as GET /v1/jobs lists them), it
// keeps the newest `limit` that ran and ended in [from, to), and hands them out newest first.
class NewestFinishedJobs {
 public:
  NewestFinishedJobs(std::optional<TimePoint> from, std::optional<TimePoint> to,
                     std::size_t limit = kHtmlReportMaxJobs)
      : from_(from), to_(to), limit_(limit) {}
  void offer(const nlohmann::json& job);
  std::vector<HtmlReportJob> take();

 private:
  std::optional<TimePoint> from_;
  std::optional<TimePoint> to_;
  std::size_t limit_;
  std::deque<HtmlReportJob> kept_;
};

std::string render_html_report(const HtmlReportData& data);

// Text made safe inside HTML elements and attribute values.
std::string html_escape(const std::string& text);

}  // namespace gridshift
