// The CLI's side of the socket API: one HTTP/1.1 request over the Unix socket per call, the
// whole exchange bounded by a deadline (Beast's async operations run on a private io_context
// for at most `timeout`: socket-level timeouts do not bound Asio's blocking calls, which poll
// without one). Single-threaded use from the CLI process.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "core/result.h"

namespace gridshift {

inline constexpr const char* kDefaultSocketPath = "/run/gridshift/gridshift.sock";

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

// `--socket` when given, else $GRIDSHIFT_SOCKET, else the default path.
std::string resolve_socket_path(const std::string& flag);

// Error "daemon_unreachable" (the message says where it looked and what to try) when the
// socket cannot be reached; "bad_response" when the answer is not HTTP; "daemon_timeout" when
// no whole answer came within `timeout`.
Result<HttpReply> socket_request(const std::string& socket_path, const std::string& method,
                                 const std::string& target, const std::string& body = {},
                                 const std::map<std::string, std::string>& headers = {},
                                 std::chrono::seconds timeout = std::chrono::seconds(60));

}  // namespace gridshift
