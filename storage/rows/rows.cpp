#include "storage/rows/rows.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "core/accounting.h"
#include "core/job_spec.h"

namespace gridshift::rows {
namespace {

std::string regions_to_json(const std::vector<std::string>& regions) {
  return nlohmann::json(regions).dump();
}

Result<std::vector<std::string>> regions_from_json(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return corrupt_row("jobs", "regions is not a JSON array");
  std::vector<std::string> regions;
  for (const auto& item : parsed) {
    if (!item.is_string()) return corrupt_row("jobs", "regions holds a non-string");
    regions.push_back(item.get<std::string>());
  }
  return regions;
}

nlohmann::json vertex_summary_to_json(const VertexSpec& v) {
  nlohmann::json vj = {{"machine_type", v.machine_type},
                       {"accelerator_type", v.accelerator_type},
                       {"accelerator_count", v.accelerator_count},
                       {"replica_count", v.replica_count},
                       {"strategy", to_string(v.scheduling.strategy)}};
  if (v.scheduling.timeout) vj["timeout_s"] = v.scheduling.timeout->count();
  return vj;
}

// nullopt when the stored strategy is unknown (a corrupt row).
std::optional<VertexSpec> vertex_summary_from_json(const nlohmann::json& vj) {
  VertexSpec v;
  v.machine_type = vj.at("machine_type").get<std::string>();
  v.accelerator_type = vj.at("accelerator_type").get<std::string>();
  v.accelerator_count = vj.at("accelerator_count").get<int>();
  v.replica_count = vj.at("replica_count").get<int>();
  auto strategy = parse_scheduling_strategy(vj.at("strategy").get<std::string>());
  if (!strategy) return std::nullopt;
  v.scheduling.strategy = *strategy;
  if (vj.contains("timeout_s")) v.scheduling.timeout = Seconds{vj["timeout_s"].get<std::int64_t>()};
  return v;
}

}  // namespace

std::string summary_json(const JobSpec& spec) {
  nlohmann::json j = {{"name", spec.name},
                      {"regions", spec.regions},
                      {"duration_s", spec.duration.count()},
                      {"policy", to_string(spec.policy)}};
  if (spec.deadline) j["deadline"] = to_unix(*spec.deadline);
  if (spec.not_before) j["not_before"] = to_unix(*spec.not_before);
  if (spec.threshold) j["threshold"] = *spec.threshold;
  if (spec.power_watts) j["power_watts"] = *spec.power_watts;
  if (spec.vertex) j["vertex"] = vertex_summary_to_json(*spec.vertex);
  if (spec.local) j["local"] = true;
  if (spec.max_cost_usd) j["max_cost_usd"] = *spec.max_cost_usd;
  if (!spec.alternatives.empty()) {
    auto& list = j["alternatives"] = nlohmann::json::array();
    for (const auto& a : spec.alternatives) {
      nlohmann::json aj = nlohmann::json::object();
      if (a.vertex) aj["vertex"] = vertex_summary_to_json(*a.vertex);
      if (a.local) aj["local"] = true;
      if (a.duration) aj["duration_s"] = a.duration->count();
      if (a.power_watts) aj["power_watts"] = *a.power_watts;
      list.push_back(std::move(aj));
    }
  }
  if (spec.interruptible) {
    j["interruptible"] = {{"max_segments", spec.interruptible->max_segments},
                          {"min_segment_s", spec.interruptible->min_segment.count()},
                          {"resume_overhead_s", spec.interruptible->resume_overhead.count()}};
  }
  return j.dump();
}

namespace {

Result<JobSpec> summary_from_json(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    JobSpec spec;
    spec.name = j.at("name").get<std::string>();
    spec.regions = j.at("regions").get<std::vector<std::string>>();
    spec.duration = Seconds{j.at("duration_s").get<std::int64_t>()};
    auto policy = parse_policy(j.at("policy").get<std::string>());
    if (!policy) return corrupt_row("jobs", "summary policy");
    spec.policy = *policy;
    if (j.contains("deadline")) spec.deadline = from_unix(j["deadline"].get<std::int64_t>());
    if (j.contains("not_before")) spec.not_before = from_unix(j["not_before"].get<std::int64_t>());
    if (j.contains("threshold")) spec.threshold = j["threshold"].get<double>();
    if (j.contains("power_watts")) spec.power_watts = j["power_watts"].get<double>();
    if (j.contains("vertex")) {
      spec.vertex = vertex_summary_from_json(j["vertex"]);
      if (!spec.vertex) return corrupt_row("jobs", "summary strategy");
    }
    if (j.value("local", false)) spec.local = LocalSpec{};
    if (j.contains("max_cost_usd")) spec.max_cost_usd = j["max_cost_usd"].get<double>();
    if (j.contains("alternatives")) {
      for (const auto& aj : j["alternatives"]) {
        AlternativeSpec a;
        if (aj.contains("vertex")) {
          a.vertex = vertex_summary_from_json(aj["vertex"]);
          if (!a.vertex) return corrupt_row("jobs", "summary alternative strategy");
        }
        if (aj.value("local", false)) a.local = LocalSpec{};
        if (aj.contains("duration_s")) a.duration = Seconds{aj["duration_s"].get<std::int64_t>()};
        if (aj.contains("power_watts")) a.power_watts = aj["power_watts"].get<double>();
        spec.alternatives.push_back(std::move(a));
      }
    }
    if (j.contains("interruptible")) {
      const auto& ij = j["interruptible"];
      spec.interruptible = InterruptibleSpec{
          ij.at("max_segments").get<int>(), Seconds{ij.at("min_segment_s").get<std::int64_t>()},
          Seconds{ij.at("resume_overhead_s").get<std::int64_t>()}};
    }
    return spec;
  } catch (const nlohmann::json::exception& e) {
    return corrupt_row("jobs", std::string("summary: ") + e.what());
  }
}

}  // namespace

