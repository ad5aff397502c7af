// Parsing and validation of job specs (docs/design.md, "Job specs") from YAML or JSON text. Pure:
// the context (configured regions, accelerator table, now) is passed in. Every error is returned at
// once, each naming its field.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/accelerators.h"
#include "core/job.h"
#include "core/result.h"

namespace gridshift {

// Turns a local wall-clock time into an instant, in `timezone` (an IANA name) or, without one,
// the caller's own zone. The CLI has one (cli/local_time.h); the daemon does not.
using LocalTimeResolver = std::function<Result<TimePoint>(
    const LocalClockTime& clock, const std::optional<std::string>& timezone)>;

struct JobSpecContext {
  std::vector<std::string> known_regions;  // configured region names, in config order
  const AcceleratorTable* accelerators = &AcceleratorTable::builtin();
  TimePoint now{};
  Seconds default_deadline{24 * 3600};
  Seconds dispatch_slack{15 * 60};
  const LocalTimeResolver* local_time = nullptr;  // null: local clock times are refused
};

// Structure and types only: unknown fields, wrong types, bad names, durations and times.
// Error code "invalid_job"; details name every field at fault.
Result<JobSpec> parse_job_spec(std::string_view text);

// Top-level fields set on the command line (`gridshift submit --deadline ...`), applied over
// the document's before it is read, so they are checked like the file's own.
struct SpecOverrides {
  std::vector<std::pair<std::string, std::string>> fields;  // scalar fields: name, duration, ...
  std::optional<std::vector<std::string>> regions;
};
Result<JobSpec> parse_job_spec(std::string_view text, const SpecOverrides& overrides);

// Each field path of a YAML or JSON spec text and the 1-based line of its key (as far as the
// text parses): lets the CLI place the daemon's field errors in the user's file.
std::map<std::string, int> job_spec_lines(std::string_view text);
// The line of `field` in such a map: its own, else the nearest enclosing field's ("regions[1]"
// -> "regions"); 0 when none is known.
int job_spec_field_line(const std::map<std::string, int>& lines, std::string_view field);

// Resolves deadline and not_before written relative: +DURATION from `submitted` (left pending
// without it), local clock times through `local` (an error naming the field without it).
std::vector<FieldError> resolve_spec_times(JobSpec& spec, std::optional<TimePoint> submitted,
                                           const LocalTimeResolver* local);

// Rules that need the context or relate fields to each other: unknown region, unknown
// accelerator, deadline before not_before, duration longer than the window, ...
std::vector<FieldError> validate_job_spec(const JobSpec& spec, const JobSpecContext& context);

// parse_job_spec then validate_job_spec, with every error of both in one Error.
Result<JobSpec> load_job_spec(std::string_view text, const JobSpecContext& context);

// load_job_spec for JSON text (the socket API's body), plus the JSON type checks YAML cannot make
// (5 and "5" are one scalar in YAML; in JSON a number where a string belongs is an error).
// Every error of both in one Error.
Result<JobSpec> load_json_job_spec(std::string_view text, const JobSpecContext& context);

// The job spec's schema: each field with its JSON type and, for mappings, its fields. The one
// list both the YAML parser (which keys exist) and the JSON type checks read.
struct SpecField {
  enum class Kind { string, number, integer, string_list, string_map, object, object_list };
  std::string_view name;
  Kind kind = Kind::string;
  const std::vector<SpecField>* children = nullptr;  // Kind::object and Kind::object_list
};
const std::vector<SpecField>& job_spec_schema();

// The "invalid_job" error every loader answers, for field errors found elsewhere (what the
// configured dispatch target needs of a spec).
Error invalid_job_spec(std::vector<FieldError> details);

// Canonical JSON of a spec (the stored form); parse_job_spec reads it back unchanged.
std::string job_spec_to_json(const JobSpec& spec);

}  // namespace gridshift
