// Soak (issue 8): gridshiftd on a trace_file feed with a fast clock (GRIDSHIFT_TEST_CLOCK_RATE)
// takes a steady stream of best_window jobs for simulated days and dispatches them to the fake
// Vertex AI, while the test samples its resident memory and open file descriptors. Every job
// must end, and both series must stay flat. Short by default (2 simulated days);
// GRIDSHIFT_LONG_TESTS=1 runs 30 simulated days (docs/testing.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "promise_env.h"

namespace gridshift::testing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct SoakSize {
  int days;     // simulated days of submissions
  double rate;  // simulated seconds per real second
};

SoakSize soak_size() {
  if (long_tests()) return {30, 4320.0};  // a simulated day every 20 s: ~11 min
  return {2, 8640.0};                     // a simulated day every 10 s: ~35 s
}

constexpr hours kSubmitEvery{3};
constexpr hours kSampleEvery{1};
constexpr hours kDeadline{24};  // scheduler.default_deadline: best_window may hold a day

struct Sample {
  double day;  // simulated days since the start
  ProcessSample process;
};

// Flat: after the warm-up (the first eighth of the run), the last quarter's peak is no more
// than kRssSlack above the first quarter's peak, and its fd peak no more than kFdSlack above.
constexpr double kRssSlack = 0.10;
constexpr long kFdSlack = 2;

struct Quarters {
  long first_rss = 0, last_rss = 0, first_fds = 0, last_fds = 0;
};

Quarters quarter_peaks(const std::vector<Sample>& samples) {
  const std::size_t warm = samples.size() / 8;
  const std::size_t n = samples.size() - warm;
  Quarters q;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& s = samples[warm + i].process;
    if (i < n / 4) {
      q.first_rss = std::max(q.first_rss, s.rss_kib);
      q.first_fds = std::max(q.first_fds, s.fds);
    } else if (i >= n - n / 4) {
      q.last_rss = std::max(q.last_rss, s.rss_kib);
      q.last_fds = std::max(q.last_fds, s.fds);
    }
  }
  return q;
}

// The series per simulated day: peak RSS (MiB) and peak fds.
std::string daily_series(const std::vector<Sample>& samples) {
  std::string out;
  int day = -1;
  long rss = 0, fds = 0;
  auto flush = [&] {
    if (day >= 0) {
      out += "  day " + std::to_string(day) + ": rss " + std::to_string(rss / 1024) + " MiB, fds " +
             std::to_string(fds) + "\n";
    }
  };
  for (const auto& s : samples) {
    if (static_cast<int>(s.day) != day) {
      flush();
      day = static_cast<int>(s.day);
      rss = 0;
      fds = 0;
    }
    rss = std::max(rss, s.process.rss_kib);
    fds = std::max(fds, s.process.fds);
  }
  flush();
  return out;
}

