// Training jobs: the spec a user submits (docs/design.md, "Job specs") and the record the daemon
// keeps. Plain values; the stores own the persisted copies.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "core/units.h"

namespace gridshift {

enum class Policy { best_window, threshold, now };
enum class SchedulingStrategy { standard, spot, flex_start };
enum class JobState { queued, dispatching, running, succeeded, failed, cancelled };

std::string_view to_string(Policy p);
std::optional<Policy> parse_policy(std::string_view text);
std::string_view to_string(SchedulingStrategy s);  // "STANDARD", "SPOT", "FLEX_START"
std::optional<SchedulingStrategy> parse_scheduling_strategy(std::string_view text);
std::string_view to_string(JobState s);
std::optional<JobState> parse_job_state(std::string_view text);
bool is_terminal(JobState s);

struct ContainerSpec {
  std::string image_uri;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  bool operator==(const ContainerSpec&) const = default;
};

struct PythonPackageSpec {
  std::string executor_image_uri;
  std::vector<std::string> package_uris;
  std::string python_module;
  std::vector<std::string> args;
  bool operator==(const PythonPackageSpec&) const = default;
};

struct SchedulingSpec {
  SchedulingStrategy strategy = SchedulingStrategy::standard;
  std::optional<Seconds> timeout;
  bool operator==(const SchedulingSpec&) const = default;
};

struct VertexSpec {
  std::string machine_type;
  std::string accelerator_type;  // Vertex AI enum name, e.g. NVIDIA_TESLA_A100; empty = none
  int accelerator_count = 0;
  int replica_count = 1;
  std::optional<ContainerSpec> container;
  std::optional<PythonPackageSpec> python_package;
  std::string service_account;
  SchedulingSpec scheduling;
  std::map<std::string, std::string> labels;
  bool operator==(const VertexSpec&) const = default;
};

struct LocalSpec {
  std::vector<std::string> command;
  bool operator==(const LocalSpec&) const = default;
};

// A job that checkpoints and may run in several windows (docs/scheduling.md, "Interruptible
// jobs"): at most `max_segments` segments of at least `min_segment` each, every resume costing
// `resume_overhead` of extra run time (reloading the checkpoint).
struct InterruptibleSpec {
  int max_segments = 2;
  Seconds min_segment{3600};
  Seconds resume_overhead{0};
  bool operator==(const InterruptibleSpec&) const = default;
};

// Another way to run the same job (docs/levers.md, "Hardware alternatives"): each field set
// replaces the main spec's. `vertex` is the main spec's vertex settings with the alternative's
// keys written over them (so an alternative names only the hardware that differs).
struct AlternativeSpec {
  std::optional<VertexSpec> vertex;
  std::optional<LocalSpec> local;
  std::optional<Seconds> duration;
  std::optional<double> power_watts;
  bool operator==(const AlternativeSpec&) const = default;
};

// A segment stops this long after its end at the latest: the trainer is told the end and is
// expected to checkpoint and exit before it.
inline constexpr Seconds kSegmentOverrun{10 * 60};

struct JobSpec {
  std::string name;
  std::vector<std::string> regions;  // empty = every configured region
  Seconds duration{0};
  std::optional<TimePoint> deadline;
  std::optional<TimePoint> not_before;
  // Written relative (+14h, tomorrow 08:00) and not yet resolved to an instant: the CLI
  // resolves local clock times, the daemon offsets from submission (resolve_spec_times).
  std::optional<SpecTime> deadline_pending;
  std::optional<SpecTime> not_before_pending;
  std::optional<std::string> timezone;  // IANA zone for local clock times; else the CLI's
  Policy policy = Policy::best_window;
  std::optional<double> threshold;  // g/kWh
  std::optional<double> power_watts;
  std::optional<InterruptibleSpec> interruptible;
  std::optional<VertexSpec> vertex;
  std::optional<LocalSpec> local;
  std::vector<AlternativeSpec> alternatives;  // alternative k (1-based) is alternatives[k - 1]
  std::optional<double> max_cost_usd;         // options priced above it are not taken
  bool operator==(const JobSpec&) const = default;
};

// How a run ended. Only a run that succeeded has saved anything: a failed or cancelled run
// counts the grams it emitted and nothing else.
enum class JobOutcome { succeeded, failed, cancelled };
std::string_view to_string(JobOutcome outcome);

// A job's carbon accounting (core/accounting.h computes it). Like for like (docs/scheduling.md,
// "Accounting"): every figure covers the same run length, the real one (finished_at -
// started_at), whatever the declared duration was.
struct Accounting {
  std::string region;
  std::optional<SignalType> signal;
  JobOutcome outcome = JobOutcome::succeeded;
  Seconds run{0};                    // the run length every figure covers
  std::optional<double> baseline_g;  // at submission, first candidate region, observed values
  std::optional<double> planned_g;   // chosen window's forecast score over the run length
  std::optional<double> actual_g;    // real run interval, observed values
  std::optional<double> oracle_g;    // best feasible window of the run length, in hindsight
  std::optional<double> savings;     // 1 - actual / baseline; succeeded runs only
  std::optional<double> regret;      // actual / oracle - 1; succeeded runs only
  // Interruptible jobs: how many segments ran, and the least-grams segments in hindsight for
  // the same work (the job's own rules). Their regret is measured against this oracle;
  // oracle_g stays the best single block, so that what interruption added can be shown.
  int segments = 0;
  std::optional<double> oracle_segments_g;
  // The other levers (docs/levers.md), each null when a figure it needs is unknown: the price
  // of the run, the data centre's on-site water, and the accelerators' embodied carbon
  // amortised over their lifetime (scope 3, kept apart from the operational grams above).
  std::optional<double> cost_usd;
  std::optional<double> water_l;
  std::optional<double> embodied_g;
  bool operator==(const Accounting&) const = default;

