#include "cli/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

namespace gridshift {
namespace {

std::string str(const nlohmann::json& v, const std::string& fallback = "-") {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return fallback;
  return v.dump();
}

std::optional<TimePoint> time_of(const nlohmann::json& v) {
  if (!v.is_string()) return std::nullopt;
  auto t = parse_rfc3339(v.get<std::string>());
  if (!t) return std::nullopt;
  return *t;
}

std::string intensity_text(const nlohmann::json& v) {
  if (!v.is_number()) return "-";
  return fmt::format("{:.0f} gCO2e/kWh", v.get<double>());
}

// Left-aligned columns, two spaces apart, widths from the content.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string percent(const nlohmann::json& fraction) {
  if (!fraction.is_number()) return "-";
  return fmt::format("{:.1f} %", fraction.get<double>() * 100.0);
}

}  // namespace

std::string format_age(Seconds age) {
  const bool future = age.count() < 0;
  const auto s = std::llabs(age.count());
  std::string amount;
  if (s < 10) return "just now";
  if (s < 60) {
    amount = fmt::format("{} s", s);
  } else if (s < 3600) {
    amount = fmt::format("{} min", s / 60);
  } else if (s < 2 * 86400) {
    amount = fmt::format("{} h", s / 3600);
  } else {
    amount = fmt::format("{} d", s / 86400);
  }
  return future ? "in " + amount : amount + " ago";
}

std::string format_local_time(TimePoint t) {
  const std::time_t seconds = static_cast<std::time_t>(t.time_since_epoch().count());
  std::tm local{};
  ::localtime_r(&seconds, &local);
  char buffer[64];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M %z", &local);
  return buffer;
}

std::string format_time_field(const nlohmann::json& value, TimePoint now, bool with_age) {
  auto t = time_of(value);
  if (!t) return str(value);
  auto text = format_local_time(*t);
  if (with_age) text += " (" + format_age(now - *t) + ")";
  return text;
}

std::string format_grams(const nlohmann::json& grams) {
  if (!grams.is_number()) return "-";
  return format_grams(grams.get<double>());
}

namespace {

// "europe-west9 (no fresh data); europe-north1 (not configured)", or "" for none.
std::string excluded_text(const nlohmann::json& excluded) {
  std::string out;
  if (!excluded.is_array()) return out;
  for (const auto& e : excluded) {
    out +=
        fmt::format("{}{} ({})", out.empty() ? "" : "; ", str(e.value("region", nlohmann::json())),
                    str(e.value("reason", nlohmann::json())));
  }
  return out;
}

// "MAE 11.4, bias +3.1 g/kWh", or "-" before any forecast was scored.
std::string forecast_error_text(const nlohmann::json& error) {
  if (!error.is_object() || !error.value("mae_g", nlohmann::json()).is_number()) return "-";
  return fmt::format("MAE {:.1f}, bias {:+.1f}", error["mae_g"].get<double>(),
                     error.value("bias_g", 0.0));
}

}  // namespace

std::string render_jobs(const nlohmann::json& list, TimePoint now) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "STATE", "REGION", "SUBMITTED", "DEADLINE"}};
  for (const auto& job : list.value("jobs", nlohmann::json::array())) {
    auto submitted = time_of(job.value("submitted_at", nlohmann::json()));
    rows.push_back(
        {str(job.value("id", nlohmann::json())), str(job.value("name", nlohmann::json())),
         str(job.value("state", nlohmann::json())), str(job.value("region", nlohmann::json())),
         submitted ? format_age(now - *submitted) : "-",
         format_time_field(job.value("deadline", nlohmann::json()), now, false)});
  }
  std::string out = rows.size() == 1 ? "no jobs\n" : table(rows);
  if (list.contains("next") && list["next"].is_string()) {
    out += "(more: --after " + list["next"].get<std::string>() + ")\n";
  }
  return out;
}

