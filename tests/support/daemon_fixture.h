// Test support: a minimal gridshiftd configuration (the bundled yearly dataset for one region,
// the dry-run target) and starting the real daemon on a config, waiting for its readiness line.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/process.h"

namespace gridshift::testing {

inline std::string annual_dataset_config(const std::filesystem::path& dir,
                                         const std::string& log_level = "info",
                                         const std::string& socket_name = "gridshift.sock") {
  return "state_dir: " + (dir / "state").string() + "\n" +
         "socket: {path: " + (dir / socket_name).string() + ", mode: \"0660\"}\n" +
         "log_level: " + log_level + "\n" +
         "feeds:\n"
         "  - {name: annual, type: gcp_region_dataset, file: " +
         std::string(GRIDSHIFT_SOURCE_DIR) +
         "/data/gcp-regions.csv}\n"
         "regions:\n"
         "  - {name: europe-west2, feeds: [annual], pue: 1.09}\n"
         "dispatch: {type: dry_run}\n";
}

// Starts gridshiftd --config `config` with output in dir/daemon.{out,err} (not under journald).
inline std::unique_ptr<ChildProcess> start_daemon(const std::filesystem::path& dir,
                                                  const std::filesystem::path& config) {
  ProcessOptions options;
  options.argv = {GRIDSHIFTD_PATH, "--config", config.string()};
  options.unset_env = {"JOURNAL_STREAM"};
  options.stdout_path = dir / "daemon.out";
  options.stderr_path = dir / "daemon.err";
  return std::make_unique<ChildProcess>(options);
}

// True once the daemon logged that it serves.
inline bool wait_ready(ChildProcess& daemon) {
  return wait_until(
      [&] { return daemon.stderr_text().find("gridshiftd ready") != std::string::npos; });
}

}  // namespace gridshift::testing
