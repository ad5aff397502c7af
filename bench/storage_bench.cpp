// Benchmarks of SqliteStore on a real file (WAL, synchronous=FULL): reading upserts in
// batches, the forecast query over a week of hourly data, learning the forecast-error model
// from a week of snapshots (what the scheduler does hourly), and durable job inserts.
// Run: storage_bench [--benchmark_filter=...]; the database lives in a fresh temp directory.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/scheduler/forecast_errors.h"
#include "storage/sqlite/sqlite_store.h"

namespace {

using gridshift::Job;
using gridshift::JobEvent;
using gridshift::Reading;
using gridshift::ReadingKind;
using gridshift::SqliteStore;
using gridshift::TimePoint;
using std::chrono::hours;

namespace fs = std::filesystem;

// A store on a file in its own temp directory, removed afterwards.
class BenchDb {
 public:
  BenchDb() {
    static int counter = 0;
    dir_ = fs::temp_directory_path() / ("gridshift-storage-bench-" + std::to_string(::getpid()) +
                                        "-" + std::to_string(counter++));
    fs::create_directories(dir_);
    auto opened = SqliteStore::open((dir_ / "gridshift.db").string());
    if (!opened) throw std::runtime_error(gridshift::to_string(opened.error()));
    store_ = std::move(*opened);
  }
  ~BenchDb() {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  BenchDb(const BenchDb&) = delete;
  BenchDb& operator=(const BenchDb&) = delete;
  SqliteStore& store() { return *store_; }

 private:
  fs::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

const TimePoint kStart = std::chrono::sys_days{std::chrono::year{2026} / 11 / 1};

Reading reading(ReadingKind kind, TimePoint timestamp, TimePoint issued_at, double value) {
  Reading r;
  r.feed = "emaps";
  r.location = "FR";
  r.kind = kind;
  r.timestamp = timestamp;
  r.issued_at = issued_at;
  r.fetched_at = issued_at;
  r.gco2_per_kwh = value;
  return r;
}

template <class T>
T check(gridshift::Result<T> result) {
  if (!result) throw std::runtime_error(gridshift::to_string(result.error()));
  return std::move(*result);
}

// New actuals, `batch` per upsert call (one transaction per call).
void BM_UpsertReadings(benchmark::State& state) {
  BenchDb db;
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::vector<Reading> readings(batch);
  std::int64_t next_hour = 0;
  for (auto _ : state) {
    for (auto& r : readings) {
      const TimePoint t = kStart + hours{next_hour++};
      r = reading(ReadingKind::actual, t, t, 50.0 + static_cast<double>(next_hour % 300));
    }
    benchmark::DoNotOptimize(check(db.store().upsert(readings)));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}
BENCHMARK(BM_UpsertReadings)->Arg(1)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

// A week of hourly data: 168 actuals and a 48-hour forecast issued every hour (8064 rows);
// query the newest-snapshot forecast over the whole week.
void BM_ForecastWeek(benchmark::State& state) {
  BenchDb db;
  std::vector<Reading> rows;
  for (int h = 0; h < 168; ++h) {
    const TimePoint t = kStart + hours{h};
    rows.push_back(reading(ReadingKind::actual, t, t, 100.0 + h % 50));
    for (int ahead = 1; ahead <= 48; ++ahead) {
      rows.push_back(reading(ReadingKind::forecast, t + hours{ahead}, t, 90.0 + (h + ahead) % 60));
    }
  }
  check(db.store().upsert(rows));
  std::size_t points = 0;
  for (auto _ : state) {
    auto forecast = check(db.store().forecast("emaps", "FR", kStart, kStart + hours{168}));
    points = forecast.size();
    benchmark::DoNotOptimize(forecast.data());
  }
  state.counters["points"] = static_cast<double>(points);
  state.counters["rows"] = static_cast<double>(rows.size());
}
BENCHMARK(BM_ForecastWeek)->Unit(benchmark::kMicrosecond);

// The planner's usual question on the same data: the next 48 hours from the last hour.
void BM_ForecastNext48h(benchmark::State& state) {
  BenchDb db;
  std::vector<Reading> rows;
  for (int h = 0; h < 168; ++h) {
    const TimePoint t = kStart + hours{h};
    for (int ahead = 1; ahead <= 48; ++ahead) {
      rows.push_back(reading(ReadingKind::forecast, t + hours{ahead}, t, 90.0 + (h + ahead) % 60));
    }
  }
  check(db.store().upsert(rows));
  const TimePoint now = kStart + hours{167};
  for (auto _ : state) {
    auto forecast = check(db.store().forecast("emaps", "FR", now, now + hours{48}));
    benchmark::DoNotOptimize(forecast.data());
  }
}
BENCHMARK(BM_ForecastNext48h)->Unit(benchmark::kMicrosecond);

// The daemon's hourly learning, per feed and location: a week of hourly snapshots of a 72-hour
// forecast (as Electricity Maps or trace_file leave them) and the week's actuals.
void BM_LearnForecastErrorsWeek(benchmark::State& state) {
  BenchDb db;
  std::vector<Reading> rows;
  for (int h = 0; h < 168; ++h) {
    const TimePoint t = kStart + hours{h};
    rows.push_back(reading(ReadingKind::actual, t, t, 100.0 + h % 50));
    for (int ahead = 0; ahead < 72; ++ahead) {
      rows.push_back(reading(ReadingKind::forecast, t + hours{ahead}, t, 95.0 + (h + ahead) % 60));
    }
  }
  check(db.store().upsert(rows));
  const TimePoint now = kStart + hours{168};
  std::size_t scored = 0;
  for (auto _ : state) {
    auto model = check(gridshift::learn_forecast_errors(db.store(), "emaps", "FR", now));
    scored = model.overall.samples;
    benchmark::DoNotOptimize(model.overall.mae_g);
  }
  state.counters["rows"] = static_cast<double>(rows.size());
  state.counters["scored"] = static_cast<double>(scored);
}
BENCHMARK(BM_LearnForecastErrorsWeek)->Unit(benchmark::kMillisecond);

// Durable job submission: one transaction (job row + first event) committed with fsync.
void BM_JobInsert(benchmark::State& state) {
  BenchDb db;
  Job job;
  job.owner_uid = 1000;
  job.spec.name = "bench";
  job.spec.duration = hours{4};
  job.spec.regions = {"europe-west9", "europe-west2"};
  job.submitted_at = kStart;
  job.updated_at = kStart;
  job.deadline = kStart + hours{24};
  job.regions = job.spec.regions;
  job.power_watts = 550;
  JobEvent event;
  event.at = kStart;
  event.type = "submitted";
  event.message = "submitted";
  int n = 0;
  for (auto _ : state) {
    job.id = "job-" + std::to_string(n++);
    benchmark::DoNotOptimize(check(db.store().insert(job, event)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JobInsert)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
