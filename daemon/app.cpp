#include "daemon/app.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <system_error>

#include "common/logging.h"
#include "common/scrub.h"
#include "common/spawn.h"
#include "common/system_clock.h"
#include "daemon/api/feed_routes.h"
#include "daemon/feeds/registry.h"
#include "daemon/metrics_sections.h"
#include "deploy/dry_run/dry_run_target.h"
#include "deploy/local/local_target.h"
#include "deploy/vertex_ai/token_source.h"
#include "deploy/vertex_ai/vertex_target.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;

// Without a watchdog, STATUS= (queue depth, feed health) is refreshed this often.
constexpr auto kStatusInterval = std::chrono::seconds(10);

// Retention pruning is cheap and readings arrive at most every few minutes: hourly is enough.
constexpr auto kPruneInterval = std::chrono::hours(1);

std::optional<std::string> lookup_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string credentials_directory() {
  return lookup_env("CREDENTIALS_DIRECTORY").value_or("");
}

Config load_config_or_throw(const std::string& path) {
  auto config = load_config_file(path, feed_schemas());
  if (!config) throw InvalidConfigError(format_config_errors(path, config.error()));
  return std::move(*config);
}

// Every resolved secret, and what the feeds make of them (a Basic authorization), registered
// for scrubbing from whatever the daemon writes or serves.
void scrub_from_now_on(const Config& config, const ResolvedSecrets& secrets) {
  std::vector<std::string> values;
  for (const auto& [key, secret] : secrets)
    values.push_back(secret.reveal());
  for (const auto& feed : config.feeds) {
    for (auto& value : derived_secret_values(feed, secrets))
      values.push_back(std::move(value));
  }
  set_scrubbed_secrets(values);
}

ResolvedSecrets resolve_secrets_or_throw(const std::string& path, const Config& config) {
  auto secrets = resolve_secrets(config, lookup_env, credentials_directory());
  if (!secrets) throw InvalidConfigError(format_config_errors(path, secrets.error()));
  scrub_from_now_on(config, *secrets);
  return std::move(*secrets);
}

// state_dir is 0711 when the daemon creates it: local jobs (other uids) must traverse it to
// their own directories under dispatch.local.workdir, but nobody else may list it.
void create_state_dir(const std::string& dir) {
  std::error_code ec;
  const bool created = std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw StartupError(fmt::format("cannot create state_dir '{}': {}", dir, ec.message()));
  }
  if (created) ::chmod(dir.c_str(), 0711);
  if (::access(dir.c_str(), W_OK) != 0) {
    throw StartupError(fmt::format("state_dir '{}' is not writable by uid {}: {}", dir, ::geteuid(),
                                   std::strerror(errno)));
  }
}

// The database and its -wal/-shm files (SQLite gives those the database file's mode) are the
// daemon's alone: job specs hold other users' environment values.
void restrict_database_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    throw StartupError(fmt::format("cannot open database {}: {}", path, std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
    subsystem_logger("storage")->warn("database {} was readable by others (mode {:o}): now 0600",
                                      path, st.st_mode & 0777);
    ::fchmod(fd, 0600);
  }
  ::close(fd);
  for (const char* suffix : {"-wal", "-shm"}) {
    const std::string side = path + suffix;
    if (::stat(side.c_str(), &st) == 0 && (st.st_mode & 077) != 0) ::chmod(side.c_str(), 0600);
  }
}

// The wall clock, or for soak tests a fast clock: GRIDSHIFT_TEST_CLOCK_RATE (how many times
// faster than real time) and optionally GRIDSHIFT_TEST_CLOCK_START (RFC 3339; default now).
std::unique_ptr<Clock> make_clock() {
  const auto rate_text = lookup_env("GRIDSHIFT_TEST_CLOCK_RATE");
  if (!rate_text || rate_text->empty()) return std::make_unique<SystemClock>();
  char* end = nullptr;
  const double rate = std::strtod(rate_text->c_str(), &end);
  if (end == rate_text->c_str() || *end != '\0' || !(rate >= 1.0) || rate > 1e6) {
    throw StartupError("GRIDSHIFT_TEST_CLOCK_RATE: expected a number from 1 to 1000000, got '" +
                       *rate_text + "'");
  }
  TimePoint start = SystemClock().now();
  if (auto start_text = lookup_env("GRIDSHIFT_TEST_CLOCK_START")) {
    auto parsed = parse_rfc3339(*start_text);
    if (!parsed) {
      throw StartupError("GRIDSHIFT_TEST_CLOCK_START: expected an RFC 3339 time, got '" +
                         *start_text + "'");
    }
    start = *parsed;
  }
  subsystem_logger("main")->warn("test clock: time starts at {} and runs {} times faster",
                                 format_rfc3339(start), rate);
  return std::make_unique<ScaledClock>(start, rate);
}