std::string render_job(const nlohmann::json& job, TimePoint now) {
  const auto field = [&](const char* key) { return job.value(key, nlohmann::json()); };
  std::vector<std::vector<std::string>> rows = {
      {"id:", str(field("id"))},
      {"name:", str(field("name"))},
      {"state:", str(field("state"))},
      {"owner uid:", str(field("owner_uid"))},
      {"submitted:", format_time_field(field("submitted_at"), now)},
      {"deadline:", format_time_field(field("deadline"), now)},
      {"regions:", field("regions").is_array() ? [&] {
         std::string joined;
         for (const auto& r : field("regions"))
           joined += (joined.empty() ? "" : ", ") + str(r);
         return joined;
       }()
                                               : "-"},
      {"power:", field("power_watts").is_number()
                     ? fmt::format("{:.0f} W", field("power_watts").get<double>())
                     : "-"},
      {"region:", str(field("region"))},
      {"planned start:", format_time_field(field("planned_start"), now)},
      {"started:", format_time_field(field("started_at"), now)},
      {"finished:", format_time_field(field("finished_at"), now)},
      {"remote job:", str(field("remote_name"))}};
  if (field("error").is_string()) rows.push_back({"error:", str(field("error"))});
  if (auto excluded = excluded_text(field("excluded")); !excluded.empty()) {
    rows.push_back({"not ranked:", excluded});
  }
  const auto accounting = field("accounting");
  if (accounting.is_object()) {
    const auto outcome = accounting.value("outcome", nlohmann::json());
    if (outcome.is_string() && outcome != "succeeded") {
      rows.push_back({"outcome:", str(outcome) + " (emissions count, savings do not)"});
    }
    rows.push_back({"emissions:", format_grams(accounting.value("actual_g", nlohmann::json()))});
    rows.push_back({"baseline:", format_grams(accounting.value("baseline_g", nlohmann::json()))});
    rows.push_back({"savings:", percent(accounting.value("savings", nlohmann::json()))});
  }
  std::string out = table(rows);
  if (job.contains("events") && job["events"].is_array()) {
    out += "\nhistory:\n";
    std::vector<std::vector<std::string>> events;
    for (const auto& e : job["events"]) {
      events.push_back({"  " + format_time_field(e.value("at", nlohmann::json()), now),
                        str(e.value("type", nlohmann::json())),
                        str(e.value("message", nlohmann::json()), "")});
    }
    out += table(events);
  }
  return out;
}

std::string render_regions(const nlohmann::json& regions, TimePoint now) {
  std::vector<std::vector<std::string>> rows = {{"REGION", "INTENSITY", "SIGNAL", "FEED",
                                                 "OBSERVED", "STATUS", "FORECAST UNTIL",
                                                 "FORECAST ERROR"}};
  for (const auto& r : regions.value("regions", nlohmann::json::array())) {
    auto observed = time_of(r.value("observed_at", nlohmann::json()));
    rows.push_back(
        {str(r.value("name", nlohmann::json())),
         intensity_text(r.value("intensity", nlohmann::json())),
         str(r.value("signal", nlohmann::json())), str(r.value("feed", nlohmann::json())),
         observed ? format_age(now - *observed) : "-", r.value("stale", false) ? "STALE" : "fresh",
         format_time_field(r.value("forecast_horizon", nlohmann::json()), now, false),
         forecast_error_text(r.value("forecast_error", nlohmann::json()))});
  }
  return table(rows);
}

