// /metrics end to end: the real gridshiftd replays a trace (trace_file feed) and dispatches a job
// to the dry run; the Prometheus text is fetched over the Unix socket and over the
// metrics.listen TCP listener, checked family by family and by `promtool check metrics`. A
// metrics.listen port already taken is a startup error naming the key.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "core/time.h"
#include "support/grafana.h"
#include "support/process.h"
#include "support/tcp_listener.h"

namespace gridshift::testing {
namespace {

const std::string kDaemon = GRIDSHIFTD_PATH;
const std::string kCli = GRIDSHIFT_CLI_PATH;
const std::string kPromtool = "/usr/bin/promtool";

// Sends one raw request on a connected socket and returns the whole response.
std::string round_trip(int fd, const std::string& request) {
  std::string response;
  if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof(buffer))) > 0;)
      response.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return response;
}

std::string get_request(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: gridshift\r\nConnection: close\r\n\r\n";
}

std::string unix_get(const std::string& path, const std::string& target) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  return round_trip(fd, get_request(target));
}

std::string tcp_get(int port, const std::string& target) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  return round_trip(fd, get_request(target));
}

std::string body_of(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class MetricsDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ostringstream trace;
    trace << "region,timestamp,gco2_per_kwh\n";
    const auto hour = std::chrono::floor<std::chrono::hours>(std::chrono::system_clock::now());
    for (int h = -6; h < 42; ++h)
      trace << "GB," << format_rfc3339(hour + std::chrono::hours(h)) << ",250\n";
    write_file(dir_ / "trace.csv", trace.str());
    socket_ = (dir_ / "gridshift.sock").string();
  }

  void write_config(int metrics_port) {
    write_file(dir_ / "config.yaml",
               "state_dir: " + (dir_ / "state").string() + "\n" + "socket: {path: " + socket_ +
                   "}\n" + "metrics: {listen: \"127.0.0.1:" + std::to_string(metrics_port) +
                   "\"}\n" +
                   "scheduler: {tick: 1s}\n"
                   "feeds:\n"
                   "  - {name: replay, type: trace_file, actuals: " +
                   (dir_ / "trace.csv").string() + "}\n" +
                   "regions:\n"
                   "  - {name: europe-west2, feeds: [replay], location: GB}\n"
                   "dispatch: {type: dry_run}\n");
  }

  std::unique_ptr<ChildProcess> start() {
    ProcessOptions options;
    options.argv = {kDaemon, "--config", (dir_ / "config.yaml").string()};
    options.unset_env = {"JOURNAL_STREAM"};
    options.stdout_path = dir_ / "daemon.out";
    options.stderr_path = dir_ / "daemon.err";
    return std::make_unique<ChildProcess>(options);
  }

  CommandResult cli(std::vector<std::string> args) {
    args.insert(args.begin(), {kCli, "--socket", socket_});
    return run_command(args, dir_.path());
  }

  TempDir dir_;
  std::string socket_;
};

