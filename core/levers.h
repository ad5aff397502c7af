// The levers beside carbon intensity (docs/levers.md): where a job's accelerator is offered,
// what a run costs, the water it evaporates and the embodied carbon of its accelerators. Pure:
// the tables (data/gcp-accelerators.csv and data/gcp-prices.csv, compiled in) and the config's
// per-region overrides are passed in as plain values. Immutable after construction.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/accelerators.h"
#include "core/job.h"
#include "core/result.h"
#include "core/time.h"

namespace gridshift {

// Which regions offer which accelerators, from Google's published tables. A region with rows is
// described: it offers the known types listed for it and lacks the other known types. A region
// without rows, or a type without rows, is unknown and never excluded on a guess (the table
// holds only what could be read from the source, so it may describe some regions alone).
class AcceleratorAvailability {
 public:
  struct Row {
    std::string region;
    std::string accelerator_type;
    std::string source;
  };
  // CSV with header "region,accelerator_type,source". Error "invalid_availability_table"
  // naming the line.
  static Result<AcceleratorAvailability> parse_csv(std::string_view text);
  // data/gcp-accelerators.csv, embedded at build time.
  static const AcceleratorAvailability& builtin();

  // true when listed; false when the region is described and the type known but not listed
  // for it; nullopt otherwise.
  std::optional<bool> offers(std::string_view region, std::string_view type) const;
  // Where the knowledge of `type` comes from (the first row's source), "" when unknown.
  std::string source_of(std::string_view type) const;
  const std::vector<Row>& rows() const { return rows_; }

 private:
  std::vector<Row> rows_;
};

// An hourly price of one SKU (a machine type such as n1-standard-8, or an accelerator type
// such as NVIDIA_L4, for one unit) in one region, US dollars.
struct SkuPrice {
  std::optional<double> usd_per_hour;
  std::optional<double> spot_usd_per_hour;
  bool operator==(const SkuPrice&) const = default;
};

class PriceTable {
 public:
  struct Row {
    std::string region;
    std::string sku;
    SkuPrice price;
    std::string source;
  };
  // CSV with header "region,sku,usd_per_hour,spot_usd_per_hour,source"; either price may be
  // empty. Error "invalid_price_table" naming the line.
  static Result<PriceTable> parse_csv(std::string_view text);
  // data/gcp-prices.csv, embedded at build time.
  static const PriceTable& builtin();

  const Row* find(std::string_view region, std::string_view sku) const;
  const std::vector<Row>& rows() const { return rows_; }

 private:
  std::vector<Row> rows_;
};

// What the config says of one region beyond its feeds (docs/configuration.md, "regions").
struct RegionLevers {
  // The accelerators the region offers, when the operator lists them: overrides the table.
  std::optional<std::vector<std::string>> accelerators;
  std::map<std::string, SkuPrice, std::less<>> prices;  // by SKU, over the table's
  std::optional<double> wue_l_per_kwh;                  // on-site water per kWh of IT energy
  bool operator==(const RegionLevers&) const = default;
};

// Everything the lever rules read. The tables default to the built-in ones.
struct LeverContext {
  const AcceleratorAvailability* availability = &AcceleratorAvailability::builtin();
  const PriceTable* prices = &PriceTable::builtin();
  const AcceleratorTable* accelerators = &AcceleratorTable::builtin();
  std::map<std::string, RegionLevers, std::less<>> regions;
  std::map<std::string, double, std::less<>> embodied_kgco2e;  // config overrides, by type
  Seconds embodied_lifetime{5LL * 365 * 24 * 3600};
};

// Why `spec` cannot run in `region` for want of its accelerator ("accelerator_unavailable:
// ..."), or nullopt when it can or nobody knows.
std::optional<std::string> accelerator_unavailable(const JobSpec& spec, std::string_view region,
                                                   const LeverContext& context);

// The hourly price of running `spec` in `region`: (machine + accelerator_count x accelerator)
// x replica_count, at the spot price for SPOT scheduling. nullopt without vertex settings or
// when any part has no price.
std::optional<double> usd_per_hour(const JobSpec& spec, std::string_view region,
                                   const LeverContext& context);
// The price of `run` of it; nullopt as for usd_per_hour.
std::optional<double> cost_usd(const JobSpec& spec, std::string_view region, Seconds run,
                               const LeverContext& context);
// On-site water of `run` at `power_watts` of IT power: kWh x wue_l_per_kwh; nullopt when the
// region has no WUE figure.
std::optional<double> water_l(double power_watts, Seconds run, std::string_view region,
                              const LeverContext& context);
// The accelerators' embodied carbon that `run` uses up: accelerator-hours x embodied kg /
// lifetime hours, in grams; nullopt without accelerators or without an embodied figure.
std::optional<double> embodied_g(const JobSpec& spec, Seconds run, const LeverContext& context);

// Fills the accounting's cost_usd, water_l and embodied_g for a run of `accounting.run` in
// `accounting.region` of `spec` (the spec as run) at `power_watts`.
void account_levers(Accounting& accounting, const JobSpec& spec, double power_watts,
                    const LeverContext& context);

// One way to run a job (alternative 0 is the main spec) and where it may run.
struct JobOption {
  int alternative = 0;
  JobSpec spec;  // with_alternative(job spec, alternative)
  Seconds duration{0};
  double power_watts = 0;  // the job's resolved power for its current option, else derived
  std::vector<std::string> regions;  // the job's candidates it may use, in order
  std::vector<Exclusion> excluded;   // the candidates it may not, and why
  bool operator==(const JobOption&) const = default;
};

// Every way to run `job` over its resolved candidate regions: a region without the option's
// accelerator is excluded (accelerator_unavailable), and with max_cost_usd one whose run costs
// more or has no price (over_max_cost, cost_unknown).
std::vector<JobOption> job_options(const Job& job, const LeverContext& context);

// Why `job` cannot run at all, when none of its options may run in any of its candidate
// regions (no region offers its accelerator, or every run costs more than max_cost_usd or has
// no price): one error per option naming each region's reason; empty when it can run. Such a
// job could only wait for its deadline and fail, so it is refused at submission.
std::vector<FieldError> lever_errors(const Job& job, const LeverContext& levers);

}  // namespace gridshift
