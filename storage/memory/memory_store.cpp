#include "storage/memory/memory_store.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/units.h"

namespace gridshift {
namespace {

std::int64_t to_unix(TimePoint t) {
  return t.time_since_epoch().count();
}

bool overlaps(const Reading& r, TimePoint from, TimePoint to) {
  return r.timestamp < to && r.timestamp + r.step > from;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// JobStore

const Job* MemoryStore::find(std::string_view id) const {
  auto found = job_index_.find(id);
  return found == job_index_.end() ? nullptr : &jobs_[found->second];
}

Result<Job> MemoryStore::insert(const Job& job, const JobEvent& first_event) {
  if (job.idempotency_key) {
    for (const Job& existing : jobs_) {
      if (existing.owner_uid == job.owner_uid && existing.idempotency_key == job.idempotency_key) {
        return existing;
      }
    }
  }
  if (find(job.id) != nullptr)
    return make_error(errc::kConflict, "job " + job.id + " already exists");
  job_index_.emplace(job.id, jobs_.size());
  jobs_.push_back(job);
  JobEvent event = first_event;
  event.job_id = job.id;
  event.seq = next_event_seq_++;
  events_.push_back(std::move(event));
  return job;
}

Result<std::vector<Result<Job>>> MemoryStore::insert_batch(const std::vector<JobInsert>& items) {
  std::vector<Result<Job>> results;
  results.reserve(items.size());
  for (const auto& item : items)
    results.push_back(insert(item.job, item.first_event));
  return results;
}

Status MemoryStore::update(const Job& job, const JobEvent& event) {
  auto found = job_index_.find(job.id);
  if (found == job_index_.end()) return make_error(errc::kNotFound, "no job " + job.id);
  if (job.idempotency_key) {
    for (const Job& other : jobs_) {
      if (other.id != job.id && other.owner_uid == job.owner_uid &&
          other.idempotency_key == job.idempotency_key) {
        return make_error(errc::kConflict, "idempotency key already used by job " + other.id);
      }
    }
  }
  // The spec is fixed at submission: a summary job must not replace it.
  JobSpec spec = std::move(jobs_[found->second].spec);
  jobs_[found->second] = job;
  jobs_[found->second].spec = std::move(spec);
  jobs_[found->second].spec_is_summary = false;
  JobEvent appended = event;
  appended.job_id = job.id;
  appended.seq = next_event_seq_++;
  events_.push_back(std::move(appended));
  return {};
}

Result<std::optional<Job>> MemoryStore::get(std::string_view id) {
  const Job* job = find(id);
  if (job == nullptr) return std::optional<Job>();
  return std::optional<Job>(*job);
}

Result<JobPage> MemoryStore::list(const JobQuery& query) {
  JobPage page;
  if (query.limit == 0) return page;
  std::size_t start = 0;
  if (query.after) {
    auto found = job_index_.find(*query.after);
    if (found == job_index_.end()) {
      return make_error("invalid_request", "unknown page cursor",
                        {FieldError{"after", "no job " + *query.after, 0}});
    }
    start = found->second + 1;
  }
  for (std::size_t i = start; i < jobs_.size(); ++i) {
    const Job& job = jobs_[i];
    if (query.state && job.state != *query.state) continue;
    if (page.jobs.size() == query.limit) {
      page.next = page.jobs.back().id;
      break;
    }
    page.jobs.push_back(job);
    if (query.summary) {
      page.jobs.back().spec = summarize(job.spec);
      page.jobs.back().spec_is_summary = true;
    }
  }
  return page;
}

Status MemoryStore::update_if(const Job& job, JobState expected, const JobEvent& event) {
  const Job* stored = find(job.id);
  if (stored == nullptr) return make_error(errc::kNotFound, "no job " + job.id);
  if (stored->state != expected) {
    return make_error(errc::kConflict, fmt::format("job {} is {}, not {}", job.id,
                                                   to_string(stored->state), to_string(expected)));
  }
  return update(job, event);
}

Status MemoryStore::quarantine(std::string_view id, const std::string& reason, TimePoint now) {
  auto found = job_index_.find(std::string(id));
  if (found == job_index_.end()) return make_error(errc::kNotFound, "no job " + std::string(id));
  Job& job = jobs_[found->second];
  job.state = JobState::failed;
  job.error = reason;
  job.updated_at = now;
  job.finished_at = now;
  JobEvent event;
  event.job_id = job.id;
  event.at = now;
  event.type = "quarantined";
  event.message = "failed: " + reason;
  event.seq = next_event_seq_++;
  events_.push_back(std::move(event));
  return {};
}

Result<std::size_t> MemoryStore::count_owned(JobState state, std::uint32_t owner_uid) {
  return static_cast<std::size_t>(std::count_if(jobs_.begin(), jobs_.end(), [&](const Job& j) {
    return j.state == state && j.owner_uid == owner_uid;
  }));
}

Result<std::size_t> MemoryStore::count(std::optional<JobState> state) {
  if (!state) return jobs_.size();
  return static_cast<std::size_t>(
      std::count_if(jobs_.begin(), jobs_.end(), [&](const Job& j) { return j.state == *state; }));
}

Result<std::vector<JobEvent>> MemoryStore::events(std::string_view job_id) {
  std::vector<JobEvent> out;
  for (const JobEvent& event : events_) {
    if (event.job_id == job_id) out.push_back(event);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ReadingStore

Result<std::size_t> MemoryStore::upsert(std::span<const Reading> readings) {
  for (const Reading& r : readings) {
    ReadingKey key{r.feed,
                   r.location,
                   std::string(to_string(r.signal)),
                   std::string(to_string(r.kind)),
                   to_unix(r.issued_at),
                   to_unix(r.timestamp)};
    readings_.insert_or_assign(std::move(key), r);
  }
  return readings.size();
}

std::vector<Reading> MemoryStore::select(const std::string& feed, const std::string& location,
                                         ReadingKind kind) const {
  std::vector<Reading> out;
  for (const auto& [key, reading] : readings_) {
    if (reading.feed == feed && reading.location == location && reading.kind == kind) {
      out.push_back(reading);
    }
  }
  return out;
}

Result<std::vector<Reading>> MemoryStore::actuals(const std::string& feed,
                                                  const std::string& location, TimePoint from,
                                                  TimePoint to) {
  std::vector<Reading> out;
  for (Reading& r : select(feed, location, ReadingKind::actual)) {
    if (overlaps(r, from, to)) out.push_back(std::move(r));
  }
  std::stable_sort(out.begin(), out.end(), [](const Reading& a, const Reading& b) {
    return std::make_tuple(a.timestamp, to_string(a.signal), a.issued_at) <
           std::make_tuple(b.timestamp, to_string(b.signal), b.issued_at);
  });
  return out;
}

Result<std::optional<Reading>> MemoryStore::latest_actual(const std::string& feed,
                                                          const std::string& location) {
  std::optional<Reading> best;
  for (Reading& r : select(feed, location, ReadingKind::actual)) {
    // Newest timestamp, then newest issue, then the first signal by name.
    if (!best ||
        std::make_tuple(r.timestamp, r.issued_at) >
            std::make_tuple(best->timestamp, best->issued_at) ||
        (std::make_tuple(r.timestamp, r.issued_at) ==
             std::make_tuple(best->timestamp, best->issued_at) &&
         to_string(r.signal) < to_string(best->signal))) {
      best = std::move(r);
    }
  }
  return best;
}

Result<std::vector<Reading>> MemoryStore::forecast(const std::string& feed,
                                                   const std::string& location, TimePoint from,
                                                   TimePoint to) {
  std::map<TimePoint, Reading> newest;  // by timestamp
  for (Reading& r : select(feed, location, ReadingKind::forecast)) {
    if (!overlaps(r, from, to)) continue;
    auto found = newest.find(r.timestamp);
    if (found == newest.end()) {
      newest.emplace(r.timestamp, std::move(r));
      continue;
    }
    const Reading& held = found->second;
    if (r.issued_at > held.issued_at ||
        (r.issued_at == held.issued_at && to_string(r.signal) < to_string(held.signal))) {
      found->second = std::move(r);
    }
  }
  std::vector<Reading> out;
  out.reserve(newest.size());
  for (auto& [timestamp, reading] : newest)
    out.push_back(std::move(reading));
  return out;
}

Result<std::vector<Reading>> MemoryStore::forecasts_issued(const std::string& feed,
                                                           const std::string& location,
                                                           TimePoint from, TimePoint to) {
  std::vector<Reading> out;
  for (Reading& r : select(feed, location, ReadingKind::forecast)) {
    if (r.issued_at >= from && r.issued_at < to) out.push_back(std::move(r));
  }
  std::stable_sort(out.begin(), out.end(), [](const Reading& a, const Reading& b) {
    return std::make_tuple(a.issued_at, a.timestamp, to_string(a.signal)) <
           std::make_tuple(b.issued_at, b.timestamp, to_string(b.signal));
  });
  return out;
}

Result<std::size_t> MemoryStore::prune(TimePoint cutoff) {
  return static_cast<std::size_t>(std::erase_if(readings_, [&](const auto& entry) {
    const Reading& r = entry.second;
    return r.timestamp + r.step <= cutoff;
  }));
}

// ---------------------------------------------------------------------------------------------
// DispatchJournal

Status MemoryStore::record_intent(const DispatchRecord& record) {
  if (find(record.job_id) == nullptr) return make_error(errc::kNotFound, "no job " + record.job_id);
  auto [it, inserted] = journal_.try_emplace(JournalKey{record.job_id, record.attempt}, record);
  if (!inserted) {
    return make_error(errc::kConflict, "attempt " + std::to_string(record.attempt) + " of job " +
                                           record.job_id + " is already journalled");
  }
  return {};
}

Status MemoryStore::update(const DispatchRecord& record) {
  auto found = journal_.find(JournalKey{record.job_id, record.attempt});
  if (found == journal_.end()) {
    return make_error(errc::kNotFound, "no attempt " + std::to_string(record.attempt) + " of job " +
                                           record.job_id + " in the dispatch journal");
  }
  DispatchRecord& held = found->second;
  held.status = record.status;
  held.updated_at = record.updated_at;
  held.remote_name = record.remote_name;
  held.detail = record.detail;
  return {};
}

Result<std::vector<DispatchRecord>> MemoryStore::unresolved() {
  std::vector<DispatchRecord> out;
  for (const auto& [key, record] : journal_) {
    if (record.status == DispatchStatus::intent) out.push_back(record);
  }
  std::stable_sort(out.begin(), out.end(), [](const DispatchRecord& a, const DispatchRecord& b) {
    return std::tie(a.created_at, a.job_id, a.attempt) <
           std::tie(b.created_at, b.job_id, b.attempt);
  });
  return out;
}

Result<std::vector<DispatchRecord>> MemoryStore::for_job(std::string_view job_id) {
  std::vector<DispatchRecord> out;
  for (const auto& [key, record] : journal_) {
    if (key.first == job_id) out.push_back(record);  // the map orders by attempt within a job
  }
  return out;
}

}  // namespace gridshift
