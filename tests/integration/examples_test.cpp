// The shipped examples never rot: every job spec in examples/jobs/ (and the Vertex AI trainer's
// job.yaml) passes `gridshift check` against config.example.yaml and is accepted by a daemon
// with the dry_run dispatcher, and the example trainer runs on the machine's python3.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "api_raw_client.h"
#include "cli/local_time.h"
#include "common/system_clock.h"
#include "core/job_spec.h"
#include "core/time.h"
#include "daemon/config/config.h"
#include "daemon/feeds/registry.h"
#include "support/daemon_fixture.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

namespace fs = std::filesystem;

const std::string kCli = GRIDSHIFT_CLI_PATH;
const fs::path kSourceDir = GRIDSHIFT_SOURCE_DIR;
const fs::path kExamples = kSourceDir / "examples";
const fs::path kTrainerDir = kExamples / "vertex-trainer";
const fs::path kExampleConfig = kSourceDir / "config.example.yaml";

// Every file in examples/jobs/ (globbed, so a new example is covered without editing this
// test), then the trainer's job spec.
std::vector<fs::path> example_specs() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kExamples / "jobs")) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  files.push_back(kTrainerDir / "job.yaml");
  return files;
}

// Examples carry absolute RFC 3339 times that pass with the calendar. Moves all of a file's
// times by the same whole number of days, so that the earliest lands between one and two days
// from now: the times keep their clock time and their distances from each other.
std::string with_future_dates(const std::string& text, TimePoint now) {
  static const std::regex kTime(
      R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))");
  std::optional<TimePoint> earliest;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kTime);
       it != std::sregex_iterator(); ++it) {
    auto t = parse_rfc3339(it->str());
    if (t && (!earliest || *t < *earliest)) earliest = *t;
  }
  if (!earliest) return text;
  constexpr std::int64_t kDay = 24 * 3600;
  const std::int64_t behind =
      std::chrono::duration_cast<Seconds>(now + Seconds(kDay) - *earliest).count();
  const std::int64_t days = behind >= 0 ? (behind + kDay - 1) / kDay : -(-behind / kDay);
  const Seconds shift(days * kDay);
  std::string out;
  std::size_t copied = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kTime);
       it != std::sregex_iterator(); ++it) {
    auto t = parse_rfc3339(it->str());
    if (!t) continue;
    out += text.substr(copied, static_cast<std::size_t>(it->position()) - copied);
    out += format_rfc3339(*t + shift);
    copied = static_cast<std::size_t>(it->position() + it->length());
  }
  return out + text.substr(copied);
}

// Copies of the examples with their dates moved into the future, under the same file names.
std::vector<fs::path> dated_copies(const TempDir& dir) {
  const auto target = dir / "examples";
  fs::create_directories(target);
  std::vector<fs::path> copies;
  const TimePoint now = SystemClock().now();
  for (const auto& file : example_specs()) {
    const auto name = file.parent_path().filename().string() + "-" + file.filename().string();
    write_file(target / name, with_future_dates(read_file(file), now));
    copies.push_back(target / name);
  }
  return copies;
}

std::string spec_name(const fs::path& file) {
  return YAML::LoadFile(file.string())["name"].as<std::string>();
}

TEST(Examples, TheFolderHoldsSpecsForEveryCommonCase) {
  std::set<std::string> names;
  for (const auto& file : example_specs())
    names.insert(file.filename().string());
  // The issue's list; renaming one means updating docs/quickstart.md too.
  for (const char* expected :
       {"overnight-best-window.yaml", "threshold-release.yaml", "several-regions.yaml",
        "spot-container.yaml", "flex-start-python-package.yaml", "local-command.yaml",
        "interruptible-local.yaml"}) {
    EXPECT_EQ(names.count(expected), 1u) << expected;
  }
}

