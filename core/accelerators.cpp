#include "core/accelerators.h"

#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/text.h"

namespace gridshift::detail {
extern const std::string_view kAcceleratorsCsv;
}  // namespace gridshift::detail

namespace gridshift {
namespace {

constexpr std::string_view kHeader = "accelerator_type,board_watts,embodied_kgco2e,source";

// A number in (0, 1e6]; nullopt otherwise.
std::optional<double> positive_number(std::string_view text) {
  const auto value = parse_number(text);
  if (!value || !(*value > 0) || *value > 1e6) return std::nullopt;
  return value;
}

bool is_type_name(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

// The source column is the rest of the line after the third comma, so it may hold commas.
Result<AcceleratorTable> AcceleratorTable::parse_csv(std::string_view text) {
  AcceleratorTable table;
  std::set<std::string, std::less<>> seen;
  constexpr std::string_view kCode = "invalid_accelerator_table";
  constexpr std::string_view kWhat = "accelerator table";
  auto error = csv_rows(
      text, kHeader, 4, kCode, kWhat,
      [&](int line, const std::vector<std::string_view>& f) -> std::optional<Error> {
        const std::string_view type = f[0];
        if (!is_type_name(type)) {
          return csv_line_error(kCode, kWhat, line, "accelerator_type",
                                "accelerator_type must be an upper-case enum name like NVIDIA_L4");
        }
        const auto watts = positive_number(f[1]);
        if (!watts) {
          return csv_line_error(kCode, kWhat, line, "board_watts",
                                "board_watts must be a positive number");
        }
        std::optional<double> embodied;
        if (!f[2].empty()) {
          embodied = positive_number(f[2]);
          if (!embodied) {
            return csv_line_error(kCode, kWhat, line, "embodied_kgco2e",
                                  "embodied_kgco2e must be a positive number or empty");
          }
        }
        if (f[3].empty()) {
          return csv_line_error(kCode, kWhat, line, "source", "source must not be empty");
        }
        if (!seen.emplace(type).second) {
          return csv_line_error(kCode, kWhat, line, "accelerator_type",
                                "duplicate accelerator_type " + std::string(type));
        }
        table.entries_.push_back(
            AcceleratorInfo{std::string(type), *watts, embodied, std::string(f[3])});
        return std::nullopt;
      });
  if (error) return *error;
  return table;
}

const AcceleratorTable& AcceleratorTable::builtin() {
  static const AcceleratorTable table = [] {
    auto parsed = parse_csv(detail::kAcceleratorsCsv);
    if (!parsed) {
      // The CSV is compiled in and covered by a unit test, so this is a build defect.
      std::fprintf(stderr, "gridshift: the built-in data/accelerators.csv is invalid: %s\n",
                   to_string(parsed.error()).c_str());
      std::abort();
    }
    return std::move(*parsed);
  }();
  return table;
}

const AcceleratorInfo* AcceleratorTable::find(std::string_view type) const {
  for (const auto& entry : entries_) {
    if (entry.type == type) return &entry;
  }
  return nullptr;
}

bool is_vertex_accelerator_type(std::string_view type) {
  static constexpr std::string_view kTypes[] = {
      "NVIDIA_TESLA_K80",
      "NVIDIA_TESLA_P100",
      "NVIDIA_TESLA_V100",
      "NVIDIA_TESLA_P4",
      "NVIDIA_TESLA_T4",
      "NVIDIA_TESLA_A100",
      "NVIDIA_A100_80GB",
      "NVIDIA_L4",
      "NVIDIA_H100_80GB",
      "NVIDIA_H100_MEGA_80GB",
      "NVIDIA_H200_141GB",
      "NVIDIA_B200",
      "NVIDIA_GB200",
      "NVIDIA_RTX_PRO_6000",
      "TPU_V2",
      "TPU_V3",
      "TPU_V4_POD",
      "TPU_V5_LITEPOD",
  };
  for (const auto known : kTypes) {
    if (known == type) return true;
  }
  return false;
}

double derive_power_watts(const JobSpec& spec, const AcceleratorTable& table,
                          double host_watts_per_replica) {
  if (spec.power_watts) return *spec.power_watts;
  if (!spec.vertex) return host_watts_per_replica;
  const VertexSpec& vertex = *spec.vertex;
  double accelerator_watts = 0;
  if (!vertex.accelerator_type.empty() && vertex.accelerator_count > 0) {
    // An unknown type adds nothing here; validate_job_spec reports it before this is used.
    if (const AcceleratorInfo* info = table.find(vertex.accelerator_type)) {
      accelerator_watts = vertex.accelerator_count * info->board_watts;
    }
  }
  const int replicas = vertex.replica_count > 0 ? vertex.replica_count : 1;
  return (accelerator_watts + host_watts_per_replica) * replicas;
}

}  // namespace gridshift