// What the config names on this host, checked before anything is created: socket.group
// and what the dispatch target needs (deploy/registry.h).
Status check_host_accounts(const Config& config, const TargetEnvironment& env,
                           std::optional<RunIdentity>* run_as = nullptr) {
  std::vector<FieldError> errors;
  if (auto gid = socket_group(config.socket.group); !gid) {
    errors.push_back({"socket.group", fmt::format("no group named '{}'", config.socket.group), 0});
  }
  if (auto target = check_dispatch_target(config.dispatch, env, run_as); !target) {
    for (auto& detail : target.error().details)
      errors.push_back(detail);
    if (target.error().details.empty()) errors.push_back({"dispatch", target.error().message, 0});
  }
  if (errors.empty()) return {};
  return make_error(errc::kInvalidConfig, "the config names what this host lacks",
                    std::move(errors));
}

}  // namespace

int check_config_file(const std::string& path, std::ostream& out, std::ostream& err) {
  auto config = load_config_file(path, feed_schemas());
  if (!config) {
    err << format_config_errors(path, config.error()) << '\n';
    return 2;
  }
  boost::asio::io_context io;
  HttpClient http(io.get_executor(), HttpClientOptions{});
  const SystemClock clock;
  const TargetEnvironment env{io.get_executor(), &http, &clock, &clock, lookup_env, {}};
  if (auto accounts = check_host_accounts(*config, env); !accounts) {
    err << format_config_errors(path, accounts.error()) << '\n';
    return 2;
  }
  out << fmt::format("{}: OK ({} feeds, {} regions, dispatch {})\n", path, config->feeds.size(),
                     config->regions.size(), to_string(config->dispatch.type));
  return 0;
}