TEST(Examples, DateShiftKeepsClockTimeAndSpacing) {
  const auto now = *parse_rfc3339("2031-03-10T12:00:00Z");
  const std::string text =
      "deadline: 2026-11-27T08:00:00Z\nnot_before: 2026-11-26T20:00:00+01:00\nname: x\n";
  EXPECT_EQ(with_future_dates(text, now),
            "deadline: 2031-03-12T08:00:00Z\nnot_before: 2031-03-11T19:00:00Z\nname: x\n");
  EXPECT_EQ(with_future_dates("name: x\n", now), "name: x\n");
}

TEST(Examples, EveryExampleSpecPassesCheckAgainstTheExampleConfig) {
  TempDir dir;
  const auto files = dated_copies(dir);
  ASSERT_GT(files.size(), 1u) << "examples/jobs/ is empty";
  std::vector<std::string> argv = {kCli, "check", "--json", "--config", kExampleConfig.string()};
  for (const auto& f : files)
    argv.push_back(f.string());
  // From the source tree, where config.example.yaml's relative paths point.
  auto r = run_command(argv, dir.path(), kSourceDir);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto out = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(out.is_object()) << r.out << r.err;
  EXPECT_EQ(out["config"], kExampleConfig.string());
  ASSERT_EQ(out["files"].size(), files.size());
  for (const auto& f : out["files"]) {
    EXPECT_TRUE(f["ok"].get<bool>()) << f.dump(2);
  }
}

TEST(Examples, CheckRejectsAnExampleWhoseDeadlineHasPassed) {
  // The failure mode the date shift above exists for: the message says what to fix.
  TempDir dir;
  const auto file = dir / "late.yaml";
  write_file(file, "name: late\nduration: 1h\ndeadline: 2001-01-01T08:00:00Z\n");
  auto r = run_command({kCli, "check", "--config", kExampleConfig.string(), file.string()},
                       dir.path(), kSourceDir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("late.yaml:3: deadline: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("in the past"), std::string::npos) << r.err;
}

// A daemon on the dry_run target whose regions are config.example.yaml's (all on the bundled
// yearly dataset, so nothing reaches the network).
std::string daemon_config_with_example_regions(const TempDir& dir) {
  auto example = load_config_file(kExampleConfig.string(), feed_schemas());
  if (!example) throw std::runtime_error(example.error().message);
  std::string config = "state_dir: " + (dir / "state").string() + "\n" +
                       "socket: {path: " + (dir / "gridshift.sock").string() + "}\n" +
                       "feeds:\n  - {name: annual, type: gcp_region_dataset, file: " +
                       (kSourceDir / "data" / "gcp-regions.csv").string() + "}\nregions:\n";
  for (const auto& region : example->regions) {
    config += "  - {name: " + region.name +
              ", feeds: [annual], pue: " + std::to_string(region.pue) + "}\n";
  }
  return config + "dispatch: {type: dry_run}\n";
}

TEST(Examples, EveryExampleIsAcceptedByADryRunDaemon) {
  TempDir dir;
  write_file(dir / "config.yaml", daemon_config_with_example_regions(dir));
  auto daemon = start_daemon(dir.path(), dir / "config.yaml");
  ASSERT_TRUE(wait_ready(*daemon)) << daemon->stderr_text();
  const std::string socket = (dir / "gridshift.sock").string();

  const auto files = dated_copies(dir);
  std::map<std::string, std::string> submitted;  // id -> name
  for (const auto& file : files) {
    // The CLI's own conversion: the file's YAML, checked, as the canonical JSON the API takes.
    auto spec = parse_job_spec(read_file(file));
    ASSERT_TRUE(spec) << file << ": " << spec.error().message;
    // Local clock times ("tomorrow 08:00") are the CLI's to resolve, in the caller's zone.
    const auto resolver =
        local_time_resolver(std::chrono::floor<Seconds>(std::chrono::system_clock::now()));
    ASSERT_TRUE(resolve_spec_times(*spec, std::nullopt, &resolver).empty()) << file;
    auto reply = call(socket, "POST", "/v1/jobs", job_spec_to_json(*spec));
    ASSERT_EQ(reply.status, 201) << file << ": " << reply.body;
    const auto job = reply.json();
    EXPECT_EQ(job["name"], spec_name(file)) << file;
    submitted[job["id"].get<std::string>()] = spec_name(file);
  }

  // Each is listed by the real CLI under its id with its name.
  auto listed =
      run_command({kCli, "--socket", socket, "jobs", "--json", "--limit", "1000"}, dir.path());
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  std::map<std::string, std::string> seen;
  const auto list = nlohmann::json::parse(listed.out);
  for (const auto& job : list["jobs"])
    seen[job["id"].get<std::string>()] = job["name"].get<std::string>();
  EXPECT_EQ(seen, submitted);
  EXPECT_EQ(submitted.size(), files.size());
}

std::optional<fs::path> find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / program;
    if (!candidate.parent_path().empty() && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

// Runs `python3 ARGS` with the trainer package importable, in `dir`, leaving no bytecode in
// the source tree.
CommandResult run_python(const TempDir& dir, const fs::path& python, std::vector<std::string> args,
                         std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), python.string());
  env["PYTHONPATH"] = kTrainerDir.string();
  env["PYTHONDONTWRITEBYTECODE"] = "1";
  static int counter = 0;
  ProcessOptions options;
  options.argv = args;
  options.cwd = dir.path();
  options.set_env = std::move(env);
  options.unset_env = {"AIP_MODEL_DIR"};
  options.stdout_path = dir / ("python-" + std::to_string(counter) + ".out");
  options.stderr_path = dir / ("python-" + std::to_string(counter++) + ".err");
  ChildProcess child(options);
  CommandResult result;
  result.exit_code = child.wait_exit(std::chrono::seconds(60)).value_or(-1);
  result.out = child.stdout_text();
  result.err = child.stderr_text();
  return result;
}

// The share of the majority class in the shipped dataset: what always guessing it scores.
double majority_share(const fs::path& csv) {
  const std::string text = read_file(csv);
  std::size_t rows = 0;
  std::size_t clean = 0;
  std::size_t begin = text.find('\n') + 1;  // skip the header
  while (begin < text.size()) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    std::string row = text.substr(begin, end - begin);
    if (!row.empty() && row.back() == '\r') row.pop_back();
    if (!row.empty()) {
      ++rows;
      if (row.back() == '1') ++clean;
    }
    begin = end + 1;
  }
  if (rows == 0) return 1.0;
  const double share = static_cast<double>(clean) / static_cast<double>(rows);
  return std::max(share, 1.0 - share);
}

