#include "daemon/metrics_sections.h"

#include <chrono>

#include "common/config_slices.h"
#include "common/metrics.h"

namespace gridshift {

Result<std::string> feed_metrics(const ServiceConfig& config, ReadingStore& store,
                                 const FeedPoller& poller) {
  MetricsWriter out;
  out.family("gridshift_intensity_grams_per_kwh",
             "Latest actual carbon intensity (gCO2e/kWh) per region and feed of its chain.",
             "gauge");
  for (const auto& region : config.regions) {
    for (const auto& feed : region.feeds) {
      auto latest = store.latest_actual(feed, feed_location(config, feed, region));
      if (!latest) return latest.error();
      if (!*latest) continue;
      out.sample("gridshift_intensity_grams_per_kwh",
                 {{"region", region.name},
                  {"feed", feed},
                  {"signal", std::string(to_string((*latest)->signal))}},
                 (*latest)->gco2_per_kwh);
    }
  }

  out.family("gridshift_feed_requests_total",
             "Feed polls that succeeded (outcome ok) and feed errors by error code.", "counter");
  for (const auto& health : poller.health()) {
    out.sample("gridshift_feed_requests_total", {{"feed", health.name}, {"outcome", "ok"}},
               static_cast<double>(health.polls - health.failed_polls));
    for (const auto& [code, count] : health.errors_by_code) {
      out.sample("gridshift_feed_requests_total", {{"feed", health.name}, {"outcome", code}},
                 static_cast<double>(count));
    }
  }
  out.family("gridshift_feed_readings_stored_total", "Readings a feed stored in the cache.",
             "counter");
  for (const auto& health : poller.health()) {
    out.sample("gridshift_feed_readings_stored_total", {{"feed", health.name}},
               static_cast<double>(health.readings_stored));
  }
  out.family("gridshift_feed_last_success_timestamp_seconds",
             "Unix time of the feed's last successful poll (absent until one succeeded).", "gauge");
  for (const auto& health : poller.health()) {
    if (!health.last_success) continue;
    const auto seconds = std::chrono::duration<double>(health.last_success->time_since_epoch());
    out.sample("gridshift_feed_last_success_timestamp_seconds", {{"feed", health.name}},
               seconds.count());
  }
  return out.take();
}

std::string forecast_error_metrics(const ServiceConfig& config, const ForecastErrors& errors) {
  MetricsWriter out;
  struct Family {
    const char* name;
    const char* help;
    double ErrorStats::*field;
  };
  for (const Family& family :
       {Family{"gridshift_forecast_mae_gco2_per_kwh",
               "Mean absolute error of the feed's forecasts for the region (gCO2e/kWh), over the "
               "forecasts of the last 7 days whose hour has passed.",
               &ErrorStats::mae_g},
        Family{"gridshift_forecast_bias_gco2_per_kwh",
               "Mean error (forecast - actual, gCO2e/kWh) of the feed's forecasts for the region.",
               &ErrorStats::bias_g}}) {
    out.family(family.name, family.help, "gauge");
    for (const auto& region : config.regions) {
      for (const auto& feed : region.feeds) {
        const auto* model = errors.find(feed, feed_location(config, feed, region));
        if (model == nullptr || model->overall.samples == 0) continue;
        out.sample(family.name, {{"region", region.name}, {"feed", feed}},
                   model->overall.*family.field);
      }
    }
  }
  return out.take();
}

std::string scheduler_metrics(const Scheduler& scheduler) {
  MetricsWriter out;
  out.family("gridshift_scheduler_cycles_total", "Scheduler cycles run.", "counter");
  out.sample("gridshift_scheduler_cycles_total", static_cast<double>(scheduler.cycles()));
  out.family("gridshift_dispatches_total",
             "Dispatch attempts by target and outcome (created, failed, retry).", "counter");
  for (const auto& [key, count] : scheduler.dispatch_outcomes()) {
    out.sample("gridshift_dispatches_total", {{"target", key.first}, {"outcome", key.second}},
               static_cast<double>(count));
  }
  out.histogram("gridshift_replan_duration_seconds",
                "Time a scheduler cycle spent planning its queued jobs.",
                scheduler.replan_seconds());
  out.histogram("gridshift_cycle_duration_seconds",
                "Time a whole scheduler cycle took (reconcile, follow, list, plan, record).",
                scheduler.cycle_seconds());
  out.family("gridshift_deadline_missed_total",
             "Queued jobs that could no longer start in time to meet their deadline.", "counter");
  out.sample("gridshift_deadline_missed_total", static_cast<double>(scheduler.deadline_missed()));
  return out.take();
}

std::string accounting_metrics(const nlohmann::json& report) {
  struct Family {
    const char* name;
    const char* field;
    const char* help;
  };
  static constexpr Family kFamilies[] = {
      {"gridshift_emitted_grams", "emissions_g",
       "Grams CO2e emitted by finished jobs with accounting, by signal."},
      {"gridshift_baseline_grams", "baseline_g",
       "Grams CO2e the same jobs would have emitted run at submit time, by signal."},
      {"gridshift_saved_grams", "saved_g", "Baseline minus emitted grams CO2e, by signal."},
  };
  MetricsWriter out;
  const auto by_signal = report.value("by_signal", nlohmann::json::object());
  for (const auto& family : kFamilies) {
    out.family(family.name, family.help, "gauge");
    if (!by_signal.is_object()) continue;
    for (const auto& [signal, sums] : by_signal.items()) {
      if (!sums.is_object() || !sums.value(family.field, nlohmann::json()).is_number()) continue;
      out.sample(family.name, {{"signal", signal}}, sums[family.field].get<double>());
    }
  }
  return out.take();
}

}  // namespace gridshift
