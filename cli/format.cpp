#include "cli/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
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

// Columns a cell takes on a terminal: bytes less ANSI colour escapes and UTF-8 continuation
// bytes.
std::size_t visible_width(const std::string& text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b') {
      while (i < text.size() && text[i] != 'm')
        ++i;
      continue;
    }
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++width;
  }
  return width;
}

// Left-aligned columns, two spaces apart, widths from the content.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], visible_width(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - visible_width(row[i]) + 2, ' ');
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

std::string paint_state(const std::string& state, bool colour) {
  if (!colour) return state;
  const char* code = state == "succeeded"   ? "32"
                     : state == "failed"    ? "31"
                     : state == "cancelled" ? "33"
                     : state == "running"   ? "36"
                     : state == "degraded"  ? "31"
                     : state == "ok"        ? "32"
                                            : nullptr;
  return code ? fmt::format("\x1b[{}m{}\x1b[0m", code, state) : state;
}

std::string localize_times(const std::string& text) {
  std::string out;
  std::size_t i = 0;
  // "YYYY-MM-DDTHH:MM:SSZ" is 20 characters.
  while (i < text.size()) {
    if (i + 20 <= text.size() && text[i + 4] == '-' && text[i + 10] == 'T' && text[i + 19] == 'Z' &&
        std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (auto t = parse_rfc3339(std::string_view(text).substr(i, 20))) {
        out += format_local_time(*t);
        i += 20;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

std::string format_grams(const nlohmann::json& grams) {
  if (!grams.is_number()) return "-";
  return format_grams(grams.get<double>());
}

namespace {

// "europe-west9 (no fresh data); europe-north1 (not configured)", or "" for none.
std::string money(const nlohmann::json& usd) {
  return usd.is_number() ? fmt::format("${:.2f}", usd.get<double>()) : "-";
}

std::string litres(const nlohmann::json& l) {
  return l.is_number() ? fmt::format("{:.1f} L", l.get<double>()) : "-";
}

// "total (n jobs; m without a figure)" for a report lever sum.
std::string lever_sum(const nlohmann::json& sum, const char* key,
                      std::string (*format)(const nlohmann::json&)) {
  const auto unknown = sum.value("jobs_unknown", 0);
  return fmt::format("{} ({} jobs{})", format(sum.value(key, nlohmann::json())),
                     sum.value("jobs_known", 0),
                     unknown > 0 ? fmt::format("; {} without a figure", unknown) : "");
}

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

std::string render_jobs(const nlohmann::json& list, TimePoint now, bool colour) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "STATE", "REGION", "PLANNED", "DEADLINE", "SUBMITTED"}};
  for (const auto& job : list.value("jobs", nlohmann::json::array())) {
    auto submitted = time_of(job.value("submitted_at", nlohmann::json()));
    // PLANNED: the start the scheduler chose (or took, once started).
    auto planned = job.value("started_at", nlohmann::json());
    if (!planned.is_string()) planned = job.value("planned_start", nlohmann::json());
    rows.push_back(
        {str(job.value("id", nlohmann::json())), str(job.value("name", nlohmann::json())),
         paint_state(str(job.value("state", nlohmann::json())), colour),
         str(job.value("region", nlohmann::json())), format_time_field(planned, now, false),
         format_time_field(job.value("deadline", nlohmann::json()), now, false),
         submitted ? format_age(now - *submitted) : "-"});
  }
  std::string out = rows.size() == 1 ? "no jobs\n" : table(rows);
  if (list.contains("next") && list["next"].is_string()) {
    out += "(more: --after " + list["next"].get<std::string>() + ")\n";
  }
  return out;
}

std::string render_job(const nlohmann::json& job, TimePoint now, bool colour) {
  const auto field = [&](const char* key) { return job.value(key, nlohmann::json()); };
  std::vector<std::vector<std::string>> rows = {
      {"id:", str(field("id"))},
      {"name:", str(field("name"))},
      {"state:", paint_state(str(field("state")), colour)},
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
      {"hardware:", field("alternative").is_number_integer() && field("alternative").get<int>() > 0
                        ? fmt::format("alternative {}", field("alternative").get<int>())
                        : "main spec"},
      {"region:", str(field("region"))},
      {"planned start:", format_time_field(field("planned_start"), now)},
      {"started:", format_time_field(field("started_at"), now)},
      {"finished:", format_time_field(field("finished_at"), now)},
      {"remote job:", str(field("remote_name"))}};
  if (field("log").is_string()) {
    rows.push_back({"output:", str(field("log")) + "  (gridshift logs " + str(field("id")) + ")"});
  }
  if (field("error").is_string()) rows.push_back({"error:", localize_times(str(field("error")))});
  if (auto excluded = excluded_text(field("excluded")); !excluded.empty()) {
    rows.push_back({"not ranked:", excluded});
  }
  const auto segments = field("segments");
  if (segments.is_array()) {
    for (const auto& seg : segments) {
      // "segment 2:  ended  Tue 01:00 -> Tue 02:00 (ran until 02:12) in europe-west2"
      const auto finished = seg.value("finished_at", nlohmann::json());
      rows.push_back(
          {fmt::format("segment {}:", str(seg.value("n", nlohmann::json()))),
           fmt::format("{} {} -> {}{} in {}", str(seg.value("state", nlohmann::json())),
                       format_time_field(seg.value("start", nlohmann::json()), now, false),
                       format_time_field(seg.value("end", nlohmann::json()), now, false),
                       finished.is_string()
                           ? " (ran until " + format_time_field(finished, now, false) + ")"
                           : "",
                       str(seg.value("region", nlohmann::json())))});
    }
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
    // The other levers: unknown figures show "-" (never a guess).
    rows.push_back({"cost:", money(accounting.value("cost_usd", nlohmann::json()))});
    rows.push_back({"water:", litres(accounting.value("water_l", nlohmann::json()))});
    rows.push_back({"embodied:", format_grams(accounting.value("embodied_g", nlohmann::json())) +
                                     " (accelerators' manufacture, scope 3)"});
  }
  std::string out = table(rows);
  if (job.contains("events") && job["events"].is_array()) {
    out += "\nhistory:\n";
    std::vector<std::vector<std::string>> events;
    for (const auto& e : job["events"]) {
      events.push_back({"  " + format_time_field(e.value("at", nlohmann::json()), now),
                        str(e.value("type", nlohmann::json())),
                        localize_times(str(e.value("message", nlohmann::json()), ""))});
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

std::string render_region_mix(const nlohmann::json& regions) {
  std::vector<std::vector<std::string>> rows = {{"REGION", "FEED", "CONSUMPTION BY SOURCE"}};
  for (const auto& r : regions.value("regions", nlohmann::json::array())) {
    std::vector<std::pair<double, std::string>> shares;
    const auto mix = r.value("mix", nlohmann::json());
    if (mix.is_object()) {
      for (const auto& [source, share] : mix.items()) {
        if (share.is_number()) shares.emplace_back(share.get<double>(), source);
      }
    }
    std::sort(shares.begin(), shares.end(), std::greater<>());
    std::string text;
    for (const auto& [share, source] : shares)
      text += fmt::format("{}{} {:.1f} %", text.empty() ? "" : ", ", source, share);
    rows.push_back({str(r.value("name", nlohmann::json())), str(r.value("feed", nlohmann::json())),
                    text.empty() ? "-" : text});
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
  const auto interruptible = report.value("interruptible", nlohmann::json());
  if (interruptible.is_object() && interruptible.value("jobs", 0) > 0) {
    out += fmt::format(
        "interruptible: {} jobs, {} emitted; the best single window in hindsight: {}, the best "
        "segments: {}\n",
        interruptible.value("jobs", 0),
        format_grams(interruptible.value("emissions_g", nlohmann::json())),
        format_grams(interruptible.value("oracle_g", nlohmann::json())),
        format_grams(interruptible.value("oracle_segments_g", nlohmann::json())));
  }
  if (const auto cost = report.value("cost", nlohmann::json()); cost.is_object()) {
    out += fmt::format("cost: {}\n", lever_sum(cost, "cost_usd", money));
  }
  if (const auto water = report.value("water", nlohmann::json()); water.is_object()) {
    out += fmt::format("water: {}\n", lever_sum(water, "water_l", litres));
  }
  if (const auto embodied = report.value("embodied", nlohmann::json()); embodied.is_object()) {
    out += fmt::format("embodied (scope 3, apart from the emissions above): {}\n",
                       lever_sum(embodied, "embodied_g", format_grams));
  }
  const auto unsuccessful = report.value("failed_or_cancelled", nlohmann::json());
  if (unsuccessful.is_object() && unsuccessful.value("jobs_accounted", 0) > 0) {
    out += fmt::format("failed or cancelled: {} jobs, {} emitted (no savings counted)\n",
                       unsuccessful.value("jobs_accounted", 0),
                       format_grams(unsuccessful.value("emissions_g", nlohmann::json())));
  }
  return out;
}

std::string render_footprint(const nlohmann::json& footprint) {
  auto kg = [](const nlohmann::json& v) {
    return v.is_number() ? fmt::format("{:.3f} kg", v.get<double>()) : std::string("-");
  };
  std::vector<std::vector<std::string>> rows = {
      {"MONTH", "REGION", "GOOGLE (VERTEX AI)", "GRIDSHIFT", "JOBS", "RATIO", "EMBODIED"}};
  for (const auto& l : footprint.value("lines", nlohmann::json::array())) {
    const auto ratio = l.value("ratio", nlohmann::json());
    rows.push_back(
        {str(l.value("month", nlohmann::json())), str(l.value("region", nlohmann::json()), "-"),
         kg(l.value("google_kg", nlohmann::json())), kg(l.value("gridshift_kg", nlohmann::json())),
         str(l.value("jobs", nlohmann::json())),
         ratio.is_number() ? fmt::format("{:.2f}", ratio.get<double>()) : "-",
         kg(l.value("gridshift_embodied_kg", nlohmann::json()))});
  }
  return table(rows) +
         "Google: location-based kg CO2e of Vertex AI (scopes 1-3); gridshift: operational\n"
         "grams of the jobs it ran (scope 2); ratio = Google / gridshift.\n";
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
  if (const auto segments = plan.value("segments", nlohmann::json()); segments.is_array()) {
    for (std::size_t i = 0; i < segments.size(); ++i) {
      out += fmt::format(
          "segment {}: {} -> {}\n", i + 1,
          format_time_field(segments[i].value("start", nlohmann::json()), TimePoint{}, false),
          format_time_field(segments[i].value("end", nlohmann::json()), TimePoint{}, false));
    }
  }
  if (const auto options = plan.value("options", nlohmann::json()); options.is_array()) {
    // Each hardware option's best run: the planner ranks them by grams.
    for (const auto& o : options) {
      const int n = o.value("alternative", 0);
      out +=
          fmt::format("{} {}: {} in {} from {}{}\n", n == plan.value("alternative", 0) ? "*" : " ",
                      n == 0 ? std::string("main spec") : fmt::format("alternative {}", n),
                      format_grams(o.value("emissions_g", nlohmann::json())),
                      str(o.value("region", nlohmann::json())),
                      format_time_field(o.value("start", nlohmann::json()), TimePoint{}, false),
                      o.value("emissions_g", nlohmann::json()).is_null()
                          ? " (" + str(o.value("reason_code", nlohmann::json())) + ")"
                          : "");
    }
  }
  if (plan.contains("cost_usd") || plan.contains("water_l")) {
    out += fmt::format("cost: {}   water: {}   embodied: {}\n",
                       money(plan.value("cost_usd", nlohmann::json())),
                       litres(plan.value("water_l", nlohmann::json())),
                       format_grams(plan.value("embodied_g", nlohmann::json())));
  }
  if (plan.contains("reason")) out += fmt::format("why: {}\n", str(plan["reason"]));
  if (auto excluded = excluded_text(plan.value("excluded", nlohmann::json())); !excluded.empty()) {
    out += fmt::format("not ranked: {}\n", excluded);
  }
  return out;
}

std::string render_health(const nlohmann::json& health, TimePoint now, bool colour) {
  std::string out = fmt::format("status: {}   queue: {}   database: {}\n",
                                paint_state(str(health.value("status", nlohmann::json())), colour),
                                str(health.value("queue_depth", nlohmann::json())),
                                str(health.value("database", nlohmann::json())));
  for (const auto& f : health.value("feeds", nlohmann::json::array())) {
    out += fmt::format("  feed {}: {} (last success {})\n", str(f.value("name", nlohmann::json())),
                       str(f.value("status", nlohmann::json())),
                       format_time_field(f.value("last_success", nlohmann::json()), now));
    const auto message = f.value("last_error_message", nlohmann::json());
    if (f.value("status", std::string()) == "failing" && message.is_string()) {
      out += "    last error: " + localize_times(message.get<std::string>()) + "\n";
    }
  }
  // Several daemons on one PostgreSQL store: which one leads (one daemon alone always does).
  const auto lead = health.value("leadership", nlohmann::json::object());
  if (lead.value("storage", std::string()) == "postgres") {
    const auto instance = str(lead.value("instance", nlohmann::json()));
    if (lead.value("leading", false)) {
      out += fmt::format("  leadership: this instance {} leads since {} (takeovers {})\n", instance,
                         format_time_field(lead.value("since", nlohmann::json()), now),
                         str(lead.value("takeovers", nlohmann::json())));
    } else if (lead.value("leader", nlohmann::json()).is_string()) {
      out +=
          fmt::format("  leadership: this instance {} follows {}\n", instance, str(lead["leader"]));
    } else {
      out += fmt::format(
          "  leadership: this instance {} follows; no instance leads now (the lease is free)\n",
          instance);
    }
  }
  // Why it is degraded, in words (the JSON's `problems`).
  for (const auto& p : health.value("problems", nlohmann::json::array()))
    out += "  problem: " + localize_times(str(p)) + "\n";
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

std::vector<HourlyIntensity> slot_means(const nlohmann::json& points, Seconds step) {
  // slot start -> (weighted sum, covered seconds)
  std::map<TimePoint, std::pair<double, double>> slots;
  for (const auto& p : points) {
    auto start = time_of(p.value("start", nlohmann::json()));
    auto end = time_of(p.value("end", nlohmann::json()));
    const auto value = p.value("intensity", nlohmann::json());
    if (!start || !end || *end <= *start || !value.is_number()) continue;
    const TimePoint first{start->time_since_epoch() - start->time_since_epoch() % step};
    for (TimePoint slot = first; slot < *end; slot += step) {
      const auto from = std::max(slot, *start);
      const auto to = std::min(slot + step, *end);
      const double covered = static_cast<double>((to - from).count());
      if (covered <= 0) continue;
      slots[slot].first += value.get<double>() * covered;
      slots[slot].second += covered;
    }
  }
  std::vector<HourlyIntensity> out;
  for (const auto& [slot, sums] : slots)
    out.push_back({slot, sums.first / sums.second});
  return out;
}

int cleanest_window(const std::vector<HourlyIntensity>& slots, int count, Seconds step) {
  if (count < 1 || static_cast<std::size_t>(count) > slots.size()) return -1;
  int best = -1;
  double best_sum = 0;
  const auto n = static_cast<std::size_t>(count);
  for (std::size_t i = 0; i + n <= slots.size(); ++i) {
    // Only runs of consecutive slots form a window.
    if (slots[i + n - 1].start - slots[i].start != step * (count - 1)) continue;
    double sum = 0;
    for (std::size_t k = i; k < i + n; ++k)
      sum += slots[k].intensity;
    if (best < 0 || sum < best_sum - 1e-9) {
      best = static_cast<int>(i);
      best_sum = sum;
    }
  }
  return best;
}

Seconds chart_step(const nlohmann::json& points, std::optional<TimePoint> until, int max_rows) {
  std::optional<Seconds> shortest;
  std::optional<TimePoint> first;
  std::optional<TimePoint> last;
  for (const auto& p : points) {
    auto start = time_of(p.value("start", nlohmann::json()));
    auto end = time_of(p.value("end", nlohmann::json()));
    if (!start || !end || *end <= *start) continue;
    if (!shortest || *end - *start < *shortest) shortest = *end - *start;
    if (!first || *start < *first) first = *start;
    if (!last || *end > *last) last = *end;
  }
  if (!shortest) return std::chrono::hours(1);
  if (until && *until < *last) last = *until;
  const Seconds span = *last > *first ? *last - *first : Seconds{0};
  for (const Seconds step : {Seconds{300}, Seconds{600}, Seconds{900}, Seconds{1800}}) {
    if (step >= *shortest && span / step <= max_rows) return step;
  }
  Seconds step = std::chrono::hours(1);
  while (span / step > max_rows)
    step += std::chrono::hours(1);
  return step;
}

std::string render_forecast(const nlohmann::json& forecast, Seconds duration,
                            std::optional<TimePoint> until, int width) {
  const auto points = forecast.value("points", nlohmann::json::array());
  const Seconds step = chart_step(points, until);
  auto slots = slot_means(points, step);
  if (until) {
    std::erase_if(slots, [&](const HourlyIntensity& s) { return s.start >= *until; });
  }
  std::string out = fmt::format(
      "{} forecast, {} signal from feed {} (gCO2e/kWh), issued {}\n",
      str(forecast.value("region", nlohmann::json())),
      str(forecast.value("signal", nlohmann::json())),
      str(forecast.value("feed", nlohmann::json())),
      format_time_field(forecast.value("issued_at", nlohmann::json()), TimePoint{}, false));
  if (slots.empty()) return out + "no forecast available for this region\n";
  if (step != std::chrono::hours(1)) out += fmt::format("one row per {}\n", format_duration(step));
  const int count = static_cast<int>((duration.count() + step.count() - 1) / step.count());
  const int best = cleanest_window(slots, count, step);
  double top = 0;
  for (const auto& h : slots)
    top = std::max(top, h.intensity);
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const bool marked =
        best >= 0 && static_cast<int>(i) >= best && static_cast<int>(i) < best + count;
    const int length =
        top > 0 ? static_cast<int>(std::lround(slots[i].intensity / top * width)) : 0;
    std::string line =
        fmt::format("{}  {:>5.0f} |{}", format_local_time(slots[i].start), slots[i].intensity,
                    std::string(static_cast<std::size_t>(std::max(length, 0)), marked ? '#' : '='));
    if (marked && static_cast<int>(i) == best) {
      line += fmt::format("  <- cleanest {} starts", format_duration(duration));
    }
    out += line + "\n";
  }
  if (best < 0) {
    out += fmt::format("the forecast{} is shorter than {}: no window marked\n",
                       until ? " up to --until" : "", format_duration(duration));
  } else {
    double sum = 0;
    for (int k = best; k < best + count; ++k)
      sum += slots[static_cast<std::size_t>(k)].intensity;
    const auto start = slots[static_cast<std::size_t>(best)].start;
    out +=
        fmt::format("cleanest {}: {} to {}, mean {:.0f} gCO2e/kWh\n", format_duration(duration),
                    format_local_time(start), format_local_time(start + step * count), sum / count);
  }
  return out;
}

}  // namespace gridshift