std::int64_t to_unix(TimePoint t) {
  return t.time_since_epoch().count();
}
TimePoint from_unix(std::int64_t seconds) {
  return TimePoint{Seconds{seconds}};
}
std::optional<std::int64_t> to_unix(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return to_unix(*t);
}
std::optional<TimePoint> from_unix(const std::optional<std::int64_t>& seconds) {
  if (!seconds) return std::nullopt;
  return from_unix(*seconds);
}

Error corrupt_row(std::string_view table, std::string_view what) {
  return make_error(errc::kStorageCorrupt,
                    "unreadable row in " + std::string(table) + ": " + std::string(what));
}

std::string spec_json(const JobSpec& spec) {
  return job_spec_to_json(spec);
}

JobRow job_row(const Job& job) {
  JobRow row;
  row.id = job.id;
  row.owner_uid = job.owner_uid;
  row.state = std::string(to_string(job.state));
  row.submitted_at = to_unix(job.submitted_at);
  row.updated_at = to_unix(job.updated_at);
  row.deadline = to_unix(job.deadline);
  row.regions_json = regions_to_json(job.regions);
  row.power_watts = job.power_watts;
  row.idempotency_key = job.idempotency_key;
  row.region = job.region;
  row.planned_start = to_unix(job.planned_start);
  row.started_at = to_unix(job.started_at);
  row.finished_at = to_unix(job.finished_at);
  row.remote_name = job.remote_name;
  row.error = job.error;
  row.accounting_json = job_accounting_to_json(job);
  return row;
}

