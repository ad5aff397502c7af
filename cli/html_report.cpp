#include "cli/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "cli/format.h"

namespace gridshift {
namespace {

using Json = nlohmann::json;

std::optional<TimePoint> time_field(const Json& object, const char* key) {
  const auto value = object.value(key, Json());
  if (!value.is_string()) return std::nullopt;
  auto t = parse_rfc3339(value.get<std::string>());
  if (!t) return std::nullopt;
  return *t;
}

std::string grams_of(const Json& object, const char* key) {
  return html_escape(format_grams(object.value(key, Json())));
}

std::string percent_of(const Json& object, const char* key) {
  const auto v = object.value(key, Json());
  return v.is_number() ? fmt::format("{:.1f} %", v.get<double>() * 100.0) : "-";
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1d2b24;background:#fbfcfa}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2rem 0 .5rem}
.muted{color:#5f6f66}.totals{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.card{background:#fff;border:1px solid #d8e2dc;border-radius:8px;padding:.75rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}table{border-collapse:collapse;margin:.5rem 0}
td,th{padding:.25rem .75rem;border-bottom:1px solid #e3e9e5;text-align:right}
td:first-child,th:first-child{text-align:left}.job{background:#fff;border:1px solid #d8e2dc;
border-radius:8px;padding:.5rem 1rem;margin:.75rem 0}.job h3{font-size:1rem;margin:.25rem 0}
.legend span{margin-right:1rem}.swatch{display:inline-block;width:.8rem;height:.8rem;
vertical-align:middle;margin-right:.3rem}
)";

// A bar per group: saved grams (green) beside the emitted grams (grey), as a table with bars.
std::string groups_section(const std::string& title, const Json& report) {
  const auto groups = report.value("groups", Json::array());
  std::string out = "<h2>" + html_escape(title) + "</h2>\n";
  if (groups.empty()) return out + "<p class=\"muted\">No finished job with figures yet.</p>\n";
  double top = 0;
  for (const auto& g : groups)
    top = std::max(top,
                   g.value("baseline_g", Json()).is_number() ? g["baseline_g"].get<double>() : 0.0);
  out +=
      "<table><tr><th></th><th>jobs</th><th>emitted</th><th>baseline</th><th>saved</th>"
      "<th></th></tr>\n";
  for (const auto& g : groups) {
    const double emitted =
        g.value("emissions_g", Json()).is_number() ? g["emissions_g"].get<double>() : 0;
    const double baseline =
        g.value("baseline_g", Json()).is_number() ? g["baseline_g"].get<double>() : 0;
    const double scale = top > 0 ? 240.0 / top : 0;
    const double saved_width = std::max(0.0, (baseline - emitted) * scale);
    out += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>"
        "<svg width=\"250\" height=\"14\" role=\"img\" aria-label=\"emitted and saved\">"
        "<rect x=\"0\" y=\"1\" width=\"{:.1f}\" height=\"12\" fill=\"#9aa8a0\"/>"
        "<rect x=\"{:.1f}\" y=\"1\" width=\"{:.1f}\" height=\"12\" fill=\"#2f9e5b\"/></svg>"
        "</td></tr>\n",
        html_escape(g.value("key", std::string("-"))), g.value("jobs_accounted", 0),
        grams_of(g, "emissions_g"), grams_of(g, "baseline_g"), grams_of(g, "saved_g"),
        percent_of(g, "savings"), emitted * scale, emitted * scale, saved_width);
  }
  return out +
         "</table>\n<p class=\"legend muted\"><span><i class=\"swatch\" "
         "style=\"background:#9aa8a0\"></i>emitted</span><span><i class=\"swatch\" "
         "style=\"background:#2f9e5b\"></i>saved against starting at submission</span></p>\n";
}

// One job: its region's observed intensity from submission to the end as a step line, the run
// shaded, the submission (where the baseline would have run) and the deadline marked.
std::string job_chart(const HtmlReportJob& entry) {
  const Json& job = entry.job;
  const auto submitted = time_field(job, "submitted_at");
  const auto started = time_field(job, "started_at");
  const auto finished = time_field(job, "finished_at");
  const auto deadline = time_field(job, "deadline");
  const Json accounting = job.value("accounting", Json::object());
  std::string out = fmt::format(
      "<div class=\"job\"><h3>{} <span class=\"muted\">{} &middot; {} &middot; {}</span></h3>\n"
      "<p>emitted {} against {} at submission (saved {}){}</p>\n",
      html_escape(job.value("name", std::string())), html_escape(job.value("id", std::string())),
      html_escape(job.value("region", std::string())),
      html_escape(job.value("state", std::string())), grams_of(accounting, "actual_g"),
      grams_of(accounting, "baseline_g"), percent_of(accounting, "savings"),
      job.value("segments", Json::array()).size() > 1
          ? fmt::format(", in {} segments", job["segments"].size())
          : std::string());
  if (!submitted || !started || !finished) return out + "</div>\n";
  const auto points =
      entry.intensity.is_object() ? entry.intensity.value("points", Json::array()) : Json::array();
  TimePoint from = std::min(*submitted, *started);
  TimePoint to = std::max(*finished, deadline.value_or(*finished));
  double top = 0;
  for (const auto& p : points)
    top = std::max(top, p.value("intensity", 0.0));
  if (top <= 0) top = 1;
  constexpr double kWidth = 720, kHeight = 160, kLeft = 48, kBottom = 22, kTop = 8;
  const double span = std::max(1.0, static_cast<double>((to - from).count()));
  const auto x = [&](TimePoint t) {
    const double at = static_cast<double>((std::clamp(t, from, to) - from).count());
    return kLeft + at / span * (kWidth - kLeft - 8);
  };
  const auto y = [&](double v) { return kTop + (1.0 - v / top) * (kHeight - kTop - kBottom); };
  std::string path;
  for (const auto& p : points) {
    const auto start = time_field(p, "start");
    const auto end = time_field(p, "end");
    if (!start || !end || *end <= from || *start >= to) continue;
    const double v = p.value("intensity", 0.0);
    path += fmt::format("{}{:.1f},{:.1f} L{:.1f},{:.1f} ", path.empty() ? "M" : "L", x(*start),
                        y(v), x(*end), y(v));
  }
  // The run shaded: each segment of an interruptible job, else the one run.
  std::vector<std::pair<TimePoint, TimePoint>> runs;
  for (const auto& segment : job.value("segments", Json::array())) {
    const auto start = time_field(segment, "start");
    auto end = time_field(segment, "finished_at");
    if (!end) end = time_field(segment, "end");
    if (start && end && *end > *start) runs.emplace_back(*start, std::min(*end, *finished));
  }
  if (runs.empty()) runs.emplace_back(*started, *finished);
  out += fmt::format(
      "<svg width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\" "
      "aria-label=\"intensity and the run window\">\n",
      kWidth, kHeight);
  for (const auto& [start, end] : runs) {
    out += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#cdeed8\"/>\n", x(start),
        kTop, std::max(1.0, x(end) - x(start)), kHeight - kTop - kBottom);
  }
  if (!path.empty()) {
    out += "<path d=\"" + path + "\" fill=\"none\" stroke=\"#3b6e8f\" stroke-width=\"1.5\"/>\n";
  } else {
    out += fmt::format(
        "<text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#5f6f66\">no readings "
        "stored for this period</text>\n",
        kLeft + 10, kHeight / 2);
  }
  out += fmt::format(
      "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#b3541e\" "
      "stroke-dasharray=\"4 3\"/><text x=\"{3:.1f}\" y=\"{4}\" font-size=\"11\" "
      "fill=\"#b3541e\">submitted (baseline start)</text>\n",
      x(*submitted), kTop, kHeight - kBottom, x(*submitted) + 3, kTop + 10);
  if (deadline) {
    out += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#7a1f3d\"/>"
        "<text x=\"{3:.1f}\" y=\"{4}\" font-size=\"11\" fill=\"#7a1f3d\" "
        "text-anchor=\"end\">deadline</text>\n",
        x(*deadline), kTop, kHeight - kBottom, x(*deadline) - 3, kTop + 10);
  }
  out += fmt::format(
      "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#9aa8a0\"/>"
      "<text x=\"4\" y=\"{3:.1f}\" font-size=\"11\">{4:.0f}</text>"
      "<text x=\"4\" y=\"{2}\" font-size=\"11\">0</text>"
      "<text x=\"{0}\" y=\"{5}\" font-size=\"11\">{6}</text>"
      "<text x=\"{1}\" y=\"{5}\" font-size=\"11\" text-anchor=\"end\">{7}</text>\n</svg>\n",
      kLeft, kWidth - 8, kHeight - kBottom, kTop + 10, top, kHeight - 6,
      html_escape(format_local_time(from)), html_escape(format_local_time(to)));
  return out + "</div>\n";
}

}  // namespace

