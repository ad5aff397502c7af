// Hand-computed cases for the levers beside intensity (docs/levers.md): hardware alternatives
// ranked by grams, accelerator availability, cost and max_cost_usd, water and embodied carbon,
// and the spec fields that carry them.
#include "core/levers.h"

#include <gtest/gtest.h>

#include "core/accounting.h"
#include "core/job_spec.h"
#include "core/planner.h"
#include "support/hourly_series.h"

namespace gridshift {
namespace {

const TimePoint kT0 = TimePoint{Seconds{1767225600}};  // 2026-01-01T00:00:00Z

TimePoint hours(double h) {
  return kT0 + Seconds{static_cast<std::int64_t>(h * 3600)};
}

Seconds h(double n) {
  return Seconds{static_cast<std::int64_t>(n * 3600)};
}

PlannerSettings settings() {
  PlannerSettings s;
  s.dispatch_slack = Seconds{0};
  return s;
}

// A 4 h x 500 W main spec and a 2 h x 1,200 W alternative in region "a".
PlannerJob two_options(double main_watts, double alternative_watts) {
  PlannerJob j;
  j.id = "j1";
  j.regions = {"a"};
  j.duration = h(4);
  j.deadline = hours(12);
  j.power_watts = main_watts;
  j.alternatives.push_back(PlannerAlternative{1, h(2), alternative_watts, {"a"}});
  return j;
}

PlanDecision plan(const PlannerJob& j, std::vector<RegionSeries> series) {
  const PlanningContext context(std::move(series));
  return plan_one(kT0, j, context, {}, settings());
}

TEST(Alternatives, OnAFlatTraceTheFewerWattHoursWin) {
  // Flat 200 g/kWh: main 4 h x 500 W = 2 kWh = 400 g; alternative 2 h x 1,200 W = 2.4 kWh =
  // 480 g. The main spec wins although its window is twice as long.
  const auto flat = testing::hourly_series("a", kT0, std::vector<double>(12, 200.0));
  const auto d = plan(two_options(500, 1200), {flat});
  EXPECT_EQ(d.alternative, 0);
  ASSERT_EQ(d.options.size(), 2u);
  EXPECT_NEAR(*d.options[0].grams, 400.0, 1e-9);
  EXPECT_NEAR(*d.options[1].grams, 480.0, 1e-9);
}

TEST(Alternatives, SwappedPowersTheAlternativeWins) {
  // 4 h x 1,200 W = 4.8 kWh = 960 g against 2 h x 500 W = 1 kWh = 200 g.
  const auto flat = testing::hourly_series("a", kT0, std::vector<double>(12, 200.0));
  const auto d = plan(two_options(1200, 500), {flat});
  EXPECT_EQ(d.alternative, 1);
  EXPECT_NEAR(*d.options[0].grams, 960.0, 1e-9);
  EXPECT_NEAR(*d.options[1].grams, 200.0, 1e-9);
  // The decision carries the alternative's own window: 2 h, not the main spec's 4 h.
  ASSERT_TRUE(d.start && d.end);
  EXPECT_EQ(*d.end - *d.start, h(2));
}

TEST(Alternatives, GramsNotIntensityDecide) {
  // 100 g/kWh in hours 0-1, then 300. Main 4 h x 300 W: best [0,4) averages 200 g/kWh, 1.2 kWh
  // = 240 g. Alternative 2 h x 1,500 W: [0,2) at 100 g/kWh, lower intensity, but 3 kWh = 300 g.
  // Ranking by intensity would take the alternative; by grams the main spec wins.
  std::vector<double> values = {100, 100, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300};
  const auto d = plan(two_options(300, 1500), {testing::hourly_series("a", kT0, values)});
  EXPECT_EQ(d.alternative, 0);
  ASSERT_EQ(d.options.size(), 2u);
  EXPECT_NEAR(*d.options[0].grams, 240.0, 1e-9);
  EXPECT_NEAR(*d.options[1].grams, 300.0, 1e-9);
  EXPECT_NEAR(*d.options[1].score, 100.0, 1e-9);
}

TEST(Alternatives, AnOptionWithoutRegionsIsLeftOut) {
  const auto flat = testing::hourly_series("a", kT0, std::vector<double>(12, 200.0));
  PlannerJob j = two_options(1200, 500);
  j.alternatives[0].regions.clear();  // its accelerator is offered nowhere
  const auto d = plan(j, {flat});
  EXPECT_EQ(d.alternative, 0);
  ASSERT_EQ(d.options.size(), 1u);
}

JobSpec vertex_spec(std::string machine, std::string accelerator, int count) {
  JobSpec spec;
  spec.name = "t";
  spec.duration = h(4);
  VertexSpec v;
  v.machine_type = std::move(machine);
  v.accelerator_type = std::move(accelerator);
  v.accelerator_count = count;
  v.container = ContainerSpec{"img", {}, {}, {}};
  spec.vertex = v;
  return spec;
}

LeverContext context_with(const std::string& table) {
  static std::vector<std::unique_ptr<AcceleratorAvailability>> keep;
  auto parsed = AcceleratorAvailability::parse_csv(table);
  EXPECT_TRUE(parsed) << to_string(parsed.error());
  keep.push_back(std::make_unique<AcceleratorAvailability>(std::move(*parsed)));
  LeverContext c;
  c.availability = keep.back().get();
  return c;
}

TEST(Availability, ADescribedRegionLacksTheKnownTypesItDoesNotList) {
  const auto c = context_with(
      "region,accelerator_type,source\n"
      "r1,NVIDIA_L4,doc\n"
      "r2,NVIDIA_TESLA_T4,doc\n");
  const auto l4 = vertex_spec("g2-standard-8", "NVIDIA_L4", 1);
  EXPECT_FALSE(accelerator_unavailable(l4, "r1", c));
  const auto why = accelerator_unavailable(l4, "r2", c);
  ASSERT_TRUE(why);
  EXPECT_EQ(why->rfind("accelerator_unavailable", 0), 0u) << *why;
  // r3 has no row: unknown, never excluded on a guess; so is a type without rows.
  EXPECT_FALSE(accelerator_unavailable(l4, "r3", c));
  EXPECT_FALSE(accelerator_unavailable(vertex_spec("a2", "NVIDIA_TESLA_A100", 1), "r1", c));
  // No accelerator: nothing to check.
  EXPECT_FALSE(accelerator_unavailable(vertex_spec("n1-standard-4", "", 0), "r2", c));
}

TEST(Availability, TheConfigsListOverridesTheTable) {
  auto c = context_with("region,accelerator_type,source\nr1,NVIDIA_L4,doc\n");
  c.regions["r1"].accelerators = std::vector<std::string>{"NVIDIA_TESLA_T4"};
  c.regions["r3"].accelerators = std::vector<std::string>{"NVIDIA_L4"};
  const auto l4 = vertex_spec("g2-standard-8", "NVIDIA_L4", 1);
  EXPECT_TRUE(accelerator_unavailable(l4, "r1", c));
  EXPECT_FALSE(accelerator_unavailable(l4, "r3", c));
}

TEST(Availability, TheBuiltInTableParsesAndHasSources) {
  const auto& table = AcceleratorAvailability::builtin();
  for (const auto& row : table.rows()) {
    EXPECT_FALSE(row.source.empty()) << row.region;
  }
  EXPECT_TRUE(PriceTable::builtin().rows().empty() ||
              !PriceTable::builtin().rows()[0].source.empty());
}

TEST(Availability, BadTablesNameTheLine) {
  EXPECT_FALSE(AcceleratorAvailability::parse_csv("region,type\n"));
  auto bad = AcceleratorAvailability::parse_csv("region,accelerator_type,source\nr1,GPU_X,doc\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().details.at(0).line, 2);
  EXPECT_EQ(bad.error().details.at(0).field, "accelerator_type");
  auto dup = AcceleratorAvailability::parse_csv(
      "region,accelerator_type,source\nr1,NVIDIA_L4,a\nr1,NVIDIA_L4,b\n");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().details.at(0).line, 3);
  auto price = PriceTable::parse_csv(
      "region,sku,usd_per_hour,spot_usd_per_hour,source\nr1,NVIDIA_L4,-1,,doc\n");
  ASSERT_FALSE(price);
  EXPECT_EQ(price.error().details.at(0).field, "usd_per_hour");
}

TEST(Cost, MachinePlusAcceleratorsTimesReplicasTimesHours) {
  auto prices = PriceTable::parse_csv(
      "region,sku,usd_per_hour,spot_usd_per_hour,source\n"
      "r1,g2-standard-8,0.5,0.2,test\n"
      "r1,NVIDIA_L4,0.75,0.3,test\n");
  ASSERT_TRUE(prices);
  LeverContext c;
  c.prices = &*prices;
  auto spec = vertex_spec("g2-standard-8", "NVIDIA_L4", 2);
  spec.vertex->replica_count = 3;
  // (0.5 + 2 x 0.75) x 3 replicas = 6 $/h; 4 h = 24 $.
  EXPECT_DOUBLE_EQ(*usd_per_hour(spec, "r1", c), 6.0);
  EXPECT_DOUBLE_EQ(*cost_usd(spec, "r1", h(4), c), 24.0);
  // SPOT: (0.2 + 2 x 0.3) x 3 = 2.4 $/h.
  spec.vertex->scheduling.strategy = SchedulingStrategy::spot;
  EXPECT_DOUBLE_EQ(*usd_per_hour(spec, "r1", c), 2.4);
  // A region without a price: unknown, not zero.
  EXPECT_FALSE(cost_usd(spec, "r2", h(4), c));
  // The config's price wins over the table's.
  spec.vertex->scheduling.strategy = SchedulingStrategy::standard;
  c.regions["r1"].prices["NVIDIA_L4"] = SkuPrice{1.0, std::nullopt};
  EXPECT_DOUBLE_EQ(*usd_per_hour(spec, "r1", c), (0.5 + 2 * 1.0) * 3);
}

Job job_of(JobSpec spec, std::vector<std::string> regions) {
  Job job;
  job.id = "j";
  job.regions = std::move(regions);
  job.power_watts = derive_power_watts(spec, AcceleratorTable::builtin());
  job.spec = std::move(spec);
  return job;
}

TEST(Cost, MaxCostExcludesDearAndUnpricedRegions) {
  LeverContext c;
  c.regions["cheap"].prices = {{"g2-standard-8", SkuPrice{0.5, std::nullopt}},
                               {"NVIDIA_L4", SkuPrice{0.5, std::nullopt}}};
  c.regions["dear"].prices = {{"g2-standard-8", SkuPrice{2.0, std::nullopt}},
                              {"NVIDIA_L4", SkuPrice{2.0, std::nullopt}}};
  auto spec = vertex_spec("g2-standard-8", "NVIDIA_L4", 1);
  spec.max_cost_usd = 10;  // cheap: 1 $/h x 4 h = 4 $; dear: 4 $/h x 4 h = 16 $
  const auto options = job_options(job_of(spec, {"dear", "cheap", "unpriced"}), c);
  ASSERT_EQ(options.size(), 1u);
  EXPECT_EQ(options[0].regions, std::vector<std::string>{"cheap"});
  ASSERT_EQ(options[0].excluded.size(), 2u);
  EXPECT_EQ(options[0].excluded[0].region, "dear");
  EXPECT_EQ(options[0].excluded[0].reason.rfind("over_max_cost", 0), 0u);
  EXPECT_EQ(options[0].excluded[1].reason.rfind("cost_unknown", 0), 0u);
}

TEST(Cost, AJobThatCannotRunAnywhereIsNamed) {
  LeverContext c;
  c.regions["r1"].accelerators = std::vector<std::string>{"NVIDIA_TESLA_T4"};
  auto spec = vertex_spec("g2-standard-8", "NVIDIA_L4", 1);
  auto errors = lever_errors(job_of(spec, {"r1"}), c);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "vertex.accelerator_type");
  EXPECT_NE(errors[0].message.find("r1"), std::string::npos) << errors[0].message;
  // With an alternative that r1 offers, it can run.
  AlternativeSpec t4;
  t4.vertex = vertex_spec("n1-standard-8", "NVIDIA_TESLA_T4", 1).vertex;
  spec.alternatives.push_back(t4);
  EXPECT_TRUE(lever_errors(job_of(spec, {"r1"}), c).empty());
}

TEST(Cost, AJobRequeuedOnItsAlternativeStillRanksTheMainSpecAtItsOwnPower) {
  // Dispatched on alternative 1 (then refused and requeued): the job's resolved power is the
  // alternative's, and the main spec's is derived again: 1 x L4 = 72 + 150 W.
  auto spec = vertex_spec("g2-standard-8", "NVIDIA_L4", 1);
  AlternativeSpec a100;
  a100.vertex = vertex_spec("a2-highgpu-1g", "NVIDIA_TESLA_A100", 1).vertex;
  spec.alternatives.push_back(a100);
  Job job = job_of(spec, {"r1"});
  job.alternative = 1;
  job.power_watts = 550;  // 400 + 150 W
  const auto options = job_options(job, LeverContext{});
  ASSERT_EQ(options.size(), 2u);
  EXPECT_DOUBLE_EQ(options[0].power_watts, 222);
  EXPECT_DOUBLE_EQ(options[1].power_watts, 550);
}

TEST(Water, KwhOfItEnergyTimesWue) {
  LeverContext c;
  c.regions["r1"].wue_l_per_kwh = 0.5;
  // 1,500 W x 4 h = 6 kWh of IT energy x 0.5 L/kWh = 3 L (PUE is not in WUE).
  EXPECT_DOUBLE_EQ(*water_l(1500, h(4), "r1", c), 3.0);
  EXPECT_FALSE(water_l(1500, h(4), "r2", c));  // unknown, never invented
}

TEST(Embodied, AcceleratorHoursTimesEmbodiedOverLifetime) {
  LeverContext c;
  c.embodied_kgco2e["NVIDIA_L4"] = 1752;  // a test figure, not a published one
  c.embodied_lifetime = h(5 * 8760);      // 5 years of 8,760 h = 43,800 h
  auto spec = vertex_spec("g2-standard-8", "NVIDIA_L4", 2);
  spec.vertex->replica_count = 2;
  // 2 x 2 accelerators x 4 h = 16 accelerator-hours x 1,752,000 g / 43,800 h = 640 g.
  EXPECT_NEAR(*embodied_g(spec, h(4), c), 640.0, 1e-9);
  // The shipped table has no published figure for the L4: unknown, not zero.
  LeverContext shipped;
  EXPECT_FALSE(embodied_g(spec, h(4), shipped));
  EXPECT_FALSE(embodied_g(vertex_spec("n1-standard-4", "", 0), h(4), c));
}

TEST(Embodied, AccountingKeepsItApartFromOperationalGrams) {
  LeverContext c;
  c.embodied_kgco2e["NVIDIA_L4"] = 1752;
  c.embodied_lifetime = h(43800);
  c.regions["r1"].wue_l_per_kwh = 1.0;
  Accounting a;
  a.region = "r1";
  a.run = h(4);
  a.actual_g = 1000;
  account_levers(a, vertex_spec("g2-standard-8", "NVIDIA_L4", 1), 222, c);
  EXPECT_NEAR(*a.embodied_g, 160.0, 1e-9);  // 4 accelerator-hours x 1,752,000 / 43,800
  EXPECT_NEAR(*a.water_l, 0.888, 1e-9);     // 0.888 kWh x 1 L/kWh
  EXPECT_FALSE(a.cost_usd);
  EXPECT_EQ(*a.actual_g, 1000);  // untouched
  const auto back = accounting_from_json(accounting_to_json(a));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->embodied_g, a.embodied_g);
  EXPECT_EQ(back->water_l, a.water_l);
  EXPECT_FALSE(back->cost_usd);
}

