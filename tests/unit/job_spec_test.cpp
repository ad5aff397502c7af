// Tests for job spec parsing, validation and canonical JSON (core/job_spec.h). Epoch values
// were computed independently with `date -u -d ... +%s`.
#include "core/job_spec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace gridshift {
namespace {

TimePoint at(long long epoch_seconds) {
  return TimePoint{Seconds{epoch_seconds}};
}

constexpr long long k2026_11_26T20 = 1795723200;  // 2026-11-26T20:00:00Z
constexpr long long k2026_11_27T08 = 1795766400;  // 2026-11-27T08:00:00Z

const char* const kFullYaml = R"(name: resnet50-nightly
regions: [europe-west9, europe-west2]
duration: 4h
deadline: 2026-11-27T08:00:00Z
not_before: 2026-11-26T20:00:00Z
policy: threshold
threshold: 120
power_watts: 900
vertex:
  machine_type: a2-highgpu-1g
  accelerator_type: NVIDIA_TESLA_A100
  accelerator_count: 1
  replica_count: 1
  container: {image_uri: europe-docker.pkg.dev/p/r/trainer:1, command: [], args: [--epochs, "10"], env: {K: V}}
  service_account: trainer@p.iam.gserviceaccount.com
  scheduling: {strategy: SPOT, timeout: 24h}
  labels: {team: vision}
local: {command: [python3, train.py, --epochs, "10"]}
)";

const char* const kFullJson = R"({
  "name": "resnet50-nightly",
  "regions": ["europe-west9", "europe-west2"],
  "duration": "4h",
  "deadline": "2026-11-27T08:00:00Z",
  "not_before": "2026-11-26T20:00:00Z",
  "policy": "threshold",
  "threshold": 120,
  "power_watts": 900,
  "vertex": {
    "machine_type": "a2-highgpu-1g",
    "accelerator_type": "NVIDIA_TESLA_A100",
    "accelerator_count": 1,
    "replica_count": 1,
    "container": {"image_uri": "europe-docker.pkg.dev/p/r/trainer:1", "command": [],
                  "args": ["--epochs", "10"], "env": {"K": "V"}},
    "service_account": "trainer@p.iam.gserviceaccount.com",
    "scheduling": {"strategy": "SPOT", "timeout": "24h"},
    "labels": {"team": "vision"}
  },
  "local": {"command": ["python3", "train.py", "--epochs", "10"]}
})";

// The spec both texts above describe, built by hand.
JobSpec full_spec() {
  JobSpec spec;
  spec.name = "resnet50-nightly";
  spec.regions = {"europe-west9", "europe-west2"};
  spec.duration = Seconds{4 * 3600};
  spec.deadline = at(k2026_11_27T08);
  spec.not_before = at(k2026_11_26T20);
  spec.policy = Policy::threshold;
  spec.threshold = 120.0;
  spec.power_watts = 900.0;
  VertexSpec vertex;
  vertex.machine_type = "a2-highgpu-1g";
  vertex.accelerator_type = "NVIDIA_TESLA_A100";
  vertex.accelerator_count = 1;
  vertex.replica_count = 1;
  vertex.container =
      ContainerSpec{"europe-docker.pkg.dev/p/r/trainer:1", {}, {"--epochs", "10"}, {{"K", "V"}}};
  vertex.service_account = "trainer@p.iam.gserviceaccount.com";
  vertex.scheduling.strategy = SchedulingStrategy::spot;
  vertex.scheduling.timeout = Seconds{24 * 3600};
  vertex.labels = {{"team", "vision"}};
  spec.vertex = vertex;
  spec.local = LocalSpec{{"python3", "train.py", "--epochs", "10"}};
  return spec;
}

std::string describe(const Error& e) {
  return to_string(e);
}

TEST(ParseJobSpec, FullYaml) {
  auto spec = parse_job_spec(kFullYaml);
  ASSERT_TRUE(spec) << describe(spec.error());
  EXPECT_EQ(*spec, full_spec());
}

TEST(ParseJobSpec, FullJson) {
  auto spec = parse_job_spec(kFullJson);
  ASSERT_TRUE(spec) << describe(spec.error());
  EXPECT_EQ(*spec, full_spec());
}