Daemon::Daemon(std::string config_path)
    : config_path_(std::move(config_path)),
      config_(load_config_or_throw(config_path_)),
      secrets_(resolve_secrets_or_throw(config_path_, config_)),
      clock_(make_clock()),
      signals_(io_, SIGTERM, SIGINT, SIGHUP) {
  set_log_level(config_.log_level);
  auto log = subsystem_logger("main");
  log->info("configuration {} loaded: {} feeds, {} regions, dispatch {}", config_path_,
            config_.feeds.size(), config_.regions.size(), to_string(config_.dispatch.type));

  auto activated = take_activated_socket();
  if (!activated) throw StartupError(to_string(activated.error()));
  activated_socket_ = *activated;
  if (activated_socket_) {
    subsystem_logger("systemd")->info(
        "socket activation: serving the listening socket on fd {} from systemd",
        *activated_socket_);
  }

  HttpClientOptions http_options;
  http_options.proxy = ProxySettings::from_env(lookup_env);
  http_ = std::make_unique<HttpClient>(io_.get_executor(), std::move(http_options));
  std::optional<RunIdentity> run_as;
  if (auto accounts = check_host_accounts(config_, target_environment(), &run_as); !accounts) {
    throw InvalidConfigError(format_config_errors(config_path_, accounts.error()));
  }
  run_as_ = std::move(run_as);
  create_state_dir(config_.state_dir);
  // Before the database opens: a second daemon on this state must not touch it at all.
  auto lock = StateLock::acquire(config_.state_dir);
  if (!lock) throw StartupError(lock.error().message);
  state_lock_.emplace(std::move(*lock));
  store_ = open_store();
  boost::system::error_code no_host;
  const std::string host = boost::asio::ip::host_name(no_host);
  instance_ = fmt::format("{}:{}", no_host ? "unknown" : host, ::getpid());

  jobs_ = std::make_unique<JobService>(*store_, config_, *clock_, io_.get_executor());
  jobs_->register_routes(router_);
  feeds_ =
      std::make_unique<FeedPoller>(io_.get_executor(), *clock_, *store_, config_, secrets_, *http_);
  register_feed_routes(router_, config_, *store_, *clock_, &forecast_errors_);
  jobs_->feeds_health = [this] { return feeds_health(config_, *store_, *feeds_, clock_->now()); };
  auto target = make_dispatch_target(config_.dispatch, target_environment(), run_as_);
  if (!target) throw InvalidConfigError(format_config_errors(config_path_, target.error()));
  target_ = std::move(*target);
  subsystem_logger("dispatch")->info("dispatch target: {}", target_.description);
  scheduler_ = std::make_unique<Scheduler>(io_.get_executor(), config_, *store_, *store_, *store_,
                                           *clock_, *target_.dispatcher);
  scheduler_->use_forecast_errors(forecast_errors_);
  jobs_->output_path = [this](const Job& job) { return target_.dispatcher->output_path(job); };
  jobs_->check_for_target = [this](const JobSpec& spec) {
    return check_job_for_target(config_.dispatch, spec);
  };
  jobs_->plan = [this](const JobSpec&, const ApiRequest& request) { return answer_plan(request); };
  if (target_.credentials) {
    // `gridshift footprint --bigquery` reads the export with the Vertex AI credentials.
    BigQueryOptions bigquery;
    bigquery.endpoint = config_.dispatch.vertex_ai.bigquery_endpoint;
    bigquery.project = config_.dispatch.vertex_ai.project;
    bigquery_ = std::make_unique<BigQueryClient>(*http_, *target_.credentials, bigquery);
    jobs_->footprint_query = [this](std::string table) {
      return bigquery_->footprint(std::move(table));
    };
  }
  jobs_->on_submitted = [this] { scheduler_->wake(); };
  jobs_->problems = [this] { return scheduler_->problems(); };
  jobs_->leadership = [this] { return leadership_json(); };
  if (LeaderLease* lease = store_->lease()) {
    // A create is the one step two leaders must never both take: a leader whose lease session
    // ended stops before it, even ahead of its next lease check.
    scheduler_->may_dispatch = [lease] { return lease->held(); };
  }
  jobs_->on_cancel_requested = [this](const Job& job) { scheduler_->cancel_remote(job); };
  feeds_->on_new_readings([this] { scheduler_->wake(); });
  ApiServerOptions api_options;
  api_options.max_connections_per_uid = config_.limits.max_connections_per_uid;
  api_ = std::make_unique<ApiServer>(io_, router_, api_options);
  auto listening = activated_socket_ ? api_->adopt(*activated_socket_, config_.socket.path)
                                     : api_->listen(config_.socket);
  if (!listening) {
    if (listening.error().is(errc::kInvalidConfig)) {
      throw InvalidConfigError(format_config_errors(config_path_, listening.error()));
    }
    throw StartupError(listening.error().message);
  }
  add_metrics_sections();
  if (config_.metrics.listen) {
    jobs_->register_metrics_route(metrics_router_);
    metrics_server_ = std::make_unique<TcpApiServer>(io_, metrics_router_);
    auto bound = metrics_server_->listen(*config_.metrics.listen);
    if (!bound) throw StartupError(fmt::format("metrics.listen: {}", bound.error().message));
  }
}

void Daemon::add_metrics_sections() {
  jobs_->metrics_sections.emplace_back([this] {
    auto text = feed_metrics(config_, *store_, *feeds_);
    if (text) return std::move(*text);
    subsystem_logger("metrics")->warn("feed metrics left out: {}", to_string(text.error()));
    return std::string();
  });
  jobs_->metrics_sections.emplace_back([this] { return scheduler_metrics(*scheduler_); });
  jobs_->metrics_sections.emplace_back([this] { return leadership_metrics(); });
  jobs_->metrics_sections.emplace_back(
      [this] { return forecast_error_metrics(config_, forecast_errors_); });
  jobs_->metrics_sections.emplace_back([this] {
    auto report = jobs_->report();
    if (report) return accounting_metrics(*report);
    subsystem_logger("metrics")->warn("accounting metrics left out: {}", to_string(report.error()));
    return std::string();
  });
}

Daemon::~Daemon() = default;

