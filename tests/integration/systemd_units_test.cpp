// The units, the install layout and the .deb: `systemd-analyze verify` and `security` on the
// units, `cmake --install` into a DESTDIR (config only when absent), and the package built by
// CPack, listed with dpkg-deb and unpacked into a scratch root.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "support/process.h"

namespace gridshift::testing {
namespace {

namespace fs = std::filesystem;

const std::string kDaemon = GRIDSHIFTD_PATH;
const fs::path kSourceDir = GRIDSHIFT_SOURCE_DIR;
const fs::path kBinaryDir = GRIDSHIFT_BINARY_DIR;

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// Copies of the units whose ExecStart names the built binary (verify wants it to exist), and
// a man directory holding gridshiftd(8), which Documentation= names.
fs::path units_for_verify(const TempDir& dir) {
  const auto units = dir / "units";
  fs::create_directories(units);
  for (const auto* unit : {"gridshiftd.service", "gridshiftd.socket"}) {
    write_file(units / unit, replace_all(read_file(kSourceDir / "systemd" / unit),
                                         "/usr/sbin/gridshiftd", kDaemon));
  }
  fs::create_directories(dir / "man" / "man8");
  fs::copy_file(kSourceDir / "docs" / "gridshiftd.8", dir / "man" / "man8" / "gridshiftd.8");
  return units;
}

TEST(SystemdUnits, VerifyIsClean) {
  TempDir dir;
  const auto units = units_for_verify(dir);
  const auto result =
      run_command({"/usr/bin/env", "MANPATH=" + (dir / "man").string(), "systemd-analyze", "verify",
                   (units / "gridshiftd.service"), (units / "gridshiftd.socket")},
                  dir.path(), units);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(result.err, "") << result.err;
}

// `systemd-analyze security` of the service in `units`; -1 when it printed no figure.
double exposure(const TempDir& dir, const fs::path& units) {
  const auto result = run_command({"/usr/bin/systemd-analyze", "security", "--offline=yes",
                                   "--no-pager", (units / "gridshiftd.service")},
                                  dir.path(), units);
  std::smatch match;
  const std::regex overall(R"(Overall exposure level for gridshiftd\.service: ([0-9]+\.[0-9]+))");
  if (!std::regex_search(result.out, match, overall)) {
    ADD_FAILURE() << result.out << result.err;
    return -1;
  }
  return std::stod(match[1].str());
}

TEST(SystemdUnits, ServiceExposureIsAtMostTwo) {
  TempDir dir;
  const auto units = units_for_verify(dir);
  const double score = exposure(dir, units);
  EXPECT_GE(score, 0.0);
  EXPECT_LE(score, 2.0);
}

// The unit with the local-jobs drop-in folded in (systemd-analyze security --offline reads one
// file): the capabilities local jobs need keep the exposure at most 2.0 too.
TEST(SystemdUnits, ServiceWithTheLocalJobsDropInExposureIsAtMostTwo) {
  TempDir dir;
  const auto units = units_for_verify(dir);
  const auto drop_in = read_file(kSourceDir / "systemd" / "local-jobs.conf");
  ASSERT_TRUE(contains(drop_in, "AmbientCapabilities=CAP_SETUID CAP_SETGID CAP_CHOWN"));
  auto service = read_file(units / "gridshiftd.service");
  // A later assignment of the same key wins, as a drop-in's would.
  const auto install = service.find("[Install]");
  ASSERT_NE(install, std::string::npos);
  const auto settings = drop_in.substr(drop_in.find("[Service]") + std::string("[Service]").size());
  service.insert(install, settings + "\n");
  const double base = exposure(dir, units);
  write_file(units / "gridshiftd.service", service);
  const double with_drop_in = exposure(dir, units);
  // The drop-in's capabilities are counted (the merge took effect), and stay within bounds.
  EXPECT_GT(with_drop_in, base);
  EXPECT_LE(with_drop_in, 2.0);
}

TEST(SystemdUnits, ServiceCarriesTheContractSettings) {
  const auto service = read_file(kSourceDir / "systemd" / "gridshiftd.service");
  for (const auto* line :
       {"Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
        "RestartPreventExitStatus=2", "User=gridshift", "Group=gridshift",
        "StateDirectory=gridshift", "RuntimeDirectory=gridshift", "RuntimeDirectoryPreserve=yes",
        "ConfigurationDirectory=gridshift", "#LoadCredential=electricitymaps-token:",
        "#LoadCredential=google-credentials.json:", "NoNewPrivileges=yes", "ProtectSystem=strict",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=\n"}) {
    EXPECT_TRUE(contains(service, line)) << line;
  }
  EXPECT_TRUE(std::regex_search(service, std::regex("\nWatchdogSec=[1-9]")));
  const auto socket = read_file(kSourceDir / "systemd" / "gridshiftd.socket");
  for (const auto* line :
       {"ListenStream=/run/gridshift/gridshift.sock", "SocketMode=0660", "SocketGroup=gridshift"}) {
    EXPECT_TRUE(contains(socket, line)) << line;
  }
}

// The layout both `cmake --install --prefix /usr` and the .deb produce under `root`.
void expect_service_layout(const fs::path& root) {
  for (const auto* file :
       {"usr/bin/gridshift", "usr/sbin/gridshiftd", "usr/lib/systemd/system/gridshiftd.service",
        "usr/lib/systemd/system/gridshiftd.socket", "usr/lib/sysusers.d/gridshift.conf",
        "usr/lib/tmpfiles.d/gridshift.conf", "usr/share/gridshift/gcp-regions.csv",
        "usr/share/gridshift/config.yaml", "usr/share/doc/gridshift/examples/config.example.yaml",
        "usr/share/doc/gridshift/operations.md", "usr/share/man/man8/gridshiftd.8",
        "usr/share/man/man1/gridshift.1", "usr/share/gridshift/systemd/local-jobs.conf",
        "usr/share/bash-completion/completions/gridshift",
        "usr/share/zsh/vendor-completions/_gridshift",
        "usr/share/fish/vendor_completions.d/gridshift.fish",
        "usr/share/gridshift/grafana/gridshift-dashboard.json"}) {
    EXPECT_TRUE(fs::is_regular_file(root / file)) << file;
  }
  EXPECT_TRUE(contains(read_file(root / "usr/share/bash-completion/completions/gridshift"),
                       "complete -F _gridshift gridshift"));
  const auto perms = fs::status(root / "usr/sbin/gridshiftd").permissions();
  EXPECT_NE(perms & fs::perms::others_exec, fs::perms::none);

  const auto service = read_file(root / "usr/lib/systemd/system/gridshiftd.service");
  EXPECT_TRUE(
      contains(service, "ExecStart=/usr/sbin/gridshiftd --config /etc/gridshift/config.yaml"))
      << service;
  EXPECT_TRUE(contains(read_file(root / "usr/lib/sysusers.d/gridshift.conf"), "u gridshift"));
  EXPECT_TRUE(
      contains(read_file(root / "usr/lib/tmpfiles.d/gridshift.conf"), "/var/lib/gridshift"));

  // The service's default config: valid, with the FHS paths the unit grants and nothing
  // relative to a source tree.
  const auto config = read_file(root / "usr/share/gridshift/config.yaml");
  EXPECT_TRUE(contains(config, "\nstate_dir: /var/lib/gridshift\n")) << config;
  EXPECT_TRUE(contains(config, "path: /run/gridshift/gridshift.sock"));
  EXPECT_TRUE(contains(config, "file: /usr/share/gridshift/gcp-regions.csv"));
  EXPECT_FALSE(std::regex_search(config, std::regex(R"(\n\s*[a-z_]+: \./)"))) << config;
  TempDir scratch;
  const auto check = run_command(
      {kDaemon, "--check-config", "--config", (root / "usr/share/gridshift/config.yaml")},
      scratch.path());
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST(Install, CmakeInstallLaysOutTheServiceAndKeepsAnExistingConfig) {
  TempDir dir;
  const auto root = dir / "root";
  const std::vector<std::string> install = {
      "/usr/bin/env", "DESTDIR=" + root.string(), "cmake", "--install", kBinaryDir, "--prefix",
      "/usr"};
  const auto first = run_command(install, dir.path());
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  expect_service_layout(root);

  const auto etc_config = root / "etc/gridshift/config.yaml";
  ASSERT_TRUE(fs::is_regular_file(etc_config));
  EXPECT_EQ(read_file(etc_config), read_file(root / "usr/share/gridshift/config.yaml"));

  write_file(etc_config, "# the operator's own\n");
  const auto second = run_command(install, dir.path());
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_EQ(read_file(etc_config), "# the operator's own\n");
  EXPECT_TRUE(contains(second.out, "Keeping existing")) << second.out;
}

TEST(Install, DebPackageHasTheLayoutAndMaintainerScripts) {
  TempDir dir;
  // gzip instead of the default xz: the debug+sanitizer binaries are large and the layout,
  // not the compression, is under test.
  const auto built =
      run_command({"/usr/bin/env", "cpack", "--config", (kBinaryDir / "CPackConfig.cmake"), "-B",
                   (dir / "out"), "-D", "CPACK_DEBIAN_COMPRESSION_TYPE=gzip"},
                  dir.path(), kBinaryDir, {},
                  // About a minute here: dpkg-shlibdeps and checksums over 600 MB of binaries.
                  std::chrono::seconds(240));
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  fs::path deb;
  for (const auto& entry : fs::directory_iterator(dir / "out")) {
    if (entry.path().extension() == ".deb") deb = entry.path();
  }
  ASSERT_FALSE(deb.empty()) << built.out;
  EXPECT_TRUE(
      std::regex_match(deb.filename().string(), std::regex(R"(gridshift_[0-9.]+_[a-z0-9]+\.deb)")))
      << deb;

  const auto listing = run_command({"/usr/bin/env", "dpkg-deb", "-c", deb}, dir.path());
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  EXPECT_TRUE(contains(listing.out, " ./usr/sbin/gridshiftd\n")) << listing.out;
  // Nothing under /etc: postinst creates the config, so it is never a conffile.
  EXPECT_FALSE(contains(listing.out, " ./etc/")) << listing.out;

  const auto root = dir / "root";
  const auto unpacked = run_command({"/usr/bin/env", "dpkg", "-x", deb, root}, dir.path());
  ASSERT_EQ(unpacked.exit_code, 0) << unpacked.err;
  expect_service_layout(root);

  const auto control = dir / "control";
  const auto extracted = run_command({"/usr/bin/env", "dpkg-deb", "-e", deb, control}, dir.path());
  ASSERT_EQ(extracted.exit_code, 0) << extracted.err;
  const auto fields = read_file(control / "control");
  EXPECT_TRUE(contains(fields, "Package: gridshift\n")) << fields;
  EXPECT_TRUE(contains(fields, "libsystemd0")) << fields;
  const auto postinst = read_file(control / "postinst");
  EXPECT_TRUE(contains(postinst, "systemd-sysusers /usr/lib/sysusers.d/gridshift.conf"));
  EXPECT_TRUE(contains(postinst, "systemd-tmpfiles --create /usr/lib/tmpfiles.d/gridshift.conf"));
  EXPECT_TRUE(contains(postinst, "systemctl daemon-reload"));
  EXPECT_TRUE(contains(postinst, "[ ! -e /etc/gridshift/config.yaml ]"));
  for (const auto* script : {"postinst", "prerm", "postrm"}) {
    const auto perms = fs::status(control / script).permissions();
    EXPECT_NE(perms & fs::perms::owner_exec, fs::perms::none) << script;
    const auto syntax = run_command({"/bin/sh", "-n", (control / script)}, dir.path());
    EXPECT_EQ(syntax.exit_code, 0) << script << syntax.err;
  }
}

}  // namespace
}  // namespace gridshift::testing
