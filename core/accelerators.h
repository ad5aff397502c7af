// The accelerator power table (data/accelerators.csv, compiled into the binary) and the
// derivation of a job's power draw from it (docs/design.md, "Carbon basics"). Immutable after
// construction.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.h"
#include "core/result.h"

namespace gridshift {

struct AcceleratorInfo {
  std::string type;        // Vertex AI accelerator enum name, e.g. NVIDIA_TESLA_A100
  double board_watts = 0;  // typical board power under saturated training
  // Embodied carbon of one accelerator (manufacture, transport, end of life), kg CO2e; nullopt
  // where no published figure was found (docs/levers.md).
  std::optional<double> embodied_kgco2e;
  std::string source;  // where the figures come from
};

class AcceleratorTable {
 public:
  // Parses CSV text with header "accelerator_type,board_watts,embodied_kgco2e,source". Error code
  // "invalid_accelerator_table" naming the line.
  static Result<AcceleratorTable> parse_csv(std::string_view text);
  // The table shipped in data/accelerators.csv, embedded at build time.
  static const AcceleratorTable& builtin();

  const AcceleratorInfo* find(std::string_view type) const;
  const std::vector<AcceleratorInfo>& entries() const { return entries_; }

 private:
  std::vector<AcceleratorInfo> entries_;
};

// True for the Vertex AI AcceleratorType enum names gridshift knows of, including those without
// a power figure in the table (TPU_V2, TPU_V3, TPU_V5_LITEPOD): a spec may use them with an
// explicit power_watts.
bool is_vertex_accelerator_type(std::string_view type);

inline constexpr double kDefaultHostWattsPerReplica = 150.0;

// power_watts when given; else (accelerator_count x board power + host share) x replica_count.
// A spec without vertex settings and without power_watts gets the host share alone.
double derive_power_watts(const JobSpec& spec, const AcceleratorTable& table,
                          double host_watts_per_replica = kDefaultHostWattsPerReplica);

}  // namespace gridshift