std::unique_ptr<Store> Daemon::open_store() {
  auto log = subsystem_logger("storage");
  if (config_.storage.type == StorageType::postgres) {
    PostgresOpenOptions options;
    // The server drops a silent leader's session (and so its lease) within about a lease.
    options.connect.dead_peer_timeout = config_.storage.lease;
    const auto& dsn = secrets_.at(config_.storage.dsn->key).reveal();
    auto store = PostgresStore::open(dsn, options);
    if (!store) {
      throw StartupError(fmt::format("cannot open the PostgreSQL store ({}): {}",
                                     config_.storage.dsn->key, to_string(store.error())));
    }
    log->info("{} open (schema version {}); leader lease {}", (*store)->describe(),
              (*store)->schema_version(), format_duration(config_.storage.lease));
    return std::move(*store);
  }
  const auto db_path = (std::filesystem::path(config_.state_dir) / "gridshift.db").string();
  restrict_database_file(db_path);
  SqliteOpenOptions store_options;
  store_options.migration_progress = [this](std::size_t done, std::size_t total) {
    const auto text = fmt::format("summarising stored job specs: {} of {}", done, total);
    if (done % 2500 == 0) subsystem_logger("storage")->info("{}", text);
    notifier_.still_starting(text, std::chrono::seconds(30));
  };
  auto store = SqliteStore::open(db_path, store_options);
  if (!store) {
    throw StartupError(
        fmt::format("cannot open database {}: {}", db_path, to_string(store.error())));
  }
  log->info("database {} open (schema version {}, integrity ok)", db_path,
            (*store)->schema_version());
  return std::move(*store);
}

void Daemon::start_leading() {
  leading_since_ = clock_->now();
  feeds_->start();
  scheduler_->start();
}

