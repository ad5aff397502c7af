#include "daemon/state_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <utility>

namespace gridshift {
namespace {

// The pid written by the holder; 0 when the file holds none (the holder is between open and
// write, or an older file).
long read_holder_pid(int fd) {
  char buffer[32] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  if (n <= 0) return 0;
  long pid = 0;
  std::from_chars(buffer, buffer + n, pid);
  return pid;
}

}  // namespace

Result<StateLock> StateLock::acquire(const std::string& state_dir) {
  const std::string path = (std::filesystem::path(state_dir) / kFileName).string();
  // 0600: the pid is no secret, but nobody else has any business opening this file.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return make_error("state_unavailable",
                      fmt::format("cannot open the state lock {}: {}", path, std::strerror(errno)));
  }
  // flock locks belong to the open file description: a forked child that keeps the descriptor
  // would keep the lock, hence O_CLOEXEC above (local jobs exec right after fork).
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const long holder = read_holder_pid(fd);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      const std::string who = holder > 0 ? fmt::format("pid {}", holder) : "another process";
      return make_error(
          "state_locked",
          fmt::format("state_dir {} is in use by another gridshiftd ({}, lock {}): one daemon "
                      "per state, whatever its socket; stop it first or use another state_dir",
                      state_dir, who, path));
    }
    return make_error("state_unavailable",
                      fmt::format("cannot lock {}: {}", path, std::strerror(err)));
  }
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::close(fd);
    return make_error("state_unavailable",
                      fmt::format("cannot write the state lock {}: {}", path, std::strerror(err)));
  }
  return StateLock(fd, path);
}

StateLock::StateLock(StateLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

StateLock& StateLock::operator=(StateLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

// The file stays: removing it would let a third daemon lock a new file while a second one
// still waits on the old inode. Closing the descriptor releases the lock.
StateLock::~StateLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace gridshift
