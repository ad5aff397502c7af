#include "core/levers.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <tuple>

#include "core/text.h"
#include "core/units.h"

namespace gridshift::detail {
extern const std::string_view kGcpAcceleratorsCsv;
extern const std::string_view kGcpPricesCsv;
}  // namespace gridshift::detail

namespace gridshift {
namespace {

// A non-negative decimal; nullopt for empty text; `bad` set when the text is not one.
std::optional<double> price_value(std::string_view text, bool& bad) {
  if (text.empty()) return std::nullopt;
  const auto value = parse_number(text);
  if (!value || *value < 0 || *value > 1e6) {
    bad = true;
    return std::nullopt;
  }
  return value;
}

template <class Table>
const Table& parse_builtin(std::string_view text, const char* file) {
  static const Table table = [&] {
    auto parsed = Table::parse_csv(text);
    if (!parsed) {
      // The CSV is compiled in and covered by a unit test, so this is a build defect.
      std::fprintf(stderr, "gridshift: the built-in %s is invalid: %s\n", file,
                   to_string(parsed.error()).c_str());
      std::abort();
    }
    return std::move(*parsed);
  }();
  return table;
}

const RegionLevers* region_levers(std::string_view region, const LeverContext& context) {
  const auto it = context.regions.find(region);
  return it == context.regions.end() ? nullptr : &it->second;
}

// One SKU's hourly price in a region: the config's over the table's.
std::optional<double> sku_price(std::string_view region, std::string_view sku, bool spot,
                                const LeverContext& context) {
  SkuPrice price;
  if (context.prices != nullptr) {
    if (const auto* row = context.prices->find(region, sku)) price = row->price;
  }
  if (const auto* levers = region_levers(region, context)) {
    if (const auto it = levers->prices.find(sku); it != levers->prices.end()) {
      if (it->second.usd_per_hour) price.usd_per_hour = it->second.usd_per_hour;
      if (it->second.spot_usd_per_hour) price.spot_usd_per_hour = it->second.spot_usd_per_hour;
    }
  }
  return spot ? price.spot_usd_per_hour : price.usd_per_hour;
}

double hours_of(Seconds run) {
  return static_cast<double>(run.count()) / 3600.0;
}

}  // namespace

Result<AcceleratorAvailability> AcceleratorAvailability::parse_csv(std::string_view text) {
  AcceleratorAvailability out;
  std::set<std::pair<std::string, std::string>> seen;
  constexpr std::string_view kCode = "invalid_availability_table";
  constexpr std::string_view kTable = "accelerator availability table";
  auto error =
      csv_rows(text, "region,accelerator_type,source", 3, kCode, kTable,
               [&](int line, const std::vector<std::string_view>& f) -> std::optional<Error> {
                 if (f[0].empty())
                   return csv_line_error(kCode, kTable, line, "region", "region is empty");
                 if (!is_vertex_accelerator_type(f[1])) {
                   return csv_line_error(kCode, kTable, line, "accelerator_type",
                                         "unknown accelerator_type " + std::string(f[1]));
                 }
                 if (f[2].empty())
                   return csv_line_error(kCode, kTable, line, "source", "source is empty");
                 if (!seen.emplace(std::string(f[0]), std::string(f[1])).second) {
                   return csv_line_error(kCode, kTable, line, "region", "duplicate row");
                 }
                 out.rows_.push_back(Row{std::string(f[0]), std::string(f[1]), std::string(f[2])});
                 return std::nullopt;
               });
  if (error) return *error;
  return out;
}

const AcceleratorAvailability& AcceleratorAvailability::builtin() {
  return parse_builtin<AcceleratorAvailability>(detail::kGcpAcceleratorsCsv,
                                                "data/gcp-accelerators.csv");
}

std::optional<bool> AcceleratorAvailability::offers(std::string_view region,
                                                    std::string_view type) const {
  bool type_known = false;
  bool region_described = false;
  for (const auto& row : rows_) {
    if (row.region == region && row.accelerator_type == type) return true;
    type_known = type_known || row.accelerator_type == type;
    region_described = region_described || row.region == region;
  }
  if (type_known && region_described) return false;
  return std::nullopt;
}

std::string AcceleratorAvailability::source_of(std::string_view type) const {
  for (const auto& row : rows_) {
    if (row.accelerator_type == type) return row.source;
  }
  return "";
}

Result<PriceTable> PriceTable::parse_csv(std::string_view text) {
  PriceTable out;
  std::set<std::pair<std::string, std::string>> seen;
  constexpr std::string_view kCode = "invalid_price_table";
  constexpr std::string_view kTable = "price table";
  auto error = csv_rows(
      text, "region,sku,usd_per_hour,spot_usd_per_hour,source", 5, kCode, kTable,
      [&](int line, const std::vector<std::string_view>& f) -> std::optional<Error> {
        if (f[0].empty()) return csv_line_error(kCode, kTable, line, "region", "region is empty");
        if (f[1].empty()) return csv_line_error(kCode, kTable, line, "sku", "sku is empty");
        bool bad = false;
        SkuPrice price{price_value(f[2], bad), std::nullopt};
        if (bad) {
          return csv_line_error(kCode, kTable, line, "usd_per_hour",
                                "usd_per_hour must be a number >= 0 or empty");
        }
        price.spot_usd_per_hour = price_value(f[3], bad);
        if (bad) {
          return csv_line_error(kCode, kTable, line, "spot_usd_per_hour",
                                "spot_usd_per_hour must be a number >= 0 or empty");
        }
        if (f[4].empty()) return csv_line_error(kCode, kTable, line, "source", "source is empty");
        if (!seen.emplace(std::string(f[0]), std::string(f[1])).second) {
          return csv_line_error(kCode, kTable, line, "sku", "duplicate row");
        }
        out.rows_.push_back(Row{std::string(f[0]), std::string(f[1]), price, std::string(f[4])});
        return std::nullopt;
      });
  if (error) return *error;
  return out;
}

const PriceTable& PriceTable::builtin() {
  return parse_builtin<PriceTable>(detail::kGcpPricesCsv, "data/gcp-prices.csv");
}

const PriceTable::Row* PriceTable::find(std::string_view region, std::string_view sku) const {
  for (const auto& row : rows_) {
    if (row.region == region && row.sku == sku) return &row;
  }
  return nullptr;
}

std::optional<std::string> accelerator_unavailable(const JobSpec& spec, std::string_view region,
                                                   const LeverContext& context) {
  if (!spec.vertex || spec.vertex->accelerator_type.empty()) return std::nullopt;
  const std::string& type = spec.vertex->accelerator_type;
  if (const auto* levers = region_levers(region, context); levers && levers->accelerators) {
    const auto& list = *levers->accelerators;
    if (std::find(list.begin(), list.end(), type) != list.end()) return std::nullopt;
    return fmt::format(
        "accelerator_unavailable: {} is not among the region's configured "
        "accelerators",
        type);
  }
  if (context.availability == nullptr) return std::nullopt;
  if (context.availability->offers(region, type).value_or(true)) return std::nullopt;
  return fmt::format("accelerator_unavailable: {} is not offered in {} ({})", type, region,
                     context.availability->source_of(type));
}

std::optional<double> usd_per_hour(const JobSpec& spec, std::string_view region,
                                   const LeverContext& context) {
  if (!spec.vertex || spec.vertex->machine_type.empty()) return std::nullopt;
  const VertexSpec& v = *spec.vertex;
  const bool spot = v.scheduling.strategy == SchedulingStrategy::spot;
  auto machine = sku_price(region, v.machine_type, spot, context);
  if (!machine) return std::nullopt;
  double per_replica = *machine;
  if (!v.accelerator_type.empty() && v.accelerator_count > 0) {
    auto accelerator = sku_price(region, v.accelerator_type, spot, context);
    if (!accelerator) return std::nullopt;
    per_replica += v.accelerator_count * *accelerator;
  }
  return per_replica * std::max(1, v.replica_count);
}

std::optional<double> cost_usd(const JobSpec& spec, std::string_view region, Seconds run,
                               const LeverContext& context) {
  auto hourly = usd_per_hour(spec, region, context);
  if (!hourly) return std::nullopt;
  return *hourly * hours_of(run);
}

std::optional<double> water_l(double power_watts, Seconds run, std::string_view region,
                              const LeverContext& context) {
  const auto* levers = region_levers(region, context);
  if (levers == nullptr || !levers->wue_l_per_kwh) return std::nullopt;
  // WUE is defined per kWh of IT energy: the PUE's overhead is not in it.
  return energy_kwh(power_watts, hours_of(run), 1.0) * *levers->wue_l_per_kwh;
}

std::optional<double> embodied_g(const JobSpec& spec, Seconds run, const LeverContext& context) {
  if (!spec.vertex || spec.vertex->accelerator_type.empty() || spec.vertex->accelerator_count <= 0)
    return std::nullopt;
  const VertexSpec& v = *spec.vertex;
  std::optional<double> kg;
  if (const auto it = context.embodied_kgco2e.find(v.accelerator_type);
      it != context.embodied_kgco2e.end()) {
    kg = it->second;
  } else if (context.accelerators != nullptr) {
    if (const auto* info = context.accelerators->find(v.accelerator_type)) {
      kg = info->embodied_kgco2e;
    }
  }
  if (!kg || context.embodied_lifetime.count() <= 0) return std::nullopt;
  const double accelerator_hours =
      static_cast<double>(v.accelerator_count) * std::max(1, v.replica_count) * hours_of(run);
  return accelerator_hours * *kg * 1000.0 / hours_of(context.embodied_lifetime);
}

void account_levers(Accounting& accounting, const JobSpec& spec, double power_watts,
                    const LeverContext& context) {
  accounting.cost_usd = cost_usd(spec, accounting.region, accounting.run, context);
  accounting.water_l = water_l(power_watts, accounting.run, accounting.region, context);
  accounting.embodied_g = embodied_g(spec, accounting.run, context);
}

std::vector<JobOption> job_options(const Job& job, const LeverContext& context) {
  std::vector<JobOption> out;
  const int count = static_cast<int>(job.spec.alternatives.size());
  for (int k = 0; k <= count; ++k) {
    JobOption option;
    option.alternative = k;
    option.spec = with_alternative(job.spec, k);
    option.duration = option.spec.duration;
    // The job's resolved power is its current option's (an alternative's once one was
    // dispatched); every other option's is derived the way submission derives it.
    const auto& table =
        context.accelerators != nullptr ? *context.accelerators : AcceleratorTable::builtin();
    option.power_watts =
        k == job.alternative ? job.power_watts : derive_power_watts(option.spec, table);
    for (const auto& region : job.regions) {
      if (auto why = accelerator_unavailable(option.spec, region, context)) {
        option.excluded.push_back(Exclusion{region, *why});
        continue;
      }
      if (job.spec.max_cost_usd) {
        const auto cost = cost_usd(option.spec, region, option.duration, context);
        if (!cost) {
          option.excluded.push_back(
              Exclusion{region,
                        "cost_unknown: no price for its machine or accelerator here, and the job "
                        "has max_cost_usd"});
          continue;
        }
        if (*cost > *job.spec.max_cost_usd) {
          option.excluded.push_back(
              Exclusion{region, fmt::format("over_max_cost: ${:.2f} > max_cost_usd ${:.2f}", *cost,
                                            *job.spec.max_cost_usd)});
          continue;
        }
      }
      option.regions.push_back(region);
    }
    out.push_back(std::move(option));
  }
  return out;
}

std::vector<FieldError> lever_errors(const Job& job, const LeverContext& levers) {
  const auto options = job_options(job, levers);
  const bool runnable = std::any_of(options.begin(), options.end(),
                                    [](const JobOption& o) { return !o.regions.empty(); });
  if (runnable) return {};
  std::vector<FieldError> errors;
  for (const auto& option : options) {
    std::vector<std::string> reasons;
    for (const auto& e : option.excluded)
      reasons.push_back(e.region + ": " + e.reason);
    const bool cost = !option.excluded.empty() &&
                      !option.excluded.front().reason.starts_with("accelerator_unavailable");
    std::string field = cost ? "max_cost_usd" : "vertex.accelerator_type";
    if (option.alternative > 0 && !cost) {
      field = fmt::format("alternatives[{}].vertex.accelerator_type", option.alternative - 1);
    }
    errors.push_back(FieldError{
        field,
        fmt::format("no candidate region can run {}: {}",
                    option.alternative == 0 ? std::string("it")
                                            : fmt::format("alternative {}", option.alternative),
                    fmt::join(reasons, "; "))});
  }
  return errors;
}

}  // namespace gridshift
