// Logging for the daemon and CLI: one spdlog logger per subsystem, all writing to stderr.
// Under journald (JOURNAL_STREAM set) lines carry "<N>" syslog priority prefixes and no
// timestamps. Set up once at startup from the main thread; loggers are then safe to use.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "common/config_slices.h"

namespace gridshift {

enum class LogFormat { console, journal };

// Journal format when the JOURNAL_STREAM environment variable is set, console otherwise.
LogFormat detect_log_format();

// Creates the shared stderr sink; later calls replace format and level.
void init_logging(LogFormat format, LogLevel level);

// Changes the level of every subsystem logger (used on SIGHUP reload).
void set_log_level(LogLevel level);

// The logger of a subsystem ("main", "config", "storage", "scheduler", "feeds", "api", ...),
// created on first use with the current format and level.
std::shared_ptr<spdlog::logger> subsystem_logger(const std::string& subsystem);

}  // namespace gridshift