Result<Job> job_from_row(JobRow row, bool summary) {
  Job job;
  job.id = std::move(row.id);
  job.owner_uid = static_cast<std::uint32_t>(row.owner_uid);
  if (summary) {
    if (row.spec.empty()) {
      return corrupt_row("jobs", "spec of job " + job.id + ": no summary (its spec is unreadable)");
    }
    auto spec = summary_from_json(row.spec);
    if (!spec) return corrupt_row("jobs", "spec of job " + job.id + ": " + spec.error().message);
    job.spec = std::move(*spec);
  } else {
    auto spec = parse_job_spec(row.spec);
    if (!spec) return corrupt_row("jobs", "spec of job " + job.id + ": " + spec.error().message);
    job.spec = std::move(*spec);
  }
  job.spec_is_summary = summary;
  auto state = parse_job_state(row.state);
  if (!state) return corrupt_row("jobs", "state of job " + job.id);
  job.state = *state;
  job.submitted_at = from_unix(row.submitted_at);
  job.updated_at = from_unix(row.updated_at);
  job.deadline = from_unix(row.deadline);
  auto regions = regions_from_json(row.regions_json);
  if (!regions) return regions.error();
  job.regions = std::move(*regions);
  job.power_watts = row.power_watts;
  job.idempotency_key = std::move(row.idempotency_key);
  job.region = std::move(row.region);
  job.planned_start = from_unix(row.planned_start);
  job.started_at = from_unix(row.started_at);
  job.finished_at = from_unix(row.finished_at);
  job.remote_name = std::move(row.remote_name);
  job.error = std::move(row.error);
  job_accounting_from_json(row.accounting_json, job);
  return job;
}

ReadingRow reading_row(const Reading& r) {
  ReadingRow row;
  row.feed = r.feed;
  row.location = r.location;
  row.signal = std::string(to_string(r.signal));
  row.kind = std::string(to_string(r.kind));
  row.timestamp = to_unix(r.timestamp);
  row.step = static_cast<std::int64_t>(r.step.count());
  row.value = r.gco2_per_kwh;
  row.issued_at = to_unix(r.issued_at);
  row.fetched_at = to_unix(r.fetched_at);
  row.estimated = r.estimated;
  row.renewable_percent = r.renewable_percent;
  row.fossil_free_percent = r.fossil_free_percent;
  if (!r.consumption_mix.empty()) row.mix_json = nlohmann::json(r.consumption_mix).dump();
  return row;
}

Result<Reading> reading_from_row(ReadingRow row) {
  Reading r;
  r.feed = std::move(row.feed);
  r.location = std::move(row.location);
  auto signal = parse_signal_type(row.signal);
  if (!signal) return corrupt_row("readings", "signal '" + row.signal + "'");
  r.signal = *signal;
  auto kind = parse_reading_kind(row.kind);
  if (!kind) return corrupt_row("readings", "kind '" + row.kind + "'");
  r.kind = *kind;
  r.timestamp = from_unix(row.timestamp);
  r.step = Seconds{row.step};
  r.gco2_per_kwh = row.value;
  r.issued_at = from_unix(row.issued_at);
  r.fetched_at = from_unix(row.fetched_at);
  r.estimated = row.estimated;
  r.renewable_percent = row.renewable_percent;
  r.fossil_free_percent = row.fossil_free_percent;
  if (!row.mix_json.empty()) {
    const auto j = nlohmann::json::parse(row.mix_json, nullptr, false);
    if (!j.is_object()) return corrupt_row("readings", "mix_json is not a JSON object");
    for (const auto& [source, share] : j.items()) {
      if (!share.is_number()) return corrupt_row("readings", "mix_json holds a non-number");
      r.consumption_mix[source] = share.get<double>();
    }
  }
  return r;
}

JournalRow journal_row(const DispatchRecord& record) {
  JournalRow row;
  row.job_id = record.job_id;
  row.attempt = record.attempt;
  row.target = record.target;
  row.region = record.region;
  row.status = std::string(to_string(record.status));
  row.created_at = to_unix(record.created_at);
  row.updated_at = to_unix(record.updated_at);
  row.remote_name = record.remote_name;
  row.detail = record.detail;
  row.segment = record.segment;
  return row;
}

Result<DispatchRecord> record_from_row(JournalRow row) {
  DispatchRecord r;
  auto status = parse_dispatch_status(row.status);
  if (!status) return corrupt_row("dispatch_journal", "status '" + row.status + "'");
  r.job_id = std::move(row.job_id);
  r.attempt = static_cast<int>(row.attempt);
  r.target = std::move(row.target);
  r.region = std::move(row.region);
  r.status = *status;
  r.created_at = from_unix(row.created_at);
  r.updated_at = from_unix(row.updated_at);
  r.remote_name = std::move(row.remote_name);
  r.detail = std::move(row.detail);
  r.segment = static_cast<int>(row.segment);
  return r;
}

}  // namespace gridshift::rows