JobSpecContext spec_context() {
  JobSpecContext c;
  c.known_regions = {"r1", "r2"};
  c.now = kT0;
  return c;
}

// A 4 h job on one L4; the alternatives follow it.
const std::string kMainSpec = R"(
name: train
duration: 4h
vertex:
  machine_type: g2-standard-8
  accelerator_type: NVIDIA_L4
  accelerator_count: 1
  container: {image_uri: "europe-docker.pkg.dev/p/r/train:1", args: ["--epochs", "3"]}
)";

// The field of every error of a spec that failed to load.
std::vector<std::string> error_fields(const Result<JobSpec>& spec) {
  std::vector<std::string> fields;
  if (!spec) {
    for (const auto& e : spec.error().details)
      fields.push_back(e.field);
  }
  return fields;
}

const std::string kSpecWithAlternatives = kMainSpec + R"(
alternatives:
  - vertex: {machine_type: a2-highgpu-1g, accelerator_type: NVIDIA_TESLA_A100}
    duration: 2h
  - power_watts: 300
max_cost_usd: 25
)";

TEST(AlternativesSpec, AnAlternativeWritesOverTheMainVertexSettings) {
  auto spec = load_job_spec(kSpecWithAlternatives, spec_context());
  ASSERT_TRUE(spec) << to_string(spec.error());
  ASSERT_EQ(spec->alternatives.size(), 2u);
  EXPECT_EQ(spec->max_cost_usd, 25);
  const JobSpec a100 = with_alternative(*spec, 1);
  EXPECT_EQ(a100.vertex->machine_type, "a2-highgpu-1g");
  EXPECT_EQ(a100.vertex->accelerator_type, "NVIDIA_TESLA_A100");
  EXPECT_EQ(a100.vertex->accelerator_count, 1);  // the main spec's, not restated
  EXPECT_EQ(a100.vertex->container->args, (std::vector<std::string>{"--epochs", "3"}));
  EXPECT_EQ(a100.duration, h(2));
  EXPECT_TRUE(a100.alternatives.empty());
  // Its power comes from its own hardware: (400 + 150) W, not the main spec's.
  EXPECT_DOUBLE_EQ(derive_power_watts(a100, AcceleratorTable::builtin()), 550.0);
  const JobSpec low = with_alternative(*spec, 2);
  EXPECT_EQ(low.vertex, spec->vertex);
  EXPECT_EQ(low.power_watts, 300);
  EXPECT_EQ(low.duration, h(4));
  // The canonical JSON reads back unchanged.
  auto again = parse_job_spec(job_spec_to_json(*spec));
  ASSERT_TRUE(again) << to_string(again.error());
  EXPECT_EQ(*again, *spec);
  // The summary keeps the alternatives' hardware, not their containers.
  const auto summary = summarize(*spec);
  ASSERT_EQ(summary.alternatives.size(), 2u);
  EXPECT_EQ(summary.alternatives[0].vertex->accelerator_type, "NVIDIA_TESLA_A100");
  EXPECT_FALSE(summary.alternatives[0].vertex->container);
}

