// gridshiftd's service object: owns the io_context (run on the calling thread only, so the
// daemon needs no mutexes), the current configuration and the database. Built and run by
// daemon/main.cpp; construction throws StartupError with a clear message on any startup failure.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/system_clock.h"
#include "core/ports/clock.h"
#include "core/ports/dispatcher.h"
#include "core/ports/store.h"
#include "daemon/api/api_router.h"
#include "daemon/api/api_server.h"
#include "daemon/api/job_service.h"
#include "daemon/config/config.h"
#include "daemon/feeds/feed_poller.h"
#include "daemon/scheduler/forecast_errors.h"
#include "daemon/scheduler/scheduler.h"
#include "daemon/state_lock.h"
#include "daemon/systemd_notify.h"
#include "deploy/registry.h"
#include "deploy/vertex_ai/bigquery.h"
#include "net/http_client.h"

namespace gridshift {

class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The configuration (or a secret it names) is invalid: gridshiftd exits 2, like
// --check-config, so that systemd's RestartPreventExitStatus=2 stops a restart loop.
class InvalidConfigError : public StartupError {
 public:
  using StartupError::StartupError;
};

// Validates a config file the way the daemon would load it. Prints "OK ..." to `out`, or one
// line per error ("FILE:LINE: key.path: message") to `err`. Returns 0 or 2.
int check_config_file(const std::string& path, std::ostream& out, std::ostream& err);

class Daemon {
 public:
  // The exit code of a leader that lost its lease (its database session ended): it stops at
  // once, so that two daemons never dispatch together, and systemd's Restart=on-failure brings
  // it back as a follower.
  static constexpr int kLostLeaseExitCode = 3;

  // Loads and validates the config, resolves its secrets, creates state_dir and opens (and
  // checks) the database. Throws StartupError.
  explicit Daemon(std::string config_path);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Serves until SIGTERM or SIGINT, then closes the database. Returns the exit code.
  int run();

  // The socket API's routes: subsystems register theirs here before run().
  ApiRouter& router() { return router_; }
  // The job queue and its hooks (feeds health, planner, remote cancel, metrics sections).
  JobService& jobs() { return *jobs_; }
  // The shared outbound HTTP client and the feed poller.
  HttpClient& http() { return *http_; }
  FeedPoller& feeds() { return *feeds_; }

 private:
  boost::asio::awaitable<void> handle_signals();
  boost::asio::awaitable<void> prune_periodically();
  // WATCHDOG=1 and STATUS= refreshes from the event loop, so a stuck loop stops pinging.
  boost::asio::awaitable<void> notify_periodically();
  // One line for systemctl status: queue depth and feed health.
  std::string status_text();
  void reload();
  // What the dispatch target may use from the daemon (deploy/registry.h).
  TargetEnvironment target_environment();
  // POST /v1/plan: the spec resolved as a submit would be, planned now, nothing stored.
  ApiResponse answer_plan(const ApiRequest& request);
  void prune_readings();
  // The configured store: the SQLite file in state_dir or the shared PostgreSQL database.
  std::unique_ptr<Store> open_store();
  // Several daemons on one PostgreSQL store: a follower tries the lease every lease/3 and leads
  // once it holds it; a leader checks it as often and exits (kLostLeaseExitCode) on losing it.
  boost::asio::awaitable<void> lead_periodically();
  // Polls the feeds and dispatches from now on; the scheduler's first cycle reconciles what a
  // previous leader left dispatching.
  void start_leading();
  // Who leads, for /v1/health, and the leader families of /metrics.
  nlohmann::json leadership_json();
  bool leading() const { return leading_since_.has_value(); }
  std::string leadership_metrics();
  // The feeds', scheduler's and accounting families of /metrics.
  void add_metrics_sections();

  std::string config_path_;
  Config config_;
  ResolvedSecrets secrets_;
  std::unique_ptr<Clock> clock_;
  SystemClock wall_clock_;               // for credentials, whose lifetimes are real time
  std::optional<RunIdentity> run_as_;    // dispatch.local.run_as resolved; nullopt = owner
  std::optional<StateLock> state_lock_;  // held from before the database opens to exit
  std::unique_ptr<Store> store_;
  std::string instance_;  // "host:pid": how this daemon names itself to the others
  std::uint64_t takeovers_ = 0;
  // Since when this daemon polls the feeds and dispatches; nullopt while it follows. Without a
  // lease it leads from the start.
  std::optional<TimePoint> leading_since_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  ApiRouter router_;
  std::unique_ptr<JobService> jobs_;
  std::unique_ptr<HttpClient> http_;          // outbound HTTP(S): feeds (and the dispatcher)
  std::unique_ptr<FeedPoller> feeds_;         // one timer per feed, started by run()
  DispatchTarget target_;                     // the configured target and its credentials
  std::unique_ptr<BigQueryClient> bigquery_;  // vertex_ai only: borrows target_'s credentials
  ForecastErrors forecast_errors_;        // learned by the scheduler's cycles, shown by /v1/regions
  std::unique_ptr<Scheduler> scheduler_;  // re-plans every tick, dispatches, follows
  std::unique_ptr<ApiServer> api_;        // listening once the constructor returns
  ApiRouter metrics_router_;              // GET /metrics only, for the TCP listener
  std::unique_ptr<TcpApiServer> metrics_server_;  // metrics.listen; null when not configured
  SystemdNotifier notifier_;
  // The listening socket handed over by gridshiftd.socket (LISTEN_FDS), to serve instead of
  // binding socket.path; nullopt when not socket-activated.
  std::optional<int> activated_socket_;
  std::string last_status_;
  int exit_code_ = 0;
};

}  // namespace gridshift