TEST_F(MetricsDaemon, ServesEveryFamilyOverTheSocketAndTcpAndPromtoolAcceptsIt) {
  ASSERT_TRUE(std::filesystem::exists(kPromtool))
      << kPromtool << " is missing: scripts/install-deps.sh installs the prometheus package";
  int port = 0;
  {
    TcpListener probe;  // a free port, released for the daemon (a short, acceptable race)
    ASSERT_GT(probe.port, 0);
    port = probe.port;
  }
  write_config(port);
  auto daemon = start();
  ASSERT_TRUE(wait_until([&] { return has(daemon->stderr_text(), "gridshiftd ready"); }))
      << daemon->stderr_text();
  EXPECT_TRUE(has(daemon->stderr_text(), "metrics listening on 127.0.0.1:" + std::to_string(port)))
      << daemon->stderr_text();

  write_file(dir_ / "job.yaml", "name: quick\nduration: 1s\npolicy: now\npower_watts: 3600000\n");
  auto submitted = cli({"submit", (dir_ / "job.yaml").string(), "--json"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const auto id = nlohmann::json::parse(submitted.out)["id"].get<std::string>();
  ASSERT_TRUE(wait_until([&] {
    auto shown = cli({"show", id, "--json"});
    return shown.exit_code == 0 && nlohmann::json::parse(shown.out)["state"] == "succeeded";
  })) << daemon->stderr_text();

  std::string text;
  ASSERT_TRUE(wait_until([&] {
    text = body_of(unix_get(socket_, "/metrics"));
    return has(text, "gridshift_emitted_grams{");  // the accounting is stored after the end
  })) << text;
  const std::string tcp_response = tcp_get(port, "/metrics");
  EXPECT_TRUE(has(tcp_response, "HTTP/1.1 200")) << tcp_response;
  EXPECT_TRUE(has(tcp_response, "text/plain; version=0.0.4")) << tcp_response;
  const std::string tcp_text = body_of(tcp_response);

  for (const std::string& m : {text, tcp_text}) {
    EXPECT_TRUE(has(m,
                    "gridshift_intensity_grams_per_kwh{region=\"europe-west2\",feed=\"replay\","
                    "signal="))
        << m;
    EXPECT_TRUE(has(m, "\"} 250\n")) << m;  // the trace's value
    EXPECT_TRUE(has(m, "gridshift_feed_requests_total{feed=\"replay\",outcome=\"ok\"} ")) << m;
    EXPECT_TRUE(has(m, "gridshift_feed_last_success_timestamp_seconds{feed=\"replay\"} ")) << m;
    EXPECT_TRUE(has(m, "gridshift_feed_readings_stored_total{feed=\"replay\"} ")) << m;
    EXPECT_TRUE(has(m, "gridshift_jobs{state=\"succeeded\"} 1\n")) << m;
    EXPECT_TRUE(has(m, "gridshift_dispatches_total{target=\"dry_run\",outcome=\"created\"} 1\n"))
        << m;
    EXPECT_TRUE(has(m, "# TYPE gridshift_replan_duration_seconds histogram\n")) << m;
    EXPECT_TRUE(has(m, "gridshift_replan_duration_seconds_bucket{le=\"+Inf\"} ")) << m;
    EXPECT_FALSE(has(m, "gridshift_replan_duration_seconds_count 0\n")) << m;  // it planned
    EXPECT_TRUE(has(m, "gridshift_emitted_grams{signal=")) << m;
    EXPECT_TRUE(has(m, "gridshift_saved_grams{signal=")) << m;
    EXPECT_TRUE(has(m, "gridshift_baseline_grams{signal=")) << m;
    EXPECT_TRUE(has(m, "gridshift_scheduler_cycles_total ")) << m;

    auto checked = run_command({kPromtool, "check", "metrics"}, dir_.path(), {}, m);
    EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err << m;
  }

  // The shipped Grafana dashboard queries only what is served; a dashboard asking for what is
  // not served is caught (a made-up metric, a made-up label).
  const auto dashboard = shipped_dashboard();
  ASSERT_TRUE(dashboard.is_object()) << "packaging/grafana/gridshift-dashboard.json is not JSON";
  const auto problems = dashboard_problems(dashboard, text);
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
  auto broken = dashboard;
  broken["panels"][0]["targets"][0]["expr"] =
      "sum by (colour) (gridshift_jobs) + gridshift_no_such_total";
  const auto found = dashboard_problems(broken, text);
  EXPECT_EQ(found.size(), 2u) << ::testing::PrintToString(found);

  // The TCP listener serves /metrics only: no jobs to anonymous callers.
  EXPECT_TRUE(has(tcp_get(port, "/v1/jobs"), "HTTP/1.1 404")) << tcp_get(port, "/v1/jobs");

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
}

TEST_F(MetricsDaemon, PortInUseIsAStartupErrorNamingMetricsListen) {
  TcpListener taken;
  ASSERT_GT(taken.port, 0);
  write_config(taken.port);
  auto daemon = start();
  const auto code = daemon->wait_exit();
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_TRUE(has(daemon->stderr_text(), "metrics.listen")) << daemon->stderr_text();
  EXPECT_TRUE(has(daemon->stderr_text(), std::to_string(taken.port))) << daemon->stderr_text();
}

}  // namespace
}  // namespace gridshift::testing
