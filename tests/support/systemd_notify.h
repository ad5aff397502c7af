// Test support: the service manager's side of the systemd notify protocol, without systemd.
// NotifyListener binds a datagram NOTIFY_SOCKET in the test's directory and collects every
// message a daemon sends (READY, STATUS, WATCHDOG, RELOADING, STOPPING). Owned by one test
// thread; the socket closes with the listener.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.h"

namespace gridshift::testing {

inline sockaddr_un unix_address(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const auto text = path.string();
  if (text.size() >= sizeof(address.sun_path)) throw std::runtime_error("socket path too long");
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  return address;
}

inline int bind_unix(const std::filesystem::path& path, int type) {
  const int fd = ::socket(AF_UNIX, type, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  const auto address = unix_address(path);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed: " + path.string());
  }
  return fd;
}

// The service manager's end of NOTIFY_SOCKET: collects every datagram the daemon sends.
class NotifyListener {
 public:
  explicit NotifyListener(std::filesystem::path path)
      : path_(std::move(path)), fd_(bind_unix(path_, SOCK_DGRAM)) {}
  ~NotifyListener() { ::close(fd_); }
  NotifyListener(const NotifyListener&) = delete;
  NotifyListener& operator=(const NotifyListener&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::vector<std::string>& messages() const { return messages_; }

  // Receives until `condition` holds over the messages so far, or 20 s pass.
  bool wait_for(const std::function<bool(const std::vector<std::string>&)>& condition) {
    return wait_until([&] {
      drain();
      return condition(messages_);
    });
  }

  // Index of the first message at or after `from` containing `needle`, or -1.
  long find(const std::string& needle, std::size_t from = 0) const {
    for (std::size_t i = from; i < messages_.size(); ++i) {
      if (messages_[i].find(needle) != std::string::npos) return static_cast<long>(i);
    }
    return -1;
  }

  std::size_t count(const std::string& needle) const {
    return static_cast<std::size_t>(std::count_if(
        messages_.begin(), messages_.end(),
        [&](const std::string& message) { return message.find(needle) != std::string::npos; }));
  }

 private:
  void drain() {
    pollfd ready{fd_, POLLIN, 0};
    while (::poll(&ready, 1, 0) > 0) {
      char buffer[4096];
      const auto n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      messages_.emplace_back(buffer, static_cast<std::size_t>(n));
    }
  }

  std::filesystem::path path_;
  int fd_;
  std::vector<std::string> messages_;
};

// The STATUS= value of a notify message ("" when it has none).
inline std::string status_of(const std::string& message) {
  const auto at = message.find("STATUS=");
  if (at == std::string::npos) return "";
  const auto end = message.find('\n', at);
  return message.substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
}

}  // namespace gridshift::testing
