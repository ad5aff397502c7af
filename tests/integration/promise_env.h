// Test support for the promise tests (crash_test, soak_test): a gridshiftd configured against
// FakeGoogle (Vertex AI, Cloud Storage, token endpoint) on a trace_file feed, started with its
// own log file per run, jobs submitted over raw HTTP, /proc sampling of the daemon, and the
// GRIDSHIFT_LONG_TESTS switch between the short and the long version of a test.
// Header-only; each function is called from one thread unless it says otherwise.
#pragma once

#include <dirent.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "api_raw_client.h"
#include "core/time.h"
#include "fakes/fake_google.h"
#include "support/hourly_series.h"
#include "support/process.h"

namespace gridshift::testing {

// GRIDSHIFT_LONG_TESTS=1 runs the full-size version of the promise tests (docs/testing.md).
inline bool long_tests() {
  const char* value = std::getenv("GRIDSHIFT_LONG_TESTS");
  return value != nullptr && std::string(value) == "1";
}

// A number from the environment (a seed, a size), else `fallback`.
inline std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return std::strtoull(value, nullptr, 10);
}

// An hourly trace CSV for `locations` from `start` for `hours`: a daily curve per location,
// its trough at a different hour in each, so that the best window moves between regions.
inline std::string daily_curve_trace(const std::vector<std::string>& locations, TimePoint start,
                                     int hours) {
  return trace_csv(locations, start, hours, [](std::size_t i, int h) {
    const double phase = 2.0 * M_PI * (h + 7.0 * static_cast<double>(i)) / 24.0;
    return static_cast<double>(
        std::lround(200.0 + 100.0 * static_cast<double>(i) + 120.0 * std::sin(phase)));
  });
}

// europe-west2 (GB) and europe-west9 (FR) on one trace_file feed, dispatched to `google`
// with the credentials file `key_json` (a service-account key or an authorized_user file of
// the fake) and a staging bucket. `scheduler` is the flow mapping's body.
inline std::string vertex_daemon_config(const std::filesystem::path& dir, const FakeGoogle& google,
                                        const std::string& scheduler, const std::string& key_json) {
  write_file(dir / "key.json", key_json);
  const std::string base = google.base_url();
  return "state_dir: " + (dir / "state").string() + "\n" +
         "socket: {path: " + (dir / "gridshift.sock").string() + ", mode: \"0660\"}\n" +
         "log_level: info\n" + "scheduler: {" + scheduler + "}\n" +
         "feeds:\n"
         "  - {name: replay, type: trace_file, actuals: " +
         (dir / "trace.csv").string() + "}\n" +
         "regions:\n"
         "  - {name: europe-west2, feeds: [replay], location: GB, pue: 1.1}\n"
         "  - {name: europe-west9, feeds: [replay], location: FR, pue: 1.1}\n"
         "dispatch:\n"
         "  type: vertex_ai\n"
         "  vertex_ai:\n"
         "    project: " +
         google.options().project_id + "\n" + "    credentials: " + (dir / "key.json").string() +
         "\n" + "    endpoint: \"" + base + "/r/{region}\"\n" + "    storage_endpoint: \"" + base +
         "\"\n" + "    token_uri: \"" + google.token_uri() + "\"\n" + "    metadata_url: \"" +
         base + "\"\n" +
         "    staging_bucket: {enabled: true, prefix: gs-promise, delete_after: true}\n";
}

// A CPU-only Vertex job (no quota involved) as the JSON the socket API takes.
inline nlohmann::json cpu_job(const std::string& name, const std::string& policy,
                              const std::string& duration) {
  return {{"name", name},
          {"duration", duration},
          {"policy", policy},
          {"regions", {"europe-west2", "europe-west9"}},
          {"vertex",
           {{"machine_type", "n1-standard-4"},
            {"container", {{"image_uri", "europe-docker.pkg.dev/p/r/trainer:1"}}}}}};
}

// gridshiftd on `config`, its output in dir/daemon-<run>.{out,err} (every run kept).
inline std::unique_ptr<ChildProcess> start_logged_daemon(
    const std::filesystem::path& dir, const std::filesystem::path& config, int run,
    const std::map<std::string, std::string>& env = {}) {
  ProcessOptions options;
  options.argv = {GRIDSHIFTD_PATH, "--config", config.string()};
  options.unset_env = {"JOURNAL_STREAM"};
  options.set_env = env;
  options.stdout_path = dir / ("daemon-" + std::to_string(run) + ".out");
  options.stderr_path = dir / ("daemon-" + std::to_string(run) + ".err");
  return std::make_unique<ChildProcess>(options);
}

// True once the daemon logged that it serves; false when it exited or took over `limit`.
inline bool wait_serving(ChildProcess& daemon,
                         std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  return wait_until(
             [&] {
               return daemon.stderr_text().find("gridshiftd ready") != std::string::npos ||
                      !daemon.running();
             },
             limit) &&
         daemon.running();
}

inline RawReply submit_job(const std::string& socket, const nlohmann::json& spec,
                           const std::string& idempotency_key = "") {
  std::map<std::string, std::string> headers{{"Content-Type", "application/json"}};
  if (!idempotency_key.empty()) headers["Idempotency-Key"] = idempotency_key;
  return call(socket, "POST", "/v1/jobs", spec.dump(), headers);
}

inline bool is_terminal_state(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

// Resident memory (VmRSS, KiB) and open file descriptors of a live process.
struct ProcessSample {
  long rss_kib = -1;
  long fds = -1;
};

inline ProcessSample sample_process(pid_t pid) {
  ProcessSample sample;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) sample.rss_kib = std::strtol(line.c_str() + 6, nullptr, 10);
  }
  if (DIR* fds = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    sample.fds = 0;
    while (const dirent* entry = ::readdir(fds)) {
      if (entry->d_name[0] != '.') ++sample.fds;
    }
    ::closedir(fds);
  }
  return sample;
}

// PRAGMA integrity_check on a database opened read-only: "ok", or what SQLite reports.
inline std::string integrity_check(const std::filesystem::path& database) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "cannot open";
    sqlite3_close(db);
    return "open failed: " + message;
  }
  std::string result;
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &statement, nullptr) == SQLITE_OK) {
    while (sqlite3_step(statement) == SQLITE_ROW) {
      if (!result.empty()) result += "\n";
      result += reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
  } else {
    result = std::string("prepare failed: ") + sqlite3_errmsg(db);
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return result;
}

// The lines of every daemon-<run>.err in `dir` containing `needle`, prefixed by the run.
inline std::vector<std::string> daemon_log_lines(const std::filesystem::path& dir, int runs,
                                                 const std::string& needle) {
  std::vector<std::string> lines;
  for (int run = 0; run < runs; ++run) {
    std::istringstream log(read_file(dir / ("daemon-" + std::to_string(run) + ".err")));
    for (std::string line; std::getline(log, line);) {
      if (line.find(needle) != std::string::npos) {
        lines.push_back("[run " + std::to_string(run) + "] " + line);
      }
    }
  }
  return lines;
}

// What ASan, LeakSanitizer and UBSan reported in any run's log.
inline std::vector<std::string> sanitizer_reports(const std::filesystem::path& dir, int runs) {
  auto lines = daemon_log_lines(dir, runs, "ERROR: ");
  for (auto& line : daemon_log_lines(dir, runs, "runtime error:"))
    lines.push_back(std::move(line));
  return lines;
}

}  // namespace gridshift::testing
