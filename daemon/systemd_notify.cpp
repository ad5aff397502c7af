#include "daemon/systemd_notify.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "common/logging.h"

namespace gridshift {
namespace {

std::uint64_t monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000U +
         static_cast<std::uint64_t>(now.tv_nsec) / 1'000U;
}

// STATUS= ends at a newline in the protocol: keep the text on one line.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  std::uint64_t usec = 0;
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_ping_interval_ = std::chrono::microseconds(static_cast<std::int64_t>(usec / 2));
  }
}

void SystemdNotifier::send(const std::string& message) {
  if (!enabled_) return;
  const int r = sd_notify(0, message.c_str());
  if (r < 0) {
    subsystem_logger("systemd")->warn("sd_notify failed: {}", std::strerror(-r));
  }
}

void SystemdNotifier::ready(std::string_view status_text) {
  send(fmt::format("READY=1\nSTATUS={}", one_line(status_text)));
}

void SystemdNotifier::status(std::string_view text) {
  send(fmt::format("STATUS={}", one_line(text)));
}

void SystemdNotifier::still_starting(std::string_view status_text, std::chrono::microseconds more) {
  send(fmt::format("EXTEND_TIMEOUT_USEC={}\nSTATUS={}", more.count(), one_line(status_text)));
}

void SystemdNotifier::watchdog() {
  send("WATCHDOG=1");
}

void SystemdNotifier::reloading() {
  send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading configuration",
                   monotonic_usec()));
}

void SystemdNotifier::stopping() {
  send("STOPPING=1\nSTATUS=shutting down");
}

Result<std::optional<int>> take_activated_socket() {
  const int count = sd_listen_fds(1);
  if (count < 0) {
    return make_error("socket_activation",
                      fmt::format("reading LISTEN_FDS failed: {}", std::strerror(-count)));
  }
  if (count == 0) return std::optional<int>();
  if (count != 1) {
    return make_error("socket_activation",
                      fmt::format("expected one socket from systemd, got {} (LISTEN_FDS)", count));
  }
  const int fd = SD_LISTEN_FDS_START;
  const int is_unix = sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0);
  if (is_unix <= 0) {
    return make_error("socket_activation",
                      fmt::format("fd {} from systemd is not a listening AF_UNIX stream socket "
                                  "(check ListenStream= in gridshiftd.socket)",
                                  fd));
  }
  return std::optional<int>(fd);
}

}  // namespace gridshift
