// The layout's rules (LAYOUT.md), checked on the built binaries and the source tree: the CLI
// links neither SQLite nor libsystemd, and a provider's wire knowledge (its endpoint paths)
// appears in production code only inside that provider's folder.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/process.h"

namespace gridshift {
namespace {

namespace fs = std::filesystem;

TEST(Layout, TheCliLinksNoSqliteAndNoSystemd) {
  const fs::path scratch =
      fs::temp_directory_path() / ("gridshift-layout-" + std::to_string(::getpid()));
  fs::create_directories(scratch);
  const auto cli = testing::run_command({"/usr/bin/ldd", GRIDSHIFT_CLI_PATH}, scratch);
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(cli.out.find("libsqlite3"), std::string::npos) << cli.out;
  EXPECT_EQ(cli.out.find("libsystemd"), std::string::npos) << cli.out;
  // The daemon, for contrast, links both: the check above can fail.
  const auto daemon = testing::run_command({"/usr/bin/ldd", GRIDSHIFTD_PATH}, scratch);
  EXPECT_NE(daemon.out.find("libsqlite3"), std::string::npos) << daemon.out;
  EXPECT_NE(daemon.out.find("libsystemd"), std::string::npos) << daemon.out;
  fs::remove_all(scratch);
}

// Production code: every C++ source outside tests/, bench/ and fuzz/.
std::vector<fs::path> production_sources() {
  std::vector<fs::path> out;
  const fs::path root(GRIDSHIFT_SOURCE_DIR);
  for (const char* top : {"core", "common", "net", "storage", "deploy", "daemon", "cli"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      const auto ext = entry.path().extension();
      if (entry.is_regular_file() && (ext == ".cpp" || ext == ".h")) out.push_back(entry.path());
    }
  }
  return out;
}

TEST(Layout, EachProvidersEndpointsStayInItsFolder) {
  struct Rule {
    std::string text;
    std::string folder;  // relative to the source root
  };
  const std::vector<Rule> rules = {
      {"/carbon-intensity/", "daemon/feeds/electricitymaps/"},
      {"power-breakdown", "daemon/feeds/electricitymaps/"},
      {"/v3/forecast", "daemon/feeds/watttime/"},
      {"region-from-loc", "daemon/feeds/watttime/"},
      {"regional/intensity", "daemon/feeds/carbon_intensity_uk/"},
      {"customJobs", "deploy/vertex_ai/"},
      {"posix_spawn", "deploy/local/"},
  };
  const auto sources = production_sources();
  ASSERT_GT(sources.size(), 50u);
  const std::string root = fs::path(GRIDSHIFT_SOURCE_DIR).string() + "/";
  for (const auto& rule : rules) {
    int inside = 0;
    for (const auto& path : sources) {
      const std::string relative = path.string().substr(root.size());
      const bool found = testing::read_file(path).find(rule.text) != std::string::npos;
      if (!found) continue;
      if (relative.starts_with(rule.folder)) {
        ++inside;
      } else {
        ADD_FAILURE() << "'" << rule.text << "' belongs in " << rule.folder << ", found in "
                      << relative;
      }
    }
    EXPECT_GT(inside, 0) << "'" << rule.text << "' is not used in " << rule.folder;
  }
}

}  // namespace
}  // namespace gridshift
