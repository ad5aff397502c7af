#include "core/job.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <initializer_list>

namespace gridshift {
namespace {

// Inverse of to_string over every enumerator listed.
template <class Enum>
std::optional<Enum> parse_enum(std::string_view text, std::initializer_list<Enum> values) {
  for (const Enum value : values) {
    if (to_string(value) == text) return value;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(Policy p) {
  switch (p) {
    case Policy::best_window:
      return "best_window";
    case Policy::threshold:
      return "threshold";
    case Policy::now:
      return "now";
  }
  return "unknown";
}

std::optional<Policy> parse_policy(std::string_view text) {
  return parse_enum(text, {Policy::best_window, Policy::threshold, Policy::now});
}

std::string_view to_string(SchedulingStrategy s) {
  switch (s) {
    case SchedulingStrategy::standard:
      return "STANDARD";
    case SchedulingStrategy::spot:
      return "SPOT";
    case SchedulingStrategy::flex_start:
      return "FLEX_START";
  }
  return "unknown";
}

std::optional<SchedulingStrategy> parse_scheduling_strategy(std::string_view text) {
  return parse_enum(text, {SchedulingStrategy::standard, SchedulingStrategy::spot,
                           SchedulingStrategy::flex_start});
}

std::string_view to_string(JobState s) {
  switch (s) {
    case JobState::queued:
      return "queued";
    case JobState::dispatching:
      return "dispatching";
    case JobState::running:
      return "running";
    case JobState::succeeded:
      return "succeeded";
    case JobState::failed:
      return "failed";
    case JobState::cancelled:
      return "cancelled";
  }
  return "unknown";
}

std::optional<JobState> parse_job_state(std::string_view text) {
  return parse_enum(text, {JobState::queued, JobState::dispatching, JobState::running,
                           JobState::succeeded, JobState::failed, JobState::cancelled});
}

bool is_terminal(JobState s) {
  return s == JobState::succeeded || s == JobState::failed || s == JobState::cancelled;
}

JobSpec summarize(const JobSpec& spec) {
  JobSpec out;
  out.name = spec.name;
  out.regions = spec.regions;
  out.duration = spec.duration;
  out.deadline = spec.deadline;
  out.not_before = spec.not_before;
  out.policy = spec.policy;
  out.threshold = spec.threshold;
  out.power_watts = spec.power_watts;
  out.interruptible = spec.interruptible;
  if (spec.vertex) {
    VertexSpec v;
    v.machine_type = spec.vertex->machine_type;
    v.accelerator_type = spec.vertex->accelerator_type;
    v.accelerator_count = spec.vertex->accelerator_count;
    v.replica_count = spec.vertex->replica_count;
    v.scheduling = spec.vertex->scheduling;
    out.vertex = std::move(v);
  }
  if (spec.local) out.local = LocalSpec{};
  out.max_cost_usd = spec.max_cost_usd;
  for (const auto& alternative : spec.alternatives) {
    AlternativeSpec a;
    a.duration = alternative.duration;
    a.power_watts = alternative.power_watts;
    if (alternative.vertex) {
      JobSpec hardware;
      hardware.vertex = alternative.vertex;
      a.vertex = summarize(hardware).vertex;
    }
    if (alternative.local) a.local = LocalSpec{};
    out.alternatives.push_back(std::move(a));
  }
  return out;
}

JobSpec with_alternative(const JobSpec& spec, int index) {
  JobSpec out = spec;
  out.alternatives.clear();
  if (index < 1 || static_cast<std::size_t>(index) > spec.alternatives.size()) return out;
  const auto& alternative = spec.alternatives[static_cast<std::size_t>(index) - 1];
  // Other hardware draws other power: the main spec's power_watts does not carry over to it.
  if ((alternative.vertex || alternative.local) && !alternative.power_watts) {
    out.power_watts.reset();
  }
  if (alternative.vertex) out.vertex = alternative.vertex;
  if (alternative.local) out.local = alternative.local;
  if (alternative.duration) out.duration = *alternative.duration;
  if (alternative.power_watts) out.power_watts = alternative.power_watts;
  return out;
}

Job as_run(const Job& job) {
  Job out = job;
  out.spec = with_alternative(job.spec, job.alternative);
  return out;
}

namespace {
constexpr std::array<std::string_view, 6> kSegmentStates = {"running",  "stopping", "ended",
                                                            "complete", "failed",   "cancelled"};
}  // namespace

std::string_view to_string(SegmentState s) {
  return kSegmentStates[static_cast<std::size_t>(s)];
}

std::optional<SegmentState> parse_segment_state(std::string_view text) {
  for (std::size_t i = 0; i < kSegmentStates.size(); ++i) {
    if (kSegmentStates[i] == text) return static_cast<SegmentState>(i);
  }
  return std::nullopt;
}

Seconds next_resume_overhead(const Job& job) {
  if (!job.spec.interruptible || job.segments.empty()) return Seconds{0};
  return job.spec.interruptible->resume_overhead;
}

Seconds next_run_time(const Job& job) {
  return remaining_work(job) + next_resume_overhead(job);
}

int current_segment(const Job& job) {
  if (!job.spec.interruptible || job.segments.empty()) return 0;
  return job.segments.back().n;
}

Seconds segment_overhead(const Job& job, int n) {
  if (!job.spec.interruptible || n <= 1) return Seconds{0};
  return job.spec.interruptible->resume_overhead;
}

Seconds remaining_work(const Job& job) {
  const Seconds duration = with_alternative(job.spec, job.alternative).duration;
  if (!job.spec.interruptible) return duration;
  Seconds done{0};
  for (const auto& s : job.segments) {
    if (!s.finished_at || *s.finished_at <= s.start) continue;
    const Seconds ran = std::chrono::duration_cast<Seconds>(*s.finished_at - s.start);
    done += std::max(Seconds{0}, ran - segment_overhead(job, s.n));
  }
  const Seconds left = duration - done;
  const Seconds at_least =
      job.spec.interruptible->min_segment - job.spec.interruptible->resume_overhead;
  // A next segment runs at least min_segment, overhead included, whatever is left.
  return std::max(left, at_least);
}

bool is_valid_job_id(std::string_view id) {
  if (id.empty() || id.size() > 40) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace gridshift