TEST(ParseJobSpec, MinimalSpecGetsDefaults) {
  auto spec = parse_job_spec("name: a\nduration: 90m\n");
  ASSERT_TRUE(spec) << describe(spec.error());
  EXPECT_EQ(spec->name, "a");
  EXPECT_EQ(spec->duration, Seconds{5400});
  EXPECT_TRUE(spec->regions.empty());
  EXPECT_EQ(spec->policy, Policy::best_window);
  EXPECT_FALSE(spec->deadline);
  EXPECT_FALSE(spec->not_before);
  EXPECT_FALSE(spec->threshold);
  EXPECT_FALSE(spec->power_watts);
  EXPECT_FALSE(spec->vertex);
  EXPECT_FALSE(spec->local);
}

TEST(ParseJobSpec, NullValuesCountAsAbsent) {
  auto spec = parse_job_spec(R"({"name": "a", "duration": "1h", "deadline": null})");
  ASSERT_TRUE(spec) << describe(spec.error());
  EXPECT_FALSE(spec->deadline);
}

TEST(ParseJobSpec, PythonPackage) {
  auto spec = parse_job_spec(R"(name: pkg
duration: 2h
vertex:
  machine_type: n1-standard-8
  accelerator_type: NVIDIA_TESLA_T4
  accelerator_count: 2
  replica_count: 3
  python_package:
    executor_image_uri: us-docker.pkg.dev/vertex-ai/training/pytorch-gpu.2-1:latest
    package_uris: [gs://b/trainer-0.1.tar.gz]
    python_module: trainer.task
    args: [--lr, "0.1"]
)");
  ASSERT_TRUE(spec) << describe(spec.error());
  ASSERT_TRUE(spec->vertex);
  EXPECT_FALSE(spec->vertex->container);
  ASSERT_TRUE(spec->vertex->python_package);
  EXPECT_EQ(spec->vertex->python_package->package_uris,
            std::vector<std::string>{"gs://b/trainer-0.1.tar.gz"});
  EXPECT_EQ(spec->vertex->python_package->python_module, "trainer.task");
  EXPECT_EQ(spec->vertex->python_package->args, (std::vector<std::string>{"--lr", "0.1"}));
  EXPECT_EQ(spec->vertex->accelerator_count, 2);
  EXPECT_EQ(spec->vertex->replica_count, 3);
  EXPECT_EQ(spec->vertex->scheduling.strategy, SchedulingStrategy::standard);
}

struct BadSpec {
  const char* label;
  std::string text;
  std::string field;
  int line;
};

// Each case holds exactly one mistake; the error must name its field and line.
const BadSpec kBadSpecs[] = {
    {"unknown top-level field", "name: a\nduration: 1h\ncolour: red\n", "colour", 3},
    {"missing name", "duration: 1h\n", "name", 1},
    {"missing duration", "name: a\n", "duration", 1},
    {"null name", "name:\nduration: 1h\n", "name", 1},
    {"name with a space", "name: a b\nduration: 1h\n", "name", 1},
    {"name with a slash", "duration: 1h\nname: a/b\n", "name", 2},
    {"name too long", "name: " + std::string(129, 'n') + "\nduration: 1h\n", "name", 1},
    {"name is a mapping", "name: {x: 1}\nduration: 1h\n", "name", 1},
    {"duration bad unit", "name: a\nduration: 4x\n", "duration", 2},
    {"duration without unit", "name: a\nduration: 4\n", "duration", 2},
    {"duration zero", "name: a\nduration: 0s\n", "duration", 2},
    {"duration negative", "name: a\nduration: -1h\n", "duration", 2},
    {"duration is a list", "name: a\nduration: [1h]\n", "duration", 2},
    {"deadline no such day", "name: a\nduration: 1h\ndeadline: 2026-02-30T08:00:00Z\n", "deadline",
     3},
    {"not_before trailing text", "name: a\nduration: 1h\nnot_before: 2026-11-26T20:00:00Zx\n",
     "not_before", 3},
    {"deadline hour 25", "name: a\nduration: 1h\ndeadline: 2026-11-26T25:00:00Z\n", "deadline", 3},
    {"policy unknown", "name: a\nduration: 1h\npolicy: soon\n", "policy", 3},
    {"threshold policy without threshold", "name: a\nduration: 1h\npolicy: threshold\n",
     "threshold", 3},
    {"threshold negative", "name: a\nduration: 1h\nthreshold: -5\n", "threshold", 3},
    {"threshold quoted", "name: a\nduration: 1h\nthreshold: \"120\"\n", "threshold", 3},
    {"threshold word", "name: a\nduration: 1h\nthreshold: low\n", "threshold", 3},
    {"power_watts zero", "name: a\nduration: 1h\npower_watts: 0\n", "power_watts", 3},
    {"power_watts list", "name: a\nduration: 1h\npower_watts: [900]\n", "power_watts", 3},
    {"regions scalar", "name: a\nduration: 1h\nregions: europe-west2\n", "regions", 3},
    {"regions duplicate", "name: a\nduration: 1h\nregions: [a, b, a]\n", "regions[2]", 3},
    {"regions item mapping", "name: a\nduration: 1h\nregions:\n  - a\n  - {x: y}\n", "regions[1]",
     5},
    {"regions item empty", "name: a\nduration: 1h\nregions: [a, \"\"]\n", "regions[1]", 3},
    {"vertex scalar", "name: a\nduration: 1h\nvertex: a2\n", "vertex", 3},
    {"vertex unknown field",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  gpu: 2\n", "vertex.gpu", 5},
    {"accelerator_count float",
     "name: a\nduration: 1h\nvertex:\n  accelerator_type: NVIDIA_L4\n  accelerator_count: 1.5\n"
     "  container: {image_uri: i}\n",
     "vertex.accelerator_count", 5},
    {"accelerator_count negative",
     "name: a\nduration: 1h\nvertex:\n  accelerator_count: -1\n  container: {image_uri: i}\n",
     "vertex.accelerator_count", 4},
    {"accelerator_count quoted",
     "name: a\nduration: 1h\nvertex:\n  accelerator_type: NVIDIA_L4\n  accelerator_count: \"1\"\n"
     "  container: {image_uri: i}\n",
     "vertex.accelerator_count", 5},
    {"accelerator_type without count",
     "name: a\nduration: 1h\nvertex:\n  accelerator_type: NVIDIA_L4\n  container: {image_uri: i}\n",
     "vertex.accelerator_count", 3},
    {"accelerator_count without type",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  accelerator_count: 2\n",
     "vertex.accelerator_type", 5},
    {"replica_count zero",
     "name: a\nduration: 1h\nvertex:\n  replica_count: 0\n  container: {image_uri: i}\n",
     "vertex.replica_count", 4},
    {"replica_count word",
     "name: a\nduration: 1h\nvertex:\n  replica_count: two\n  container: {image_uri: i}\n",
     "vertex.replica_count", 4},
    {"replica_count huge",
     "name: a\nduration: 1h\nvertex:\n  replica_count: 99999999999\n  container: {image_uri: i}\n",
     "vertex.replica_count", 4},
    {"container and python_package",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  python_package:\n"
     "    executor_image_uri: e\n    package_uris: [gs://b/p.tgz]\n    python_module: m\n",
     "vertex.python_package", 5},
    {"neither container nor python_package",
     "name: a\nduration: 1h\nvertex:\n  machine_type: n1-standard-4\n", "vertex", 3},
    {"container without image_uri", "name: a\nduration: 1h\nvertex:\n  container: {args: [a]}\n",
     "vertex.container.image_uri", 4},
    {"container empty image_uri",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: \"\"}\n",
     "vertex.container.image_uri", 4},
    {"container args scalar",
     "name: a\nduration: 1h\nvertex:\n  container:\n    image_uri: i\n    args: --epochs\n",
     "vertex.container.args", 6},
    {"container command item list",
     "name: a\nduration: 1h\nvertex:\n  container:\n    image_uri: i\n    command:\n      - "
     "python3\n"
     "      - [x]\n",
     "vertex.container.command[1]", 8},
    {"env value mapping",
     "name: a\nduration: 1h\nvertex:\n  container:\n    image_uri: i\n    env:\n      K: {a: b}\n",
     "vertex.container.env.K", 7},
    {"env bad name",
     "name: a\nduration: 1h\nvertex:\n  container:\n    image_uri: i\n    env: {\"1K\": v}\n",
     "vertex.container.env.1K", 6},
    {"env is a list",
     "name: a\nduration: 1h\nvertex:\n  container:\n    image_uri: i\n    env: [K=V]\n",
     "vertex.container.env", 6},
    {"container unknown field",
     "name: a\nduration: 1h\nvertex:\n  container:\n    image_uri: i\n    workdir: /x\n",
     "vertex.container.workdir", 6},
    {"python_package empty package_uris",
     "name: a\nduration: 1h\nvertex:\n  python_package:\n    executor_image_uri: e\n"
     "    package_uris: []\n    python_module: m\n",
     "vertex.python_package.package_uris", 6},
    {"python_package missing python_module",
     "name: a\nduration: 1h\nvertex:\n  python_package:\n    executor_image_uri: e\n"
     "    package_uris: [gs://b/p.tgz]\n",
     "vertex.python_package.python_module", 4},
    {"scheduling strategy unknown",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  scheduling: {strategy: "
     "CHEAP}\n",
     "vertex.scheduling.strategy", 5},
    {"scheduling strategy lower case",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  scheduling:\n    strategy: "
     "spot\n",
     "vertex.scheduling.strategy", 6},
    {"scheduling timeout bad",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  scheduling:\n    timeout: "
     "1y\n",
     "vertex.scheduling.timeout", 6},
    {"service_account list",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  service_account: [a]\n",
     "vertex.service_account", 5},
    {"label key upper case",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  labels:\n    Team: vision\n",
     "vertex.labels.Team", 6},
    {"label key starts with a digit",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  labels: {1team: vision}\n",
     "vertex.labels.1team", 5},
    {"label key too long",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  labels: {" +
         std::string(64, 'k') + ": v}\n",
     "vertex.labels." + std::string(64, 'k'), 5},
    {"label value upper case",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  labels: {team: Vision}\n",
     "vertex.labels.team", 5},
    {"label reserved",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  labels: {gridshift-job: x}\n",
     "vertex.labels.gridshift-job", 5},
    {"labels duplicate key",
     "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  labels:\n    team: a\n"
     "    team: b\n",
     "vertex.labels.team", 7},
    {"local command empty", "name: a\nduration: 1h\nlocal: {command: []}\n", "local.command", 3},
    {"local command item empty", "name: a\nduration: 1h\nlocal:\n  command: [python3, \"\"]\n",
     "local.command[1]", 4},
    {"local command scalar", "name: a\nduration: 1h\nlocal:\n  command: python3 train.py\n",
     "local.command", 4},
    {"local without command", "name: a\nduration: 1h\nlocal: {}\n", "local.command", 3},
    {"local unknown field", "name: a\nduration: 1h\nlocal:\n  command: [a]\n  cwd: /tmp\n",
     "local.cwd", 5},
    {"duplicate top-level field", "name: a\nduration: 1h\nname: b\n", "name", 3},
    {"duplicate nested field",
     "name: a\nduration: 1h\nvertex:\n  container:\n    image_uri: i\n    image_uri: j\n",
     "vertex.container.image_uri", 6},
    {"top level is a list", "- name: a\n- duration: 1h\n", "", 1},
    {"top level is a scalar", "hello\n", "", 1},
    {"two documents", "name: a\nduration: 1h\n---\nname: b\nduration: 1h\n", "", 4},
    {"json unknown field", R"({"name": "a", "duration": "1h", "replicas": 2})", "replicas", 1},
    {"json float for integer",
     "{\"name\": \"a\", \"duration\": \"1h\",\n \"vertex\": {\"accelerator_type\": \"NVIDIA_L4\",\n"
     "  \"accelerator_count\": 2.0, \"container\": {\"image_uri\": \"i\"}}}",
     "vertex.accelerator_count", 3},
    {"json string for number", R"({"name": "a", "duration": "1h", "power_watts": "900"})",
     "power_watts", 1},
    {"json duplicate key", "{\"name\": \"a\",\n \"duration\": \"1h\",\n \"name\": \"b\"}", "name",
     3},
    {"json number for duration", R"({"name": "a", "duration": 3600})", "duration", 1},
};

TEST(ParseJobSpec, RejectsEachMalformedSpecNamingFieldAndLine) {
  ASSERT_GE(std::size(kBadSpecs), 30u);
  for (const auto& c : kBadSpecs) {
    SCOPED_TRACE(c.label);
    auto spec = parse_job_spec(c.text);
    ASSERT_FALSE(spec) << "accepted:\n" << c.text;
    const Error& e = spec.error();
    EXPECT_EQ(e.code, "invalid_job");
    ASSERT_EQ(e.details.size(), 1u) << describe(e);
    EXPECT_EQ(e.details[0].field, c.field) << describe(e);
    EXPECT_EQ(e.details[0].line, c.line) << describe(e);
    EXPECT_FALSE(e.details[0].message.empty());
    EXPECT_EQ(e.message, "job spec is invalid (1 error)");
  }
}

TEST(ParseJobSpec, UnknownFieldMessage) {
  auto spec = parse_job_spec("name: a\nduration: 1h\ncolour: red\n");
  ASSERT_FALSE(spec);
  ASSERT_EQ(spec.error().details.size(), 1u);
  EXPECT_EQ(spec.error().details[0].message, "unknown field");
}

TEST(ParseJobSpec, TooManyLabels) {
  std::string text = "name: a\nduration: 1h\nvertex:\n  container: {image_uri: i}\n  labels:\n";
  for (int i = 0; i < 64; ++i)
    text += "    l" + std::to_string(i) + ": v\n";
  auto spec = parse_job_spec(text);
  ASSERT_FALSE(spec);
  ASSERT_EQ(spec.error().details.size(), 1u);
  EXPECT_EQ(spec.error().details[0].field, "vertex.labels");
  EXPECT_EQ(spec.error().details[0].line, 5);
}

TEST(ParseJobSpec, InvalidYamlSyntaxIsOneErrorWithItsLine) {
  auto spec = parse_job_spec("name: a\nduration: 1h\nregions: [a, b\npolicy: now\n");
  ASSERT_FALSE(spec);
  ASSERT_EQ(spec.error().details.size(), 1u);
  EXPECT_EQ(spec.error().details[0].field, "");
  EXPECT_GE(spec.error().details[0].line, 3);
  EXPECT_NE(spec.error().details[0].message.find("YAML"), std::string::npos);

  auto tabs = parse_job_spec("name: a\nduration: 1h\nvertex:\n  a: 1\n b: 2\n");
  ASSERT_FALSE(tabs);
  ASSERT_EQ(tabs.error().details.size(), 1u);
  EXPECT_EQ(tabs.error().details[0].field, "");
  EXPECT_EQ(tabs.error().details[0].line, 5);
}

TEST(ParseJobSpec, InvalidUtf8IsRefusedNamingTheField) {
  // Found by fuzz_job_spec: this used to escape as an exception from the canonical JSON.
  auto spec = parse_job_spec("name: a\xff\xfe\nduration: 1h\n");
  ASSERT_FALSE(spec);
  ASSERT_EQ(spec.error().details.size(), 1u);
  EXPECT_EQ(spec.error().details[0].field, "name");
  EXPECT_NE(spec.error().details[0].message.find("UTF-8"), std::string::npos);
}

TEST(ParseJobSpec, ALoneCommaIsAnErrorNotAHang) {
  // Found by fuzz_job_spec: yaml-cpp 0.7's LoadAll never returns on this input.
  auto spec = parse_job_spec(",");
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, "invalid_job");
  EXPECT_EQ(spec.error().details.size(), 1u);
}

TEST(ParseJobSpec, EmptyTextIsAnError) {
  for (const char* text : {"", "   \n\n", "# only a comment\n", "~\n"}) {
    auto spec = parse_job_spec(text);
    ASSERT_FALSE(spec) << text;
    EXPECT_EQ(spec.error().code, "invalid_job");
    ASSERT_EQ(spec.error().details.size(), 1u);
    EXPECT_EQ(spec.error().details[0].field, "");
  }
}

TEST(ParseJobSpec, ReportsEveryErrorAtOnce) {
  auto spec = parse_job_spec(R"(name: "bad name!"
duration: 4x
policy: threshold
regions: [a, a]
vertex:
  accelerator_count: 1.5
  container: {image_uri: i, env: {K: [v]}}
  labels: {Team: x}
local: {command: []}
surprise: true
)");
  ASSERT_FALSE(spec);
  const Error& e = spec.error();
  const std::vector<FieldError> expected_fields = {
      {"name", "", 1},
      {"duration", "", 2},
      {"regions[1]", "", 4},
      {"vertex.accelerator_count", "", 6},
      {"vertex.container.env.K", "", 7},
      {"vertex.labels.Team", "", 8},
      {"local.command", "", 9},
      {"surprise", "", 10},
      {"threshold", "", 3},
  };
  EXPECT_EQ(e.details.size(), expected_fields.size()) << describe(e);
  for (const auto& want : expected_fields) {
    const bool found = std::any_of(e.details.begin(), e.details.end(), [&](const FieldError& got) {
      return got.field == want.field && got.line == want.line;
    });
    EXPECT_TRUE(found) << "missing " << want.field << " at line " << want.line << "\n"
                       << describe(e);
  }
  EXPECT_EQ(e.message, "job spec is invalid (9 errors)");
}

// --- validation ---

JobSpecContext context_at(long long now) {
  JobSpecContext context;
  context.known_regions = {"europe-west2", "europe-west9", "us-central1"};
  context.now = at(now);
  return context;
}

TEST(LoadJobSpec, FullSpecIsValidBeforeItsWindow) {
  auto spec = load_job_spec(kFullYaml, context_at(k2026_11_26T20 - 3600));
  ASSERT_TRUE(spec) << describe(spec.error());
  EXPECT_EQ(*spec, full_spec());
}

TEST(LoadJobSpec, UnknownRegionNamesItsIndexAndLine) {
  auto spec = load_job_spec("name: a\nduration: 1h\nregions:\n  - europe-west2\n  - mars-north1\n",
                            context_at(k2026_11_26T20));
  ASSERT_FALSE(spec);
  ASSERT_EQ(spec.error().details.size(), 1u) << describe(spec.error());
  EXPECT_EQ(spec.error().details[0].field, "regions[1]");
  EXPECT_EQ(spec.error().details[0].line, 3);
  EXPECT_NE(spec.error().details[0].message.find("mars-north1"), std::string::npos);
}

TEST(LoadJobSpec, NoKnownRegionsMeansNothingToCheck) {
  JobSpecContext context = context_at(k2026_11_26T20);
  context.known_regions.clear();
  auto spec = load_job_spec("name: a\nduration: 1h\nregions: [mars-north1]\n", context);
  EXPECT_TRUE(spec);
}

TEST(LoadJobSpec, UnknownAccelerator) {
  auto spec = load_job_spec(
      "name: a\nduration: 1h\nvertex:\n  accelerator_type: NVIDIA_TESLA_Z9\n"
      "  accelerator_count: 1\n  container: {image_uri: i}\n",
      context_at(k2026_11_26T20));
  ASSERT_FALSE(spec);
  ASSERT_EQ(spec.error().details.size(), 1u) << describe(spec.error());
  EXPECT_EQ(spec.error().details[0].field, "vertex.accelerator_type");
  EXPECT_EQ(spec.error().details[0].line, 4);
}

TEST(LoadJobSpec, AcceleratorWithoutPowerFigureNeedsPowerWatts) {
  const std::string text =
      "name: a\nduration: 1h\nvertex:\n  accelerator_type: TPU_V3\n"
      "  accelerator_count: 8\n  container: {image_uri: i}\n";
  auto spec = load_job_spec(text, context_at(k2026_11_26T20));
  ASSERT_FALSE(spec);
  ASSERT_EQ(spec.error().details.size(), 1u) << describe(spec.error());
  EXPECT_EQ(spec.error().details[0].field, "vertex.accelerator_type");
  EXPECT_EQ(spec.error().details[0].line, 4);
  EXPECT_NE(spec.error().details[0].message.find("power_watts"), std::string::npos);
  auto with_power = load_job_spec(text + "power_watts: 2000\n", context_at(k2026_11_26T20));
  EXPECT_TRUE(with_power) << describe(with_power.error());
}

TEST(LoadJobSpec, DeadlineInThePast) {
  auto spec = load_job_spec("name: a\nduration: 1h\ndeadline: 2026-11-26T20:00:00Z\n",
                            context_at(k2026_11_26T20 + 1));
  ASSERT_FALSE(spec);
  ASSERT_EQ(spec.error().details.size(), 1u) << describe(spec.error());
  EXPECT_EQ(spec.error().details[0].field, "deadline");
  EXPECT_EQ(spec.error().details[0].line, 3);
}

TEST(LoadJobSpec, NotBeforeAfterDeadline) {
  auto spec = load_job_spec(
      "name: a\nduration: 1h\nnot_before: 2026-11-27T08:00:00Z\ndeadline: 2026-11-26T20:00:00Z\n",
      context_at(k2026_11_26T20 - 86400));
  ASSERT_FALSE(spec);
  ASSERT_EQ(spec.error().details.size(), 1u) << describe(spec.error());
  EXPECT_EQ(spec.error().details[0].field, "deadline");
  EXPECT_EQ(spec.error().details[0].message, "deadline is before not_before");
  EXPECT_EQ(spec.error().details[0].line, 4);
}

TEST(LoadJobSpec, DurationMustFitTheWindowWithSlack) {
  // Window 20:00 -> 08:00 is 12 h; 11h45m + 15 m slack fits exactly, 11h46m does not.
  const std::string head =
      "name: a\nnot_before: 2026-11-26T20:00:00Z\n"
      "deadline: 2026-11-27T08:00:00Z\nduration: ";
  const JobSpecContext context = context_at(k2026_11_26T20 - 7200);
  EXPECT_TRUE(load_job_spec(head + "11h45m\n", context));
  auto spec = load_job_spec(head + "11h46m\n", context);
  ASSERT_FALSE(spec);
  ASSERT_EQ(spec.error().details.size(), 1u) << describe(spec.error());
  EXPECT_EQ(spec.error().details[0].field, "duration");
  EXPECT_EQ(spec.error().details[0].line, 4);
}

TEST(LoadJobSpec, WindowStartsAtNowWhenNotBeforeHasPassed) {
  // now = 21:00, deadline 08:00: 11 h window; 10h45m fits, 10h46m does not.
  const std::string head =
      "name: a\nnot_before: 2026-11-26T20:00:00Z\n"
      "deadline: 2026-11-27T08:00:00Z\nduration: ";
  const JobSpecContext context = context_at(k2026_11_26T20 + 3600);
  EXPECT_TRUE(load_job_spec(head + "10h45m\n", context));
  EXPECT_FALSE(load_job_spec(head + "10h46m\n", context));
}

TEST(LoadJobSpec, DefaultDeadlineApplies) {
  // No deadline: now + 24 h. 23h45m + 15m fits; 24h does not.
  const JobSpecContext context = context_at(k2026_11_26T20);
  EXPECT_TRUE(load_job_spec("name: a\nduration: 23h45m\n", context));
  auto spec = load_job_spec("name: a\nduration: 24h\n", context);
  ASSERT_FALSE(spec);
  ASSERT_EQ(spec.error().details.size(), 1u);
  EXPECT_EQ(spec.error().details[0].field, "duration");
  EXPECT_EQ(spec.error().details[0].line, 2);
}

TEST(LoadJobSpec, ReportsParseErrorsWhenParsingFails) {
  auto spec =
      load_job_spec("name: a\nduration: 4x\nregions: [nowhere]\n", context_at(k2026_11_26T20));
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, "invalid_job");
  ASSERT_EQ(spec.error().details.size(), 1u) << describe(spec.error());
  EXPECT_EQ(spec.error().details[0].field, "duration");
  EXPECT_EQ(spec.error().details[0].line, 2);
}

TEST(LoadJobSpec, CollectsEveryValidationError) {
  auto spec = load_job_spec(
      "name: a\nduration: 1h\nregions: [mars, europe-west2, venus]\ndeadline: "
      "2026-11-26T19:00:00Z\nvertex:\n  accelerator_type: NVIDIA_NOPE\n  accelerator_count: 1\n"
      "  container: {image_uri: i}\n",
      context_at(k2026_11_26T20));
  ASSERT_FALSE(spec);
  std::vector<std::string> fields;
  for (const auto& d : spec.error().details)
    fields.push_back(d.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"regions[0]", "regions[2]", "vertex.accelerator_type",
                                              "deadline"}));
  EXPECT_EQ(spec.error().message, "job spec is invalid (4 errors)");
}