std::string render_report(const nlohmann::json& report) {
  std::string out;
  const auto jobs = report.value("jobs", nlohmann::json::object());
  out += fmt::format("jobs: {}", str(jobs.value("total", nlohmann::json())));
  std::string states;
  const auto by_state = jobs.value("by_state", nlohmann::json::object());
  for (const auto& [state, n] : by_state.items())
    states += fmt::format("{}{} {}", states.empty() ? "" : ", ", n.dump(), state);
  if (!states.empty()) out += " (" + states + ")";
  out += "\n";
  const auto kwh = report.value("energy_kwh", nlohmann::json());
  out += fmt::format("energy: {}\n",
                     kwh.is_number() ? fmt::format("{:.2f} kWh", kwh.get<double>()) : "-");
  out += fmt::format("emissions: {}   baseline (run at submission): {}\n",
                     format_grams(report.value("emissions_g", nlohmann::json())),
                     format_grams(report.value("baseline_g", nlohmann::json())));
  out += fmt::format("saved: {} ({})\n", format_grams(report.value("saved_g", nlohmann::json())),
                     percent(report.value("savings", nlohmann::json())));
  const auto unsuccessful = report.value("failed_or_cancelled", nlohmann::json());
  if (unsuccessful.is_object() && unsuccessful.value("jobs_accounted", 0) > 0) {
    out += fmt::format("failed or cancelled: {} jobs, {} emitted (no savings counted)\n",
                       unsuccessful.value("jobs_accounted", 0),
                       format_grams(unsuccessful.value("emissions_g", nlohmann::json())));
  }
  return out;
}

std::string render_plan(const nlohmann::json& plan) {
  std::string out;
  const auto action = plan.value("action", nlohmann::json());
  if (action.is_string()) {
    out +=
        fmt::format("decision: {}\n", action == "dispatch" ? "start now" : "hold for the window");
  }
  out += fmt::format("region: {}\n", str(plan.value("region", nlohmann::json())));
  out += fmt::format("start: {}\n",
                     format_time_field(plan.value("start", nlohmann::json()), TimePoint{}, false));
  out += fmt::format("end: {}\n",
                     format_time_field(plan.value("end", nlohmann::json()), TimePoint{}, false));
  out += fmt::format("emissions: {} instead of {} if started now\n",
                     format_grams(plan.value("emissions_g", nlohmann::json())),
                     format_grams(plan.value("baseline_g", nlohmann::json())));
  out += fmt::format("saved: {} ({})\n", format_grams(plan.value("saved_g", nlohmann::json())),
                     percent(plan.value("savings", nlohmann::json())));
  if (plan.contains("reason")) out += fmt::format("why: {}\n", str(plan["reason"]));
  if (auto excluded = excluded_text(plan.value("excluded", nlohmann::json())); !excluded.empty()) {
    out += fmt::format("not ranked: {}\n", excluded);
  }
  return out;
}

std::string render_health(const nlohmann::json& health, TimePoint now) {
  std::string out = fmt::format("status: {}   queue: {}   database: {}\n",
                                str(health.value("status", nlohmann::json())),
                                str(health.value("queue_depth", nlohmann::json())),
                                str(health.value("database", nlohmann::json())));
  for (const auto& f : health.value("feeds", nlohmann::json::array())) {
    out += fmt::format("  feed {}: {} (last success {})\n", str(f.value("name", nlohmann::json())),
                       str(f.value("status", nlohmann::json())),
                       format_time_field(f.value("last_success", nlohmann::json()), now));
  }
  return out;
}

std::string render_error(int status, const std::string& body) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.contains("error") || !parsed["error"].is_object()) {
    return fmt::format("error: HTTP {}: {}\n", status, body.substr(0, 200));
  }
  const auto& e = parsed["error"];
  std::string out = fmt::format("error: {} ({})\n", str(e.value("message", nlohmann::json())),
                                str(e.value("code", nlohmann::json())));
  for (const auto& d : e.value("details", nlohmann::json::array())) {
    const auto line = d.value("line", 0);
    out += fmt::format("  {}{}: {}\n", line > 0 ? fmt::format("line {}: ", line) : "",
                       str(d.value("field", nlohmann::json()), ""),
                       str(d.value("message", nlohmann::json()), ""));
  }
  return out;
}