  // Whether any figure still waits for readings (filled in when they arrive).
  bool incomplete() const;
};

// A candidate region the planner could not rank, and why ("no fresh data", ...).
struct Exclusion {
  std::string region;
  std::string reason;
  bool operator==(const Exclusion&) const = default;
};

// One run of an interruptible job. `end` is the end the trainer is told
// (GRIDSHIFT_SEGMENT_END); `finished_at` is when the run really ended.
enum class SegmentState {
  running,    // dispatched (or being dispatched) and not known to have ended
  stopping,   // overran its end by more than kSegmentOverrun: asked to stop
  ended,      // ended without the COMPLETE marker: the next segment follows
  complete,   // ended with the COMPLETE marker: the job succeeded
  failed,     // the run failed: the job failed
  cancelled,  // the job was cancelled
};
std::string_view to_string(SegmentState s);
std::optional<SegmentState> parse_segment_state(std::string_view text);

struct JobSegment {
  int n = 1;  // 1, 2, ...
  std::string region;
  TimePoint start{};
  TimePoint end{};
  std::optional<TimePoint> finished_at;
  SegmentState state = SegmentState::running;
  std::string remote_name;
  bool operator==(const JobSegment&) const = default;
};

// The daemon's record of a submitted job. Fields the submitter left open (deadline, regions,
// power) are resolved at submission so that later config changes do not move them.
struct Job {
  std::string id;  // lowercase [a-z0-9-], at most 40 characters
  std::uint32_t owner_uid = 0;
  JobSpec spec;
  JobState state = JobState::queued;
  TimePoint submitted_at{};
  TimePoint updated_at{};
  TimePoint deadline{};              // resolved
  std::vector<std::string> regions;  // resolved candidates, in preference order
  double power_watts = 0;            // resolved
  std::optional<std::string> idempotency_key;
  std::optional<std::string> region;  // chosen region once dispatched
  std::optional<TimePoint> planned_start;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> finished_at;
  std::optional<std::string> remote_name;  // the target's name of the remote job
  std::string error;                       // last failure, shown to the user
  std::optional<double> planned_score;     // the chosen window's forecast score, at dispatch
  std::vector<Exclusion> excluded;         // regions the latest plan could not rank
  std::optional<Accounting> accounting;    // once the job has ended
  std::vector<JobSegment> segments;        // interruptible jobs: every segment dispatched
  int alternative = 0;  // the way it runs: 0 = the main spec, k = spec.alternatives[k - 1]
  // True when `spec` is summarize(spec) (job lists); JobStore::get gives the whole spec.
  bool spec_is_summary = false;
  bool operator==(const Job&) const = default;
};

// What planning, accounting and other users see of a spec: everything but the run sections'
// contents (container and python package, labels, service account, local command), which only
// the dispatch target needs and only the owner may read. Presence of `vertex` and `local` is
// kept, with their hardware fields.
JobSpec summarize(const JobSpec& spec);

// The spec as alternative `index` runs it: the main spec with that alternative's fields written
// over it, and no alternatives. Index 0 (or one out of range) is the main spec itself.
JobSpec with_alternative(const JobSpec& spec, int index);
// `job` as its chosen alternative runs it: spec = with_alternative(spec, alternative).
Job as_run(const Job& job);

// Append-only history of a job. `seq` is assigned by the store, increasing per store.
struct JobEvent {
  std::int64_t seq = 0;
  std::string job_id;
  TimePoint at{};
  std::string type;       // "submitted", "state", "planned", "dispatch", "cancel_requested", ...
  std::string message;    // one line for people
  std::string data_json;  // optional structured detail, JSON object or ""
  bool operator==(const JobEvent&) const = default;
};

// The training time an interruptible job still needs: its duration less the time its ended
// segments ran (less each resume's overhead). When the trainer has not written COMPLETE although
// that reaches zero (the duration was underestimated), one more min_segment of work.
Seconds remaining_work(const Job& job);
// Run time the next segment of `job` adds for resuming: resume_overhead once a segment has run.
Seconds next_resume_overhead(const Job& job);
// The run time the job's next dispatch needs: remaining_work plus next_resume_overhead (the
// whole duration for a job that is not interruptible).
Seconds next_run_time(const Job& job);
// The segment a dispatch of `job` starts or follows now: the last one recorded; 0 for a job
// that is not interruptible.
int current_segment(const Job& job);
// The resume overhead inside segment `n` (none in the first).
Seconds segment_overhead(const Job& job, int n);

// True when `id` is a valid job id (lowercase [a-z0-9-], 1..40 characters).
bool is_valid_job_id(std::string_view id);

}  // namespace gridshift
