// The daemon's side of the systemd service protocol: sd_notify messages (READY, STATUS,
// WATCHDOG, RELOADING, STOPPING) and the socket handed over by socket activation.
// Stateless apart from the watchdog interval read at construction; use from the io thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace gridshift {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET and WATCHDOG_USEC (through libsystemd) once.
  SystemdNotifier();

  // True when a service manager listens on NOTIFY_SOCKET; otherwise every message is a no-op.
  bool enabled() const { return enabled_; }

  // How often to send WATCHDOG=1: half of WATCHDOG_USEC, so one late tick is not fatal.
  // nullopt when the watchdog is off (or meant for another pid).
  std::optional<std::chrono::microseconds> watchdog_ping_interval() const {
    return watchdog_ping_interval_;
  }

  void ready(std::string_view status_text);
  void status(std::string_view text);
  // Still starting, and making progress: STATUS= and EXTEND_TIMEOUT_USEC=, so that long work
  // before READY=1 (a schema migration) does not run into TimeoutStartSec.
  void still_starting(std::string_view status_text, std::chrono::microseconds more);
  void watchdog();
  // RELOADING=1 with MONOTONIC_USEC (what Type=notify-reload expects); follow with ready().
  void reloading();
  void stopping();

 private:
  void send(const std::string& message);

  bool enabled_ = false;
  std::optional<std::chrono::microseconds> watchdog_ping_interval_;
};

// The listening socket passed by socket activation (LISTEN_FDS/LISTEN_PID), or nullopt when
// the daemon was not socket-activated. Error "socket_activation" when systemd handed over
// anything other than exactly one listening AF_UNIX SOCK_STREAM socket. Unsets the LISTEN_*
// variables so that child processes do not inherit them.
Result<std::optional<int>> take_activated_socket();

}  // namespace gridshift
