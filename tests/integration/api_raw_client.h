// Test support for the socket API: raw bytes over a Unix socket (so that malformed requests
// can be sent), the reply's status, headers and body. Blocking, with a receive timeout.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace gridshift::testing {

struct RawReply {
  int connect_errno = 0;  // nonzero when the connection failed
  int status = 0;         // 0 when no HTTP answer came
  std::string head;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string error_code() const {
    auto j = json();
    return j.is_object() && j.contains("error") && j["error"].is_object()
               ? j["error"].value("code", "")
               : "";
  }
  // The fields named in the error's details.
  std::vector<std::string> fields() const {
    std::vector<std::string> out;
    auto j = json();
    if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return out;
    for (const auto& d : j["error"].value("details", nlohmann::json::array()))
      out.push_back(d.value("field", ""));
    return out;
  }
};

inline int connect_unix(const std::string& path, int& error) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    error = errno;
    ::close(fd);
    return -1;
  }
  timeval tv{};
  tv.tv_sec = 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

inline RawReply read_reply(int fd) {
  RawReply reply;
  std::string data;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  const auto end = data.find("\r\n\r\n");
  if (data.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return reply;
  reply.status = std::stoi(data.substr(9, 3));
  reply.head = data.substr(0, end);
  reply.body = data.substr(end + 4);
  return reply;
}

// Sends `bytes`, closes the writing side, reads everything the server answers.
inline RawReply raw_exchange(const std::string& socket_path, const std::string& bytes) {
  RawReply reply;
  const int fd = connect_unix(socket_path, reply.connect_errno);
  if (fd < 0) return reply;
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (413) and close before reading everything
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  reply = read_reply(fd);
  ::close(fd);
  return reply;
}

inline std::string http_request(const std::string& method, const std::string& target,
                                const std::string& body = {},
                                const std::map<std::string, std::string>& headers = {
                                    {"Content-Type", "application/json"}}) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: gridshift\r\n";
  for (const auto& [name, value] : headers)
    out += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST") {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  out += "Connection: close\r\n\r\n" + body;
  return out;
}

inline RawReply call(const std::string& socket_path, const std::string& method,
                     const std::string& target, const std::string& body = {},
                     const std::map<std::string, std::string>& headers = {
                         {"Content-Type", "application/json"}}) {
  return raw_exchange(socket_path, http_request(method, target, body, headers));
}

}  // namespace gridshift::testing
