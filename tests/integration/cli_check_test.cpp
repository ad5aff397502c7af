// `gridshift check`: offline validation of job specs with the real binary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support/process.h"

namespace gridshift::testing {
namespace {

const std::string kCli = GRIDSHIFT_CLI_PATH;
const std::string kSourceDir = GRIDSHIFT_SOURCE_DIR;
const std::string kJobs = std::string(GRIDSHIFT_TEST_DATA_DIR) + "/jobs";

std::string config_with_region(const TempDir& dir, const std::string& region) {
  const auto path = (dir / "config.yaml").string();
  write_file(path,
             "state_dir: " + (dir / "state").string() +
                 "\nfeeds:\n  - {name: annual, type: gcp_region_dataset, file: " + kSourceDir +
                 "/data/gcp-regions.csv}\nregions:\n  - {name: " + region + ", feeds: [annual]}\n");
  return path;
}

TEST(CliCheck, AcceptsAValidSpec) {
  TempDir dir;
  auto r = run_command(
      {kCli, "check", kJobs + "/valid.yaml", "--config", config_with_region(dir, "europe-west2")},
      dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("valid.yaml: OK"), std::string::npos) << r.out;
}

TEST(CliCheck, RejectsARegionTheConfigDoesNotHave) {
  TempDir dir;
  auto r = run_command(
      {kCli, "check", kJobs + "/valid.yaml", "--config", config_with_region(dir, "us-central1")},
      dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("regions[0]"), std::string::npos) << r.err;
}

TEST(CliCheck, ReportsEveryErrorWithItsFieldAndLineAsJson) {
  TempDir dir;
  auto r = run_command({kCli, "check", "--json", kJobs + "/invalid.yaml", "--config",
                        config_with_region(dir, "europe-west2")},
                       dir.path());
  EXPECT_EQ(r.exit_code, 2);
  auto out = nlohmann::json::parse(r.out);
  ASSERT_EQ(out["files"].size(), 1u);
  EXPECT_FALSE(out["files"][0]["ok"].get<bool>());
  std::map<std::string, int> lines;
  for (const auto& e : out["files"][0]["errors"])
    lines[e["field"]] = e["line"];
  EXPECT_EQ(lines.count("name"), 1u) << r.out;
  EXPECT_EQ(lines["duration"], 3) << r.out;
  EXPECT_EQ(lines["policy"], 4) << r.out;
}

TEST(CliCheck, ReadsStdinAndChecksSeveralFiles) {
  TempDir dir;
  const std::string spec = "{\"name\": \"from-stdin\", \"duration\": \"1h\"}";
  auto r = run_command({kCli, "check", "-", kJobs + "/invalid.yaml", "--config",
                        config_with_region(dir, "europe-west2")},
                       dir.path(), {}, spec);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("-: OK"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("invalid.yaml:3: duration"), std::string::npos) << r.err;
}

TEST(CliCheck, MissingFileIsReported) {
  TempDir dir;
  auto r = run_command({kCli, "check", (dir / "absent.yaml").string(), "--config",
                        config_with_region(dir, "europe-west2")},
                       dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("absent.yaml"), std::string::npos) << r.err;
}

TEST(CliCheck, NoArgumentsIsAUsageError) {
  TempDir dir;
  auto r = run_command({kCli, "check"}, dir.path());
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace gridshift::testing