TEST(AlternativesSpec, ErrorsNameTheAlternativesField) {
  auto spec = load_job_spec(kMainSpec + R"(
alternatives:
  - vertex: {accelerator_count: 0.5}
  - {}
  - duration: 30h
  - dureation: 2h
max_cost_usd: -3
)",
                            spec_context());
  ASSERT_FALSE(spec);
  const auto fields = error_fields(spec);
  auto has = [&](const std::string& f) {
    return std::find(fields.begin(), fields.end(), f) != fields.end();
  };
  EXPECT_TRUE(has("alternatives[0].vertex.accelerator_count")) << ::testing::PrintToString(fields);
  EXPECT_TRUE(has("alternatives[1]")) << ::testing::PrintToString(fields);
  EXPECT_TRUE(has("alternatives[3].dureation")) << ::testing::PrintToString(fields);
  EXPECT_TRUE(has("max_cost_usd")) << ::testing::PrintToString(fields);
}

TEST(AlternativesSpec, AnAlternativesUnknownAcceleratorIsItsOwnError) {
  auto spec = load_job_spec(kMainSpec + R"(
alternatives:
  - vertex: {accelerator_type: NVIDIA_TESLA_Z9}
)",
                            spec_context());
  ASSERT_FALSE(spec);
  ASSERT_EQ(spec.error().details.size(), 1u) << to_string(spec.error());
  EXPECT_EQ(spec.error().details[0].field, "alternatives[0].vertex.accelerator_type");
}

