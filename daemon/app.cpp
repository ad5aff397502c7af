#include "daemon/app.h"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <system_error>

#include "daemon/logging.h"
#include "daemon/system_clock.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;

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
  auto config = load_config_file(path);
  if (!config) throw InvalidConfigError(format_config_errors(path, config.error()));
  return std::move(*config);
}

ResolvedSecrets resolve_secrets_or_throw(const std::string& path, const Config& config) {
  auto secrets = resolve_secrets(config, lookup_env, credentials_directory());
  if (!secrets) throw InvalidConfigError(format_config_errors(path, secrets.error()));
  return std::move(*secrets);
}

void create_state_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw StartupError(fmt::format("cannot create state_dir '{}': {}", dir, ec.message()));
  }
}

void rethrow_if_failed(std::exception_ptr failure) {
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

std::string format_config_errors(const std::string& path, const Error& error) {
  std::string out;
  if (error.details.empty()) return error.message;
  for (const auto& detail : error.details) {
    if (!out.empty()) out += '\n';
    out += path;
    if (detail.line > 0) out += fmt::format(":{}", detail.line);
    out += ": ";
    if (!detail.field.empty()) out += detail.field + ": ";
    out += detail.message;
  }
  return out;
}

int check_config_file(const std::string& path, std::ostream& out, std::ostream& err) {
  auto config = load_config_file(path);
  if (!config) {
    err << format_config_errors(path, config.error()) << '\n';
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
      clock_(std::make_unique<SystemClock>()),
      signals_(io_, SIGTERM, SIGINT, SIGHUP) {
  set_log_level(config_.log_level);
  auto log = subsystem_logger("main");
  log->info("configuration {} loaded: {} feeds, {} regions, dispatch {}", config_path_,
            config_.feeds.size(), config_.regions.size(), to_string(config_.dispatch.type));

  create_state_dir(config_.state_dir);
  const auto db_path = (std::filesystem::path(config_.state_dir) / "gridshift.db").string();
  auto store = SqliteStore::open(db_path);
  if (!store) {
    throw StartupError(
        fmt::format("cannot open database {}: {}", db_path, to_string(store.error())));
  }
  store_ = std::move(*store);
  subsystem_logger("storage")->info("database {} open (schema version {}, integrity ok)", db_path,
                                    store_->schema_version());
}

Daemon::~Daemon() = default;

int Daemon::run() {
  asio::co_spawn(io_, handle_signals(), rethrow_if_failed);
  asio::co_spawn(io_, prune_periodically(), rethrow_if_failed);
  subsystem_logger("main")->info("gridshiftd ready (pid {})", ::getpid());
  io_.run();
  store_.reset();  // closes the database: WAL checkpointed, file consistent
  subsystem_logger("main")->info("gridshiftd stopped cleanly");
  return exit_code_;
}

asio::awaitable<void> Daemon::handle_signals() {
  auto log = subsystem_logger("main");
  for (;;) {
    auto [ec, signal_number] = co_await signals_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    if (signal_number == SIGHUP) {
      reload();
      continue;
    }
    log->info("received {}, shutting down", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
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

void Daemon::prune_readings() {
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

void Daemon::reload() {
  auto log = subsystem_logger("config");
  log->info("SIGHUP: reloading {}", config_path_);
  auto config = load_config_file(config_path_);
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
  if (config->socket.path != config_.socket.path) {
    log->warn("socket.path changed from {} to {}: takes effect at the next restart",
              config_.socket.path, config->socket.path);
    config->socket = config_.socket;
  }
  config_ = std::move(*config);
  secrets_ = std::move(*secrets);
  set_log_level(config_.log_level);
  log->info("configuration reloaded: {} feeds, {} regions, log_level {}", config_.feeds.size(),
            config_.regions.size(), to_string(config_.log_level));
}

}  // namespace gridshift