TEST(ExampleTrainer, TrainsEvaluatesAndWritesTheModel) {
  const auto python = find_on_path("python3");
  if (!python) GTEST_SKIP() << "python3 is not on PATH: the example trainer cannot run";
  TempDir dir;
  const auto model_dir = dir / "out" / "model";
  auto r = run_python(dir, *python, {"-m", "trainer.task", "--model-dir", model_dir.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const auto model = nlohmann::json::parse(read_file(model_dir / "model.json"), nullptr, false);
  ASSERT_TRUE(model.is_object()) << read_file(model_dir / "model.json");
  EXPECT_EQ(model["weights"].size(), model["features"].size());
  EXPECT_TRUE(model["bias"].is_number());

  // The last stdout line is the metrics as JSON, the same as metrics.json.
  std::string last = r.out.substr(0, r.out.find_last_not_of('\n') + 1);
  last = last.substr(last.find_last_of('\n') + 1);
  const auto printed = nlohmann::json::parse(last, nullptr, false);
  ASSERT_TRUE(printed.is_object()) << r.out;
  const auto metrics = nlohmann::json::parse(read_file(model_dir / "metrics.json"));
  EXPECT_EQ(printed["test"], metrics["test"]);
  EXPECT_EQ(printed["model_dir"], model_dir.string());

  // Better than always guessing the more common class by a clear margin.
  const double baseline = majority_share(kTrainerDir / "trainer" / "data" / "grid_hours.csv");
  EXPECT_LT(baseline, 0.8);
  EXPECT_GT(metrics["test"]["accuracy"].get<double>(), baseline + 0.08) << metrics.dump();
  EXPECT_GT(metrics["test"]["examples"].get<int>(), 50);
}

TEST(ExampleTrainer, WritesToAipModelDirAndMapsGcsUris) {
  const auto python = find_on_path("python3");
  if (!python) GTEST_SKIP() << "python3 is not on PATH: the example trainer cannot run";
  TempDir dir;
  const auto aip = dir / "aip-model";
  auto r = run_python(dir, *python, {"-m", "trainer.task", "--epochs", "20"},
                      {{"AIP_MODEL_DIR", aip.string()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(aip / "model.json"));
  EXPECT_FALSE(fs::exists(dir / "model"));

  // Vertex AI mounts Cloud Storage at /gcs: gs://bucket/path is written as /gcs/bucket/path.
  auto mapped = run_python(
      dir, *python,
      {"-c", "from trainer.task import local_path; print(local_path('gs://b/runs/7/model'))"});
  ASSERT_EQ(mapped.exit_code, 0) << mapped.err;
  EXPECT_EQ(mapped.out, "/gcs/b/runs/7/model\n");

  auto bad = run_python(dir, *python, {"-m", "trainer.task", "--epochs", "0"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--epochs"), std::string::npos) << bad.err;
}

TEST(ExampleTrainer, CheckpointsAtTheSegmentEndAndResumesToTheSameModel) {
  const auto python = find_on_path("python3");
  if (!python) GTEST_SKIP() << "python3 is not on PATH: the example trainer cannot run";
  TempDir dir;
  auto whole = run_python(dir, *python, {"-m", "trainer.task", "--model-dir", "whole"});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  // Segment 1 ends in the past: the trainer saves its first checkpoint and stops, exit 0,
  // without a model or the COMPLETE marker.
  const auto ck = dir / "checkpoints";
  std::map<std::string, std::string> env = {{"GRIDSHIFT_CHECKPOINT_DIR", ck.string()},
                                            {"GRIDSHIFT_SEGMENT", "1"},
                                            {"GRIDSHIFT_SEGMENT_END", "2020-01-01T00:00:00Z"}};
  auto first = run_python(dir, *python, {"-m", "trainer.task", "--model-dir", "split"}, env);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("segment 1: checkpointed at epoch 50 of 400"), std::string::npos)
      << first.out;
  EXPECT_TRUE(fs::exists(ck / "checkpoint.json"));
  EXPECT_FALSE(fs::exists(ck / "COMPLETE"));
  EXPECT_FALSE(fs::exists(dir / "split" / "model.json"));

  // Segment 2 has time: it resumes from the checkpoint, finishes and says so.
  env["GRIDSHIFT_SEGMENT"] = "2";
  env["GRIDSHIFT_SEGMENT_END"] = "2099-01-01T00:00:00Z";
  auto second = run_python(dir, *python, {"-m", "trainer.task", "--model-dir", "split"}, env);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("segment 2: resuming at epoch 50"), std::string::npos) << second.out;
  EXPECT_TRUE(fs::exists(ck / "COMPLETE"));
  // The same model as one uninterrupted run: the checkpoint loses nothing.
  EXPECT_EQ(read_file(dir / "split" / "model.json"), read_file(dir / "whole" / "model.json"));
}

TEST(Examples, SpecsWrittenWithRelativeTimesPassCheckAsTheyAreToday) {
  // No copy with shifted dates: the files themselves, so that none ever expires.
  TempDir dir;
  std::vector<std::string> argv = {kCli, "check", "--json", "--config", kExampleConfig.string()};
  for (const auto& f : example_specs()) {
    const auto doc = YAML::LoadFile(f.string());
    for (const char* key : {"deadline", "not_before"}) {
      if (doc[key]) {
        EXPECT_FALSE(parse_rfc3339(doc[key].as<std::string>()))
            << f << ": " << key << " is a fixed date, which expires";
      }
    }
    argv.push_back(f.string());
  }
  auto r = run_command(argv, dir.path(), kSourceDir);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace gridshift::testing
