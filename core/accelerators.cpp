#include "core/accelerators.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace gridshift::detail {
extern const std::string_view kAcceleratorsCsv;
}  // namespace gridshift::detail

namespace gridshift {
namespace {

constexpr std::string_view kHeader = "accelerator_type,board_watts,source";

Error table_error(int line, std::string field, std::string message) {
  return make_error("invalid_accelerator_table",
                    "accelerator table line " + std::to_string(line) + ": " + message,
                    {FieldError{std::move(field), std::move(message), line}});
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

// The source column is the rest of the line after the second comma, so it may hold commas.
Result<AcceleratorTable> AcceleratorTable::parse_csv(std::string_view text) {
  AcceleratorTable table;
  std::set<std::string, std::less<>> seen;
  bool header_seen = false;
  int line_number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!header_seen) {
      if (line != kHeader) {
        return table_error(line_number, "header",
                           "expected header \"" + std::string(kHeader) + "\"");
      }
      header_seen = true;
      continue;
    }
    const std::size_t first = line.find(',');
    const std::size_t second =
        first == std::string_view::npos ? std::string_view::npos : line.find(',', first + 1);
    if (second == std::string_view::npos) {
      return table_error(line_number, "",
                         "expected 3 columns: accelerator_type,board_watts,source");
    }
    const std::string_view type = line.substr(0, first);
    const std::string_view watts_text = line.substr(first + 1, second - first - 1);
    const std::string_view source = line.substr(second + 1);
    if (!is_type_name(type)) {
      return table_error(line_number, "accelerator_type",
                         "accelerator_type must be an upper-case enum name like NVIDIA_L4");
    }
    double watts = 0;
    const auto [ptr, ec] =
        std::from_chars(watts_text.data(), watts_text.data() + watts_text.size(), watts);
    if (ec != std::errc{} || ptr != watts_text.data() + watts_text.size() || !(watts > 0) ||
        watts > 1e6) {
      return table_error(line_number, "board_watts", "board_watts must be a positive number");
    }
    if (source.empty()) return table_error(line_number, "source", "source must not be empty");
    if (!seen.emplace(type).second) {
      return table_error(line_number, "accelerator_type",
                         "duplicate accelerator_type " + std::string(type));
    }
    table.entries_.push_back(AcceleratorInfo{std::string(type), watts, std::string(source)});
  }
  if (!header_seen) return table_error(1, "header", "the table is empty");
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