std::vector<HourlyIntensity> hourly_means(const nlohmann::json& points) {
  // hour start -> (weighted sum, covered seconds)
  std::map<TimePoint, std::pair<double, double>> hours;
  for (const auto& p : points) {
    auto start = time_of(p.value("start", nlohmann::json()));
    auto end = time_of(p.value("end", nlohmann::json()));
    const auto value = p.value("intensity", nlohmann::json());
    if (!start || !end || *end <= *start || !value.is_number()) continue;
    for (TimePoint hour = std::chrono::floor<std::chrono::hours>(*start); hour < *end;
         hour += std::chrono::hours(1)) {
      const auto from = std::max(hour, *start);
      const auto to = std::min(hour + std::chrono::hours(1), *end);
      const double covered = static_cast<double>((to - from).count());
      if (covered <= 0) continue;
      hours[hour].first += value.get<double>() * covered;
      hours[hour].second += covered;
    }
  }
  std::vector<HourlyIntensity> out;
  for (const auto& [hour, sums] : hours)
    out.push_back({hour, sums.first / sums.second});
  return out;
}

int cleanest_window(const std::vector<HourlyIntensity>& hourly, int hours) {
  if (hours < 1 || static_cast<std::size_t>(hours) > hourly.size()) return -1;
  int best = -1;
  double best_sum = 0;
  for (std::size_t i = 0; i + static_cast<std::size_t>(hours) <= hourly.size(); ++i) {
    // Only runs of consecutive clock hours form a window.
    const auto span = hourly[i + static_cast<std::size_t>(hours) - 1].start - hourly[i].start;
    if (span != std::chrono::hours(hours - 1)) continue;
    double sum = 0;
    for (std::size_t k = i; k < i + static_cast<std::size_t>(hours); ++k)
      sum += hourly[k].intensity;
    if (best < 0 || sum < best_sum - 1e-9) {
      best = static_cast<int>(i);
      best_sum = sum;
    }
  }
  return best;
}

std::string render_forecast(const nlohmann::json& forecast, Seconds duration, int width) {
  const auto hourly = hourly_means(forecast.value("points", nlohmann::json::array()));
  std::string out = fmt::format(
      "{} forecast, {} signal from feed {} (gCO2e/kWh), issued {}\n",
      str(forecast.value("region", nlohmann::json())),
      str(forecast.value("signal", nlohmann::json())),
      str(forecast.value("feed", nlohmann::json())),
      format_time_field(forecast.value("issued_at", nlohmann::json()), TimePoint{}, false));
  if (hourly.empty()) return out + "no forecast available for this region\n";
  const int hours = static_cast<int>((duration.count() + 3599) / 3600);
  const int best = cleanest_window(hourly, hours);
  double top = 0;
  for (const auto& h : hourly)
    top = std::max(top, h.intensity);
  for (std::size_t i = 0; i < hourly.size(); ++i) {
    const bool marked =
        best >= 0 && static_cast<int>(i) >= best && static_cast<int>(i) < best + hours;
    const int length =
        top > 0 ? static_cast<int>(std::lround(hourly[i].intensity / top * width)) : 0;
    std::string line =
        fmt::format("{}  {:>5.0f} |{}", format_local_time(hourly[i].start), hourly[i].intensity,
                    std::string(static_cast<std::size_t>(std::max(length, 0)), marked ? '#' : '='));
    if (marked && static_cast<int>(i) == best) {
      line += fmt::format("  <- cleanest {} starts", format_duration(duration));
    }
    out += line + "\n";
  }
  if (best < 0) {
    out += fmt::format("the forecast is shorter than {}: no window marked\n",
                       format_duration(duration));
  } else {
    double sum = 0;
    for (int k = best; k < best + hours; ++k)
      sum += hourly[static_cast<std::size_t>(k)].intensity;
    out += fmt::format(
        "cleanest {}: {} to {}, mean {:.0f} gCO2e/kWh\n", format_duration(duration),
        format_local_time(hourly[static_cast<std::size_t>(best)].start),
        format_local_time(hourly[static_cast<std::size_t>(best)].start + std::chrono::hours(hours)),
        sum / hours);
  }
  return out;
}

}  // namespace gridshift