asio::awaitable<void> Daemon::lead_periodically() {
  auto log = subsystem_logger("leader");
  LeaderLease& lease = *store_->lease();
  // Real time, like the lease itself (the database session's), even under a test clock.
  const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::max<std::chrono::milliseconds>(std::chrono::seconds(1), config_.storage.lease / 3));
  asio::steady_timer timer(io_);
  bool told_failure = false;
  std::optional<std::string> following;  // the leader last logged as followed ("" = nobody)
  for (;;) {
    if (!leading()) {
      auto taken = lease.try_acquire(instance_, clock_->now());
      if (!taken) {
        if (!told_failure) log->warn("cannot try the leader lease: {}", to_string(taken.error()));
        told_failure = true;
      } else if (*taken) {
        told_failure = false;
        ++takeovers_;
        log->info(
            "took the leader lease as {}: polling the feeds and dispatching from now on (the "
            "first cycle reconciles what the previous leader left dispatching)",
            instance_);
        start_leading();
      } else {
        told_failure = false;
        auto leader = lease.leader();
        std::string now_following =
            leader && *leader && (*leader)->active ? (*leader)->instance : std::string();
        if (leader && now_following != following) {
          log->info("following {}",
                    now_following.empty() ? "nobody yet (the lease is free)" : now_following);
          following = std::move(now_following);
        }
        // /v1/plan and /v1/regions on a follower correct forecasts as the leader does (hourly).
        forecast_errors_.refresh(config_, *store_, clock_->now());
      }
    } else {
      if (lease.jobs_arrived()) scheduler_->wake();
      auto still = lease.verify();
      if (!still || !*still) {
        log->error(
            "lost the leader lease ({}): stopping at once so that no two instances dispatch; "
            "the service manager restarts this one as a follower",
            still ? "its database session ended" : to_string(still.error()));
        exit_code_ = kLostLeaseExitCode;
        io_.stop();
        co_return;
      }
    }
    timer.expires_after(period);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

nlohmann::json Daemon::leadership_json() {
  nlohmann::json out = {{"storage", to_string(config_.storage.type)},
                        {"instance", instance_},
                        {"leading", leading()},
                        {"since", leading_since_ ? nlohmann::json(format_rfc3339(*leading_since_))
                                                 : nlohmann::json()},
                        {"takeovers", takeovers_}};
  LeaderLease* lease = store_->lease();
  if (lease == nullptr) {
    out["leader"] = instance_;
    return out;
  }
  out["lease_s"] = config_.storage.lease.count();
  auto leader = lease->leader();
  if (!leader) {
    out["leader"] = nullptr;
    out["leader_error"] = leader.error().message;
  } else if (!*leader || !(*leader)->active) {
    out["leader"] = nullptr;  // the last one's session ended and nobody took over yet
  } else {
    out["leader"] = (*leader)->instance;
    out["leader_since"] = format_rfc3339((*leader)->since);
  }
  return out;
}

std::string Daemon::leadership_metrics() {
  std::string out;
  out += "# HELP gridshift_leader Whether this instance leads (polls the feeds, dispatches).\n";
  out += "# TYPE gridshift_leader gauge\n";
  out += fmt::format("gridshift_leader{{instance=\"{}\"}} {}\n", instance_, leading() ? 1 : 0);
  out += "# HELP gridshift_leader_takeovers_total Times this instance took the leader lease.\n";
  out += "# TYPE gridshift_leader_takeovers_total counter\n";
  out += fmt::format("gridshift_leader_takeovers_total {}\n", takeovers_);
  const auto who = leadership_json()["leader"];
  out += "# HELP gridshift_leader_info The instance that leads, as this instance sees it.\n";
  out += "# TYPE gridshift_leader_info gauge\n";
  out += fmt::format("gridshift_leader_info{{leader=\"{}\"}} {}\n",
                     who.is_string() ? who.get<std::string>() : "", who.is_string() ? 1 : 0);
  return out;
}

ApiResponse Daemon::answer_plan(const ApiRequest& request) {
  auto job = jobs_->prepare(request.body, request.uid, std::nullopt);
  if (!job) return ApiResponse::error(status_for(job.error()), job.error());
  auto decision = scheduler_->plan(*job);
  if (!decision) return ApiResponse::error(503, decision.error());
  return ApiResponse::json(200, scheduler_->plan_to_json(*job, *decision));
}

int Daemon::run() {
  spawn(io_, handle_signals(), "main", "signal handling", OnFailure::stop);
  spawn(io_, prune_periodically(), "storage", "pruning", OnFailure::stop);
  if (notifier_.enabled()) {
    spawn(io_, notify_periodically(), "systemd", "systemd notification", OnFailure::stop);
  }
  api_->start();
  if (metrics_server_) {
    metrics_server_->start();
    subsystem_logger("metrics")->info("metrics listening on {}", metrics_server_->address());
  }
  if (store_->lease() == nullptr) {
    start_leading();
  } else {
    spawn(io_, lead_periodically(), "leader", "leader lease", OnFailure::stop);
  }
  subsystem_logger("main")->info("gridshiftd ready (pid {}, socket {})", ::getpid(), api_->path());
  last_status_ = status_text();
  notifier_.ready(last_status_);
  io_.run();
  store_.reset();  // closes the database: WAL checkpointed, file consistent (or the session)
  if (exit_code_ == kLostLeaseExitCode) {
    subsystem_logger("main")->error("gridshiftd stopped: it lost the leader lease");
    return exit_code_;
  }
  subsystem_logger("main")->info("gridshiftd stopped cleanly");
  return exit_code_;
}

asio::awaitable<void> Daemon::handle_signals() {
  auto log = subsystem_logger("main");
  for (;;) {
    auto [ec, signal_number] = co_await signals_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    if (signal_number == SIGHUP) {
      notifier_.reloading();
      reload();
      last_status_ = status_text();
      notifier_.ready(last_status_);
      continue;
    }
    log->info("received {}, shutting down", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    notifier_.stopping();
    io_.stop();
    co_return;
  }
}

asio::awaitable<void> Daemon::prune_periodically() {
  asio::steady_timer timer(io_);
  for (;;) {
    prune_readings();
    timer.expires_after(kPruneInterval);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
  }
}

asio::awaitable<void> Daemon::notify_periodically() {
  const auto watchdog = notifier_.watchdog_ping_interval();
  const std::chrono::microseconds interval =
      watchdog ? std::min<std::chrono::microseconds>(*watchdog, kStatusInterval) : kStatusInterval;
  asio::steady_timer timer(io_);
  for (;;) {
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    if (watchdog) notifier_.watchdog();
    auto text = status_text();
    if (text != last_status_) {
      notifier_.status(text);
      last_status_ = std::move(text);
    }
  }
}

std::string Daemon::status_text() {
  auto queued = store_->count(JobState::queued);
  const std::string queue =
      queued ? fmt::format("{} queued", *queued) : std::string("queue unknown (database error)");
  if (!jobs_->feeds_health) {
    return fmt::format("{}; feeds: {} configured, not polled yet", queue, config_.feeds.size());
  }
  // The same per-feed states /v1/health reports, summed up for `systemctl status`.
  const auto health = jobs_->feeds_health();
  const auto ok = std::count_if(health.feeds.begin(), health.feeds.end(),
                                [](const auto& feed) { return feed.value("status", "") == "ok"; });
  std::string role;
  if (store_->lease() != nullptr) role = leading() ? "; leader" : "; follower";
  return fmt::format("{}; feeds: {}/{} ok{}{}", queue, ok, health.feeds.size(),
                     health.degraded ? ", degraded" : "", role);
}

void Daemon::prune_readings() {
  if (!leading()) return;  // the leader prunes the shared store; followers leave it alone
  const auto cutoff = clock_->now() - config_.scheduler.retention;
  auto pruned = store_->prune(cutoff);
  auto log = subsystem_logger("storage");
  if (!pruned) {
    log->warn("pruning readings older than {} failed: {}", format_rfc3339(cutoff),
              to_string(pruned.error()));
  } else if (*pruned > 0) {
    log->info("pruned {} readings older than {} (retention {})", *pruned, format_rfc3339(cutoff),
              format_duration(config_.scheduler.retention));
  }
}

TargetEnvironment Daemon::target_environment() {
  // Tokens live on Google's clock, the real one, even when a test runs the daemon's fast.
  return TargetEnvironment{
      io_.get_executor(), http_.get(), clock_.get(), &wall_clock_, lookup_env, [this] {
        if (scheduler_) scheduler_->wake();
      }};
}

void Daemon::reload() {
  auto log = subsystem_logger("config");
  log->info("SIGHUP: reloading {}", config_path_);
  auto config = load_config_file(config_path_, feed_schemas());
  if (!config) {
    log->error("reload rejected, keeping the running configuration:\n{}",
               format_config_errors(config_path_, config.error()));
    return;
  }
  auto secrets = resolve_secrets(*config, lookup_env, credentials_directory());
  if (!secrets) {
    log->error("reload rejected, keeping the running configuration:\n{}",
               format_config_errors(config_path_, secrets.error()));
    return;
  }
  if (config->state_dir != config_.state_dir) {
    log->warn("state_dir changed from {} to {}: takes effect at the next restart",
              config_.state_dir, config->state_dir);
    config->state_dir = config_.state_dir;
  }
  if (config->storage != config_.storage) {
    log->warn("storage settings changed: they take effect at the next restart");
    config->storage = config_.storage;
  }
  if (config->socket != config_.socket) {
    // The socket is bound (or handed over by systemd) once, at start.
    log->warn(
        "socket settings changed (path {} mode {:o} group '{}'): they take effect at the "
        "next restart",
        config->socket.path, config->socket.mode, config->socket.group);
    config->socket = config_.socket;
  }
  if (config->metrics != config_.metrics) {
    log->warn("metrics.listen changed from {} to {}: takes effect at the next restart",
              config_.metrics.listen.value_or("(none)"), config->metrics.listen.value_or("(none)"));
    config->metrics = config_.metrics;
  }
  if (config->dispatch != config_.dispatch) {
    // The dispatcher holds jobs in flight on the old target; switching under them would strand
    // them, so the change waits for a restart (which reconciles through the journal).
    log->warn("dispatch settings changed: they take effect at the next restart");
    config->dispatch = config_.dispatch;
  }
  config_ = std::move(*config);
  secrets_ = std::move(*secrets);
  scrub_from_now_on(config_, secrets_);
  api_->set_connection_limits(config_.limits.max_connections_per_uid);
  set_log_level(config_.log_level);
  const auto restarted = feeds_->reconfigure(config_, secrets_);
  log->info("configuration reloaded: {} feeds ({} restarted), {} regions, log_level {}",
            config_.feeds.size(), restarted, config_.regions.size(), to_string(config_.log_level));
  scheduler_->wake();
}

}  // namespace gridshift