TEST(Soak, DaysOfJobsEndWithFlatMemoryAndDescriptors) {
  const SoakSize size = soak_size();
  TempDir dir;
  FakeGoogle google;
  google.set_job_script(JobScript::succeed(milliseconds(0), milliseconds(50), milliseconds(250)));

  const TimePoint start = std::chrono::floor<hours>(std::chrono::system_clock::now());
  write_file(dir / "trace.csv",
             daily_curve_trace({"GB", "FR"}, start - hours(48), (size.days + 6) * 24));
  // An authorized_user file (refresh-token grant), not a service-account key: the daemon
  // signs its JWT assertion with the fast clock's time, which the token endpoint (on real time,
  // as Google's is) refuses as "not in a reasonable timeframe" (docs/testing.md).
  write_file(dir / "config.yaml",
             vertex_daemon_config(dir.path(), google, "tick: 1h, default_deadline: 24h",
                                  google.authorized_user_json()));
  const std::string socket = (dir / "gridshift.sock").string();

  // ASan keeps up to 256 MiB of freed memory in quarantine, which would read as growth: the
  // daemon gets a small one so that RSS shows what the daemon itself holds.
  const char* inherited = std::getenv("ASAN_OPTIONS");
  std::map<std::string, std::string> env{
      {"GRIDSHIFT_TEST_CLOCK_RATE", std::to_string(size.rate)},
      {"GRIDSHIFT_TEST_CLOCK_START", format_rfc3339(start)},
      {"ASAN_OPTIONS", std::string(inherited ? inherited : "") + ":quarantine_size_mb=16"}};
  auto daemon = start_logged_daemon(dir.path(), dir / "config.yaml", 0, env);
  const auto real_start = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_serving(*daemon)) << daemon->stderr_text();

  // The daemon's simulated time, from the same start (its clock starts a little later).
  auto simulated = [&] {
    const std::chrono::duration<double> real = std::chrono::steady_clock::now() - real_start;
    return Seconds{static_cast<long long>(real.count() * size.rate)};
  };
  auto real_for = [&](Seconds simulated_span) {
    return milliseconds{
        static_cast<long long>(static_cast<double>(simulated_span.count()) * 1000.0 / size.rate)};
  };

  std::vector<std::string> ids;
  std::vector<Sample> samples;
  Seconds next_submit{0};
  Seconds next_sample{0};
  const Seconds last_submit = hours(24 * size.days);
  const Seconds limit = last_submit + kDeadline + hours(12);
  auto open_jobs = [&] {
    const auto report = call(socket, "GET", "/v1/report");
    if (report.status != 200) return -1;
    const auto by_state = report.json()["jobs"]["by_state"];
    return by_state.value("queued", 0) + by_state.value("dispatching", 0) +
           by_state.value("running", 0);
  };
  bool done = false;
  while (!done && simulated() < limit) {
    wait_until([&] { return simulated() >= std::min(next_submit, next_sample); },
               real_for(kSampleEvery) + seconds(1));
    const Seconds now = simulated();
    if (now >= next_sample) {
      ASSERT_TRUE(daemon->running()) << daemon->stderr_text();
      samples.push_back(
          {static_cast<double>(now.count()) / 86400.0, sample_process(daemon->pid())});
      next_sample += kSampleEvery;
      done = next_submit > last_submit && open_jobs() == 0;
    }
    if (now >= next_submit && next_submit <= last_submit) {
      const auto reply =
          submit_job(socket, cpu_job("soak-" + std::to_string(ids.size()), "best_window", "1h"));
      ASSERT_EQ(reply.status, 201) << reply.body;
      ids.push_back(reply.json()["id"].get<std::string>());
      next_submit += kSubmitEvery;
    }
  }
  const double simulated_days = static_cast<double>(simulated().count()) / 86400.0;
  const double real_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - real_start).count();

  // Every job ended, on Vertex AI exactly once.
  int succeeded = 0;
  int started_before_submission = 0;
  for (const auto& id : ids) {
    const auto reply = call(socket, "GET", "/v1/jobs/" + id);
    ASSERT_EQ(reply.status, 200) << reply.body;
    const auto job = reply.json();
    EXPECT_EQ(job["state"], "succeeded") << job.dump(2);
    if (job["state"] == "succeeded") ++succeeded;
    EXPECT_TRUE(job["accounting"].is_object()) << job.dump(2);
    EXPECT_EQ(google.jobs_with_label("gridshift-job", id).size(), 1u) << job.dump(2);
    if (job["started_at"].is_string() &&
        job["started_at"].get<std::string>() < job["submitted_at"].get<std::string>()) {
      ++started_before_submission;
    }
  }

  const auto q = quarter_peaks(samples);
  std::cout << "soak: " << ids.size() << " jobs over " << simulated_days << " simulated days in "
            << real_seconds << " s (rate " << size.rate << "), " << succeeded << " succeeded, "
            << started_before_submission
            << " with a Vertex start time before their submission (the fake's clock is real "
               "time); "
            << samples.size() << " samples; peaks after warm-up: first quarter rss " << q.first_rss
            << " KiB / " << q.first_fds << " fds, last quarter rss " << q.last_rss << " KiB / "
            << q.last_fds << " fds\n"
            << daily_series(samples) << std::flush;

  EXPECT_EQ(succeeded, static_cast<int>(ids.size()));
  EXPECT_GE(ids.size(), static_cast<std::size_t>(size.days * 24 / kSubmitEvery.count()));
  ASSERT_GE(samples.size(), 16u);
  EXPECT_LE(static_cast<double>(q.last_rss), static_cast<double>(q.first_rss) * (1.0 + kRssSlack))
      << daily_series(samples);
  EXPECT_LE(q.last_fds, q.first_fds + kFdSlack) << daily_series(samples);

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
  const auto sanitizer = sanitizer_reports(dir.path(), 1);
  EXPECT_TRUE(sanitizer.empty()) << sanitizer.front();
}

}  // namespace
}  // namespace gridshift::testing
