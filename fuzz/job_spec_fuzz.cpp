// Fuzz target: the job spec parser (YAML or JSON text, docs/design.md, "Job specs"), structure then context
// validation. An accepted spec must survive its canonical JSON unchanged (the stored form).
#include "core/job_spec.h"
#include "fuzz_support.h"

namespace gf = gridshift::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gridshift;
  const auto text = gf::as_text(data, size);
  if (auto spec = parse_job_spec(text)) {
    auto again = parse_job_spec(job_spec_to_json(*spec));
    gf::require(again.has_value(), "the canonical JSON of an accepted spec is refused");
    gf::require(*again == *spec, "the canonical JSON changes the spec");
  } else {
    gf::require_error(spec.error(), "invalid_job");
  }
  JobSpecContext context;
  context.known_regions = {"europe-west2", "europe-west9"};
  context.now = TimePoint{Seconds{1'790'000'000}};
  if (auto loaded = load_job_spec(text, context)) {
    gf::require(validate_job_spec(*loaded, context).empty(), "loaded spec fails validation");
  } else {
    gf::require_error(loaded.error(), "invalid_job");
  }
  return 0;
}
