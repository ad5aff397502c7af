// Test support: a minimal gridshiftd configuration (the bundled yearly dataset for one region,
// the dry-run target) and starting the real daemon on a config, waiting for its readiness line.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
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

// Starts gridshiftd --config `config` with output in dir/daemon.{out,err} (not under journald),
// with `env` added to the environment (e.g. NOTIFY_SOCKET).
inline std::unique_ptr<ChildProcess> start_daemon(const std::filesystem::path& dir,
                                                  const std::filesystem::path& config,
                                                  std::map<std::string, std::string> env = {}) {
  ProcessOptions options;
  options.argv = {GRIDSHIFTD_PATH, "--config", config.string()};
  options.unset_env = {"JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"};
  options.set_env = std::move(env);
  options.stdout_path = dir / "daemon.out";
  options.stderr_path = dir / "daemon.err";
  return std::make_unique<ChildProcess>(options);
}

// True once the daemon logged that it serves.
inline bool wait_ready(ChildProcess& daemon) {
  return wait_until(
      [&] { return daemon.stderr_text().find("gridshiftd ready") != std::string::npos; });
}

// The real `gridshift` CLI against one daemon's socket, as the test's user would run it.
class CliRunner {
 public:
  CliRunner(std::filesystem::path dir, std::string socket)
      : dir_(std::move(dir)), socket_(std::move(socket)) {}

  CommandResult run(std::vector<std::string> args) const {
    args.insert(args.begin(), {GRIDSHIFT_CLI_PATH, "--socket", socket_});
    return run_command(args, dir_);
  }

  // Writes `spec` to dir/job.yaml and submits it; the new job's id ("" on failure).
  std::string submit(const std::string& spec) const {
    write_file(dir_ / "job.yaml", spec);
    auto r = run({"submit", (dir_ / "job.yaml").string(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.exit_code != 0) return "";
    return nlohmann::json::parse(r.out)["id"].get<std::string>();
  }

  // `gridshift show ID --json`; null when the command fails.
  nlohmann::json show(const std::string& id) const {
    auto r = run({"show", id, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.exit_code != 0) return nullptr;
    return nlohmann::json::parse(r.out);
  }

  // Shows the job until it is in `state` (bounded); its last view.
  nlohmann::json wait_for_state(const std::string& id, const std::string& state,
                                std::chrono::milliseconds limit = std::chrono::seconds(60)) const {
    nlohmann::json job;
    const bool reached = wait_until(
        [&] {
          job = show(id);
          return job.is_object() && job["state"] == state;
        },
        limit);
    EXPECT_TRUE(reached) << "job " << id << " never reached " << state << ": " << job.dump(2);
    return job;
  }

 private:
  std::filesystem::path dir_;
  std::string socket_;
};

}  // namespace gridshift::testing