TEST(ValidateJobSpec, SpecWithoutDispatchSettingsIsFine) {
  JobSpec spec;
  spec.name = "dry";
  spec.duration = Seconds{3600};
  EXPECT_TRUE(validate_job_spec(spec, context_at(k2026_11_26T20)).empty());
}

// --- canonical JSON ---

TEST(JobSpecToJson, MinimalCanonicalForm) {
  JobSpec spec;
  spec.name = "a";
  spec.duration = Seconds{5400};
  EXPECT_EQ(job_spec_to_json(spec), R"({"name":"a","duration":"1h30m","policy":"best_window"})");
}

TEST(JobSpecToJson, FullSpecRoundTrips) {
  const JobSpec spec = full_spec();
  const std::string json = job_spec_to_json(spec);
  auto back = parse_job_spec(json);
  ASSERT_TRUE(back) << describe(back.error()) << "\n" << json;
  EXPECT_EQ(*back, spec);
  EXPECT_NE(json.find(R"("deadline":"2026-11-27T08:00:00Z")"), std::string::npos);
  EXPECT_NE(json.find(R"("timeout":"1d")"), std::string::npos);
}

TEST(JobSpecToJson, RichSpecsRoundTrip) {
  JobSpec a = full_spec();
  a.policy = Policy::best_window;
  a.threshold = 87.25;
  a.power_watts = 1234.5678;
  a.regions = {"us-central1"};
  a.duration = Seconds{93784};
  a.vertex->container->command = {"sh", "-c", "echo \"quoted\" 'x' \\ tab\there\nnext"};
  a.vertex->container->env = {{"EMPTY", ""},
                              {"PATH_LIKE", "/a:/b"},
                              {"UNICODE", "caf\xc3\xa9"},
                              {"YAMLISH", "key: value # not a comment"},
                              {"NULLISH", "null"},
                              {"NUMERIC", "0123"},
                              {"BOOLISH", "true"}};
  a.vertex->scheduling.strategy = SchedulingStrategy::flex_start;
  a.vertex->labels = {{"team", "vision"}, {"cost-centre", ""}, {"a_b", "1-2"}};
  a.local.reset();

  JobSpec b;
  b.name = "pkg.v2_final-3";
  b.duration = Seconds{1};
  b.not_before = at(-62135596800);
  b.deadline = at(253402300799);
  b.policy = Policy::now;
  b.threshold = 0.0;
  VertexSpec v;
  v.replica_count = 4;
  v.python_package =
      PythonPackageSpec{"img", {"gs://a/1.tgz", "gs://a/2.tgz"}, "m.n", {"[x]", "{y}"}};
  b.vertex = v;

  JobSpec c;
  c.name = std::string(128, 'z');
  c.duration = Seconds{366LL * 86400};  // the longest a spec may ask for
  c.local = LocalSpec{{"python3", "-c", "print(1)", "-", "--", "~", "*"}};

  for (const JobSpec& spec : {a, b, c}) {
    const std::string json = job_spec_to_json(spec);
    auto back = parse_job_spec(json);
    ASSERT_TRUE(back) << describe(back.error()) << "\n" << json;
    EXPECT_EQ(*back, spec) << json;
    EXPECT_EQ(job_spec_to_json(*back), json);
  }
}