TEST(AlternativesSpec, TheDurationOfAnAlternativeMustFitItsWindow) {
  auto spec = load_job_spec(R"(
name: train
duration: 4h
deadline: +6h
local: {command: [python3, train.py]}
alternatives:
  - duration: 30h
)",
                            spec_context());
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().details.at(0).field, "alternatives[0].duration");
}

TEST(AlternativesSpec, MaxCostNeedsVertexSettings) {
  auto spec = load_job_spec("name: t\nduration: 1h\nlocal: {command: [x]}\nmax_cost_usd: 5\n",
                            spec_context());
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().details.at(0).field, "max_cost_usd");
}

TEST(AlternativesSpec, JsonTypesAreChecked) {
  auto spec = load_json_job_spec(
      R"({"name": "t", "duration": "1h", "local": {"command": ["x"]},
          "alternatives": [{"power_watts": "300"}, 5]})",
      spec_context());
  ASSERT_FALSE(spec);
  const auto fields = error_fields(spec);
  EXPECT_NE(std::find(fields.begin(), fields.end(), "alternatives[0].power_watts"), fields.end())
      << ::testing::PrintToString(fields);
  EXPECT_NE(std::find(fields.begin(), fields.end(), "alternatives[1]"), fields.end())
      << ::testing::PrintToString(fields);
}

}  // namespace
}  // namespace gridshift
