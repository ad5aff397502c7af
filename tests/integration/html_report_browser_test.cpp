// `gridshift report --html` in a real browser: jobs run by the real gridshiftd (local target),
// the page written by the real CLI, rendered by Debian's chromium headless to a PNG that is
// read back and checked: the size asked for, not blank, text and the charts' colours present,
// and no console error. A blank page and a page with a script error are rendered too, to show
// that these checks can fail.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/daemon_fixture.h"
#include "support/png.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

constexpr std::uint32_t kWidth = 1000;
constexpr std::uint32_t kHeight = 1400;

struct Screenshot {
  std::optional<Image> image;
  std::string error;
  std::string console;  // the browser's console lines (errors and messages)
};

// Renders `page` with chromium headless (no network needed: the page fetches nothing).
Screenshot render(const TempDir& dir, const std::filesystem::path& page) {
  const auto png = dir / (page.stem().string() + ".png");
  auto r = run_command({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", "--no-first-run", "--enable-logging=stderr", "--v=0",
                        "--user-data-dir=" + (dir / "chromium-profile").string(),
                        "--window-size=" + std::to_string(kWidth) + "," + std::to_string(kHeight),
                        "--screenshot=" + png.string(), "file://" + page.string()},
                       dir.path(), {}, {}, std::chrono::seconds(120));
  Screenshot shot;
  for (std::size_t at = 0; at < r.err.size();) {
    const auto end = r.err.find('\n', at);
    const auto line = r.err.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.find(":CONSOLE") != std::string::npos) shot.console += line + "\n";
    if (end == std::string::npos) break;
    at = end + 1;
  }
  if (r.exit_code != 0) {
    shot.error = "chromium exited " + std::to_string(r.exit_code) + ": " + r.err;
    return shot;
  }
  shot.image = decode_png(read_file(png), shot.error);
  return shot;
}

// Share of pixels that differ from the top-left one (the page background).
double ink(const Image& image) {
  const Rgb background = image.at(0, 0);
  std::size_t n = 0;
  for (const auto& p : image.pixels) {
    if (!(p == background)) ++n;
  }
  return static_cast<double>(n) / static_cast<double>(image.pixels.size());
}

// gridshiftd on the yearly dataset with the local target, its jobs under dir/jobs.
std::unique_ptr<ChildProcess> start_local_daemon(const TempDir& dir) {
  auto config = annual_dataset_config(dir.path());
  const std::string dry = "dispatch: {type: dry_run}\n";
  config.replace(config.find(dry), dry.size(),
                 "scheduler: {tick: 1s}\ndispatch: {type: local, local: {workdir: " +
                     (dir / "jobs").string() + "}}\n");
  write_file(dir / "config.yaml", config);
  return start_daemon(dir.path(), dir / "config.yaml");
}

TEST(HtmlReportInABrowser, ThePageShowsTheNightsJobsAndRendersCleanly) {
  TempDir dir;
  auto daemon = start_local_daemon(dir);
  ASSERT_TRUE(wait_ready(*daemon)) << daemon->stderr_text();
  CliRunner cli(dir.path(), (dir / "gridshift.sock").string());
  for (const char* name : {"night-one", "night-two"}) {
    auto r = cli.run({"run", "--name", name, "--duration", "1m", "--", "/bin/true"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto waited = cli.run({"wait", "night-one", "night-two"});
  ASSERT_EQ(waited.exit_code, 0) << waited.out << waited.err;

  const auto page = dir / "report.html";
  auto r = cli.run({"report", "--html", page.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 jobs"), std::string::npos) << r.out;
  const std::string html = read_file(page);
  EXPECT_NE(html.find("night-one"), std::string::npos);
  // Newest first.
  EXPECT_LT(html.find("<h3>night-two"), html.find("<h3>night-one")) << html;
  // --from limits the jobs drawn to runs that ended in the range.
  auto none = cli.run({"report", "--html", (dir / "later.html").string(), "--from", "+1h"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.out.find("(0 jobs"), std::string::npos) << none.out;
  EXPECT_EQ(read_file(dir / "later.html").find("night-one"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();

  auto shot = render(dir, page);
  ASSERT_TRUE(shot.image) << shot.error;
  EXPECT_EQ(shot.image->width, kWidth);
  EXPECT_EQ(shot.image->height, kHeight);
  EXPECT_EQ(shot.console, "") << "the page logged to the console";
  EXPECT_GT(ink(*shot.image), 0.01) << "the page rendered (nearly) blank";
  // Dark text, and the charts' colours: the intensity curve (#3b6e8f) and the cards' borders.
  EXPECT_GT(count_near(*shot.image, {0x1d, 0x2b, 0x24}, 60), 500u) << "no text drawn";
  EXPECT_GT(count_near(*shot.image, {0x3b, 0x6e, 0x8f}, 40), 100u) << "no intensity curve";
  EXPECT_GT(count_near(*shot.image, {0xd8, 0xe2, 0xdc}, 6), 100u) << "no cards";
}

// docs/cli.md's first night, step by step, as a new user types it: copy an example, submit it
// with --deadline 'tomorrow 08:00' and read the plan, wait, read the logs, open the report.
TEST(HtmlReportInABrowser, ANewUsersFirstNightFromCopyToReport) {
  TempDir dir;
  auto daemon = start_local_daemon(dir);
  ASSERT_TRUE(wait_ready(*daemon)) << daemon->stderr_text();
  CliRunner cli(dir.path(), (dir / "gridshift.sock").string());

  std::filesystem::copy_file(
      std::string(GRIDSHIFT_SOURCE_DIR) + "/examples/jobs/local-command.yaml", dir / "mine.yaml");
  auto r = cli.run({"submit", (dir / "mine.yaml").string(), "--deadline", "tomorrow 08:00"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("submitted j-"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("plan: europe-west2, start "), std::string::npos) << r.out;
  // The yearly average is flat, so the earliest window is as clean as any: it starts now.
  r = cli.run({"wait", "trainer-on-this-host"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << daemon->stderr_text();
  r = cli.run({"logs", "trainer-on-this-host"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("trained: w=3.0"), std::string::npos) << r.out;  // y = 3x + 1, learnt
  r = cli.run({"report", "--html", (dir / "night.html").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
  auto shot = render(dir, dir / "night.html");
  ASSERT_TRUE(shot.image) << shot.error;
  EXPECT_EQ(shot.console, "");
  EXPECT_GT(ink(*shot.image), 0.01);
  EXPECT_NE(read_file(dir / "night.html").find("trainer-on-this-host"), std::string::npos);
}

TEST(HtmlReportInABrowser, TheChecksCatchABlankPageAndAScriptError) {
  TempDir dir;
  write_file(dir / "blank.html", "<!DOCTYPE html><html><body></body></html>\n");
  auto blank = render(dir, dir / "blank.html");
  ASSERT_TRUE(blank.image) << blank.error;
  EXPECT_LT(ink(*blank.image), 0.001);
  write_file(dir / "broken.html",
             "<!DOCTYPE html><html><body><script>no_such_function()</script></body></html>\n");
  auto broken = render(dir, dir / "broken.html");
  EXPECT_NE(broken.console.find("no_such_function"), std::string::npos) << broken.console;
}

}  // namespace
}  // namespace gridshift::testing
