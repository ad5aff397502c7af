// Scenario benchmark (not Google Benchmark) of the event loop under a full queue: a real
// gridshiftd (the binary given, so an older build can be measured the same way) on a state
// seeded with N queued jobs whose specs are as large as the default limit accepts (64 KiB), held
// far in the future so that every scheduler cycle re-plans all of them. While one client
// submits in a loop (every submit wakes the scheduler), another asks GET /v1/health every
// 100 ms; the health latencies are what a watchdog or an operator would see.
// Usage: health_bench GRIDSHIFTD [jobs=10000] [seconds=30]
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/job_spec.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/integration/api_raw_client.h"
#include "tests/support/process.h"

namespace {

using namespace gridshift;
using gridshift::testing::call;
using SteadyClock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// A spec whose canonical JSON is just under `target_bytes`: a big environment, as a real
// trainer's configuration passed through env would make it. Held until 2099.
JobSpec large_spec(std::size_t target_bytes) {
  JobSpec spec;
  spec.name = "large";
  spec.duration = std::chrono::hours(1);
  spec.deadline = *parse_rfc3339("2099-01-02T00:00:00Z");
  spec.not_before = *parse_rfc3339("2099-01-01T00:00:00Z");
  VertexSpec vertex;
  vertex.machine_type = "n1-standard-4";
  ContainerSpec container;
  container.image_uri = "europe-docker.pkg.dev/p/r/trainer:1";
  for (int i = 0; job_spec_to_json(spec).size() < target_bytes - 2000; ++i) {
    container.env["CONFIG_" + std::to_string(i)] = std::string(1000, 'x');
    vertex.container = container;
    spec.vertex = vertex;
  }
  return spec;
}

int schema_version(const fs::path& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("open failed");
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nullptr);
  sqlite3_step(statement);
  const int version = sqlite3_column_int(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return version;
}

// Schema version 1 (an older gridshiftd's database): the spec inside the jobs row, written
// with SQL as that daemon would have stored it.
void seed_version_one(const fs::path& db_path, int jobs, const std::string& spec_json) {
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("open failed");
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* job = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO jobs (id, owner_uid, spec_json, state, submitted_at, updated_at, "
                     "deadline, regions_json, power_watts) VALUES (?1, 0, ?2, 'queued', "
                     "strftime('%s','now'), strftime('%s','now'), 4070908800, "
                     "'[\"europe-west2\"]', 300)",
                     -1, &job, nullptr);
  sqlite3_stmt* event = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO job_events (job_id, at, type, message) VALUES (?1, "
                     "strftime('%s','now'), 'submitted', 'seeded by health_bench')",
                     -1, &event, nullptr);
  for (int i = 0; i < jobs; ++i) {
    const std::string id = "j-seed" + std::to_string(i);
    sqlite3_bind_text(job, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(job, 2, spec_json.c_str(), -1, SQLITE_STATIC);
    if (sqlite3_step(job) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
    sqlite3_reset(job);
    sqlite3_bind_text(event, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(event) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
    sqlite3_reset(event);
  }
  sqlite3_finalize(job);
  sqlite3_finalize(event);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
}

// The current schema: through the store, exactly as submits write jobs.
void seed_current(const fs::path& db_path, int jobs, const JobSpec& spec) {
  auto store = SqliteStore::open(db_path.string());
  if (!store) throw std::runtime_error(to_string(store.error()));
  std::vector<JobInsert> batch;
  const TimePoint now = std::chrono::floor<Seconds>(std::chrono::system_clock::now());
  for (int i = 0; i < jobs; ++i) {
    JobInsert item;
    item.job.id = "j-seed" + std::to_string(i);
    item.job.spec = spec;
    item.job.submitted_at = now;
    item.job.updated_at = now;
    item.job.deadline = *spec.deadline;
    item.job.regions = {"europe-west2"};
    item.job.power_watts = 300;
    item.first_event.at = now;
    item.first_event.type = "submitted";
    item.first_event.message = "seeded by health_bench";
    batch.push_back(std::move(item));
  }
  auto done = (*store)->insert_batch(batch);
  if (!done) throw std::runtime_error(to_string(done.error()));
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  return values[index];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: health_bench GRIDSHIFTD [jobs=10000] [seconds=30]\n");
    return 2;
  }
  const std::string daemon_path = argv[1];
  const int jobs = argc > 2 ? std::stoi(argv[2]) : 10000;
  const int seconds = argc > 3 ? std::stoi(argv[3]) : 30;
  if (jobs < 0 || seconds < 1) {
    std::fprintf(stderr, "jobs must be >= 0 and seconds >= 1\n");
    return 2;
  }
  gridshift::testing::TempDir dir;
  const auto socket = (dir / "gridshift.sock").string();
  gridshift::testing::write_file(
      dir / "config.yaml",
      "state_dir: " + (dir / "state").string() + "\nsocket: {path: " + socket +
          ", mode: \"0660\"}\nlog_level: warn\nfeeds:\n"
          "  - {name: annual, type: gcp_region_dataset, file: " GRIDSHIFT_SOURCE_DIR
          "/data/gcp-regions.csv}\nregions:\n  - {name: europe-west2, feeds: [annual]}\n"
          "dispatch: {type: dry_run}\n");
  const auto start = [&] {
    gridshift::testing::ProcessOptions options;
    options.argv = {daemon_path, "--config", (dir / "config.yaml").string()};
    options.stdout_path = dir / "daemon.out";
    options.stderr_path = dir / "daemon.err";
    auto child = std::make_unique<gridshift::testing::ChildProcess>(options);
    if (!gridshift::testing::wait_until(
            [&] { return call(socket, "GET", "/v1/health").status == 200; },
            std::chrono::minutes(10))) {
      throw std::runtime_error("the daemon did not come up: " + child->stderr_text());
    }
    return child;
  };

  {
    auto first = start();  // creates the schema
    first->signal(SIGTERM);
    first->wait_exit();
  }
  const JobSpec spec = large_spec(64 * 1024);
  const std::string spec_json = job_spec_to_json(spec);
  const auto db_path = dir / "state" / "gridshift.db";
  const int version = schema_version(db_path);
  const auto seed_started = SteadyClock::now();
  if (version == 1) {
    seed_version_one(db_path, jobs, spec_json);
  } else if (version == SqliteStore::latest_schema_version()) {
    seed_current(db_path, jobs, spec);
  } else {
    std::fprintf(stderr, "the daemon wrote schema version %d, which this bench cannot seed\n",
                 version);
    return 1;
  }
  const double seed_s = std::chrono::duration<double>(SteadyClock::now() - seed_started).count();
  const auto up_started = SteadyClock::now();
  auto daemon = start();
  const double up_s = std::chrono::duration<double>(SteadyClock::now() - up_started).count();

  std::atomic<bool> stop{false};
  std::atomic<int> submitted{0};
  std::thread submitter([&] {
    const std::string small = R"({"name": "loop", "duration": "1h",
      "not_before": "2099-01-01T00:00:00Z", "deadline": "2099-01-02T00:00:00Z"})";
    while (!stop) {
      if (call(socket, "POST", "/v1/jobs", small).status == 201) ++submitted;
    }
  });
  std::vector<double> latencies;
  int failures = 0;
  const auto until = SteadyClock::now() + std::chrono::seconds(seconds);
  while (SteadyClock::now() < until) {
    const auto asked = SteadyClock::now();
    const auto reply = call(socket, "GET", "/v1/health");
    latencies.push_back(std::chrono::duration<double>(SteadyClock::now() - asked).count());
    if (reply.status != 200) ++failures;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  submitter.join();
  daemon->signal(SIGTERM);
  daemon->wait_exit(std::chrono::minutes(5));

  std::printf(
      "schema version %d, %d queued jobs of %zu bytes each (seeded in %.1f s; daemon up "
      "in %.1f s)\n",
      version, jobs, spec_json.size(), seed_s, up_s);
  std::printf(
      "%d s: %d submits (%.1f/s); GET /v1/health x%zu: p50 %.1f ms, p99 %.1f ms, max %.1f ms, "
      "%d not 200\n",
      seconds, submitted.load(), submitted.load() / static_cast<double>(seconds), latencies.size(),
      percentile(latencies, 0.5) * 1e3, percentile(latencies, 0.99) * 1e3,
      percentile(latencies, 1.0) * 1e3, failures);
  return 0;
}
