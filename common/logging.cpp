#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <mutex>

#include "common/scrub.h"

namespace gridshift {
namespace {

// sd-daemon(3) priority prefixes, so journald files each line under the right priority.
class JournalPriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view prefix = "<6>";
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug:
        prefix = "<7>";
        break;
      case spdlog::level::info:
        prefix = "<6>";
        break;
      case spdlog::level::warn:
        prefix = "<4>";
        break;
      case spdlog::level::err:
        prefix = "<3>";
        break;
      case spdlog::level::critical:
        prefix = "<2>";
        break;
      default:
        break;
    }
    dest.append(prefix.data(), prefix.data() + prefix.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JournalPriorityFlag>();
  }
};

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace:
      return spdlog::level::trace;
    case LogLevel::debug:
      return spdlog::level::debug;
    case LogLevel::info:
      return spdlog::level::info;
    case LogLevel::warn:
      return spdlog::level::warn;
    case LogLevel::error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

struct LoggingState {
  std::mutex mutex;
  spdlog::sink_ptr sink;
  LogFormat format = LogFormat::console;
  spdlog::level::level_enum level = spdlog::level::info;
};

LoggingState& state() {
  static LoggingState s;
  return s;
}

// Formats with the pattern, then scrubs registered secrets from the whole line (common/scrub.h):
// whatever a message quotes, a secret never reaches the log.
class ScrubbingFormatter final : public spdlog::formatter {
 public:
  explicit ScrubbingFormatter(std::unique_ptr<spdlog::formatter> inner)
      : inner_(std::move(inner)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    inner_->format(msg, dest);
    const std::string_view line(dest.data(), dest.size());
    if (!contains_secret(line)) return;
    const std::string clean = scrub_secrets(line);
    dest.clear();
    dest.append(clean.data(), clean.data() + clean.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<ScrubbingFormatter>(inner_->clone());
  }

 private:
  std::unique_ptr<spdlog::formatter> inner_;
};

std::unique_ptr<spdlog::formatter> make_formatter(LogFormat format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (format == LogFormat::journal) {
    formatter->add_flag<JournalPriorityFlag>('*').set_pattern("%*%n: %v");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%-5l%$ %n: %v");
  }
  return std::make_unique<ScrubbingFormatter>(std::move(formatter));
}

// journald gets plain lines; a terminal gets colours (the colour sink drops them itself when
// stderr is not a terminal).
spdlog::sink_ptr make_sink(LogFormat format) {
  spdlog::sink_ptr sink;
  if (format == LogFormat::journal) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  }
  sink->set_formatter(make_formatter(format));
  return sink;
}

spdlog::sink_ptr ensure_sink(LoggingState& s) {
  if (!s.sink) s.sink = make_sink(s.format);
  return s.sink;
}

}  // namespace

LogFormat detect_log_format() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  return (stream != nullptr && *stream != '\0') ? LogFormat::journal : LogFormat::console;
}

void init_logging(LogFormat format, LogLevel level) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  s.format = format;
  s.level = to_spdlog(level);
  s.sink = make_sink(format);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
    l->sinks().assign(1, s.sink);
    l->set_level(s.level);
  });
}

void set_log_level(LogLevel level) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  s.level = to_spdlog(level);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(s.level); });
}

std::shared_ptr<spdlog::logger> subsystem_logger(const std::string& subsystem) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (auto existing = spdlog::get(subsystem)) return existing;
  auto logger = std::make_shared<spdlog::logger>(subsystem, ensure_sink(s));
  logger->set_level(s.level);
  logger->flush_on(spdlog::level::trace);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace gridshift