void NewestFinishedJobs::offer(const Json& job) {
  const auto finished = time_field(job, "finished_at");
  if (!finished || !time_field(job, "started_at") || !job.value("region", Json()).is_string() ||
      (from_ && *finished < *from_) || (to_ && *finished >= *to_)) {
    return;
  }
  kept_.push_back({job, Json()});
  if (kept_.size() > limit_) kept_.pop_front();
}

std::vector<HtmlReportJob> NewestFinishedJobs::take() {
  std::vector<HtmlReportJob> out(kept_.rbegin(), kept_.rend());
  kept_.clear();
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_html_report(const HtmlReportData& data) {
  const Json& t = data.totals;
  const Json jobs = t.value("jobs", Json::object());
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>gridshift report</title>\n<style>{}</style></head><body>\n"
      "<h1>gridshift report</h1>\n<p class=\"muted\">generated {}; gCO2e, location-based, against "
      "starting each job at submission in its first region</p>\n"
      "<div class=\"totals\">"
      "<div class=\"card\">jobs<b>{}</b></div>"
      "<div class=\"card\">emitted<b>{}</b></div>"
      "<div class=\"card\">baseline<b>{}</b></div>"
      "<div class=\"card\">saved<b>{}</b>{}</div>"
      "<div class=\"card\">energy<b>{}</b></div></div>\n",
      kStyle, html_escape(format_local_time(data.generated_at)),
      jobs.value("total", Json()).is_number() ? jobs["total"].dump() : "-",
      grams_of(t, "emissions_g"), grams_of(t, "baseline_g"), grams_of(t, "saved_g"),
      percent_of(t, "savings"),
      t.value("energy_kwh", Json()).is_number()
          ? fmt::format("{:.2f} kWh", t["energy_kwh"].get<double>())
          : "-");
  const Json failed = t.value("failed_or_cancelled", Json::object());
  if (failed.value("jobs_accounted", 0) > 0) {
    out +=
        fmt::format("<p>Failed or cancelled runs: {} jobs emitted {} (no savings counted).</p>\n",
                    failed.value("jobs_accounted", 0), grams_of(failed, "emissions_g"));
  }
  out += groups_section("Savings by region", data.by_region);
  out += groups_section("Savings by month", data.by_month);
  out +=
      "<h2>Jobs</h2>\n<p class=\"legend muted\"><span><i class=\"swatch\" "
      "style=\"background:#cdeed8\"></i>the run</span><span><i class=\"swatch\" "
      "style=\"background:#3b6e8f\"></i>observed intensity (gCO2e/kWh)</span><span><i "
      "class=\"swatch\" style=\"background:#b3541e\"></i>submission: where the baseline "
      "starts</span></p>\n";
  if (data.jobs.empty()) out += "<p class=\"muted\">No finished job yet.</p>\n";
  for (const auto& entry : data.jobs)
    out += job_chart(entry);
  return out + "</body></html>\n";
}

}  // namespace gridshift
