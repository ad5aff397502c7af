// Parsing and validation of job specs (docs/design.md, "Job specs") from YAML or JSON text. Pure: the
// context (configured regions, accelerator table, now) is passed in. Every error is returned
// at once, each naming its field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/accelerators.h"
#include "core/job.h"
#include "core/result.h"

namespace gridshift {

struct JobSpecContext {
  std::vector<std::string> known_regions;  // configured region names, in config order
  const AcceleratorTable* accelerators = &AcceleratorTable::builtin();
  TimePoint now{};
  Seconds default_deadline{24 * 3600};
  Seconds dispatch_slack{15 * 60};
};

// Structure and types only: unknown fields, wrong types, bad names, durations and times.
// Error code "invalid_job"; details name every field at fault.
Result<JobSpec> parse_job_spec(std::string_view text);

// Rules that need the context or relate fields to each other: unknown region, unknown
// accelerator, deadline before not_before, duration longer than the window, ...
std::vector<FieldError> validate_job_spec(const JobSpec& spec, const JobSpecContext& context);

// parse_job_spec then validate_job_spec, with every error of both in one Error.
Result<JobSpec> load_job_spec(std::string_view text, const JobSpecContext& context);

// Canonical JSON of a spec (the stored form); parse_job_spec reads it back unchanged.
std::string job_spec_to_json(const JobSpec& spec);

}  // namespace gridshift