TEST(JobSpecToJson, ParsedYamlRoundTrips) {
  auto spec = parse_job_spec(kFullYaml);
  ASSERT_TRUE(spec);
  auto back = parse_job_spec(job_spec_to_json(*spec));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, *spec);
}

}  // namespace
}  // namespace gridshift

namespace gridshift {
namespace {

TEST(LoadJobSpec, InterruptibleIsReadAndRoundTrips) {
  auto spec = load_job_spec(
      "name: a\nduration: 4h\ninterruptible: {max_segments: 3, min_segment: 1h, "
      "resume_overhead: 5m}\n",
      context_at(k2026_11_26T20));
  ASSERT_TRUE(spec) << describe(spec.error());
  ASSERT_TRUE(spec->interruptible);
  EXPECT_EQ(spec->interruptible->max_segments, 3);
  EXPECT_EQ(spec->interruptible->min_segment, std::chrono::hours(1));
  EXPECT_EQ(spec->interruptible->resume_overhead, std::chrono::minutes(5));
  auto again = parse_job_spec(job_spec_to_json(*spec));
  ASSERT_TRUE(again) << describe(again.error());
  EXPECT_EQ(again->interruptible, spec->interruptible);
}

struct InterruptibleCase {
  const char* yaml;   // the interruptible mapping
  const char* field;  // the one field at fault
  const char* words;  // in its message
};

TEST(LoadJobSpec, InterruptibleRulesNameTheirField) {
  for (const auto& c : std::vector<InterruptibleCase>{
           {"{max_segments: 4, min_segment: 1h, resume_overhead: 1h}",
            "interruptible.resume_overhead", "shorter than min_segment"},
           {"{max_segments: 2, min_segment: 5h}", "interruptible.min_segment",
            "longer than the job's duration"},
           // 4 x 1h > 3h + 3 x 5m: at most 3 segments fit.
           {"{max_segments: 4, min_segment: 1h, resume_overhead: 5m}", "interruptible.max_segments",
            "at most 3 do"},
           {"{max_segments: 0, min_segment: 1h}", "interruptible.max_segments", "from 1 to 24"},
           {"{max_segments: 2}", "interruptible.min_segment", "required"},
           {"{min_segment: 1h}", "interruptible.max_segments", "required"},
           {"{max_segments: 2, min_segment: 1h, pause: 1h}", "interruptible.pause", "unknown"},
           {"{max_segments: 2, min_segment: soon}", "interruptible.min_segment", ""},
       }) {
    const std::string text = std::string("name: a\nduration: 3h\ninterruptible: ") + c.yaml + "\n";
    auto spec = load_job_spec(text, context_at(k2026_11_26T20));
    ASSERT_FALSE(spec) << text;
    ASSERT_EQ(spec.error().details.size(), 1u) << text << describe(spec.error());
    EXPECT_EQ(spec.error().details[0].field, c.field) << text;
    EXPECT_NE(spec.error().details[0].message.find(c.words), std::string::npos)
        << text << spec.error().details[0].message;
    EXPECT_EQ(spec.error().details[0].line, 3) << text;
  }
}

}  // namespace
}  // namespace gridshift
