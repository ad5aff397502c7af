// The socket API's HTTP/1.1 server (docs/api.md): Boost.Beast over an AF_UNIX stream socket,
// one coroutine per connection on the daemon's io_context thread, requests routed through an
// ApiRouter. Enforces the request limits; the caller's uid comes from SO_PEERCRED. The same
// session code also serves TCP (TcpApiServer, for metrics.listen) with anonymous callers.
#pragma once

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/config_slices.h"
#include "core/result.h"
#include "core/utf8.h"
#include "daemon/api/api_router.h"

namespace gridshift {

struct ApiServerOptions {
  std::size_t body_limit = 1024 * 1024;    // 413 "payload_too_large" beyond
  std::uint32_t header_limit = 16 * 1024;  // 431 "headers_too_large" beyond
  // Time a client has to send one whole request (also the keep-alive idle time); a slower
  // client is disconnected.
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  std::size_t max_connections = 512;  // beyond: 503 "busy", then close
  // One uid may hold at most this many connections (503 "busy" beyond), so that one user
  // cannot lock everyone out; root (uid 0) is exempt and has `root_reserve` connections
  // beyond max_connections, so an operator always gets in.
  std::size_t max_connections_per_uid = 64;
  std::size_t root_reserve = 16;
};

// Open connections, in all and per caller uid; shared with the connections' coroutines,
// which may outlive the server object.
struct ConnectionCounts {
  std::size_t total = 0;
  std::map<std::uint32_t, std::size_t> by_uid;
};

// The uid and gid of a caller over TCP, which has no peer credentials (owns no job).
inline constexpr std::uint32_t kAnonymousCaller = 0xFFFFFFFFu;

// Splits a request target into its percent-decoded path and query parameters; nullopt when the
// target is not an origin-form path or its escapes are malformed.
bool parse_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query);

// The server's per-request step: fills `out` from a parsed HTTP request of the caller (target
// split and decoded, header names lower-cased, body moved) and returns nullopt; or returns the
// 400 answer a request gets without reaching the router (malformed target, body not UTF-8).
std::optional<ApiResponse> to_api_request(
    boost::beast::http::request<boost::beast::http::string_body>& message, std::uint32_t uid,
    std::uint32_t gid, ApiRequest& out);

// The gid of socket.group ("" = the daemon's own group); "invalid_config" naming socket.group
// when there is no such group.
Result<gid_t> socket_group(const std::string& name);

class ApiServer {
 public:
  ApiServer(boost::asio::io_context& io, const ApiRouter& router, ApiServerOptions options = {});
  ~ApiServer();  // removes the socket file it created
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Creates the socket file at `socket.path` with `socket.mode` and `socket.group`, never more
  // open than that at any moment (bound in a private directory, then renamed into place). A
  // stale socket file (nobody listening) is replaced; a live one is refused ("socket_in_use"),
  // as is any other file there. An unknown group is "invalid_config".
  Status listen(const SocketConfig& socket);

  // Serves an already listening socket (systemd socket activation); the file is not ours to
  // remove. Error "socket_unavailable" when `fd` is not a listening AF_UNIX stream socket.
  Status adopt(int fd, std::string path);

  // Starts accepting (after listen() or adopt()).
  void start();
  // Stops accepting; open connections finish their current request.
  void stop();

  const std::string& path() const { return path_; }
  std::size_t connections() const { return connections_->total; }
  // New limits for connections accepted from now on (SIGHUP).
  void set_connection_limits(std::size_t per_uid) { options_.max_connections_per_uid = per_uid; }
  // How often the socket file was found deleted (or replaced) and bound anew.
  std::uint64_t socket_recreations() const { return recreations_; }

 private:
  // Watches the socket's directory (inotify) so that a deleted socket file is noticed at once
  // and bound anew: without it the daemon would go on serving nobody while a second one could
  // start on the same path. Only for sockets listen() created.
  void watch_socket_file();
  void arm_socket_watch();
  void on_socket_dir_changed();

  boost::asio::io_context& io_;
  const ApiRouter& router_;
  ApiServerOptions options_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::string path_;
  std::optional<SocketConfig> socket_;         // what listen() was given, to bind it anew
  std::optional<std::uint64_t> socket_inode_;  // of the file we created, to remove only ours
  std::unique_ptr<boost::asio::posix::stream_descriptor> socket_watch_;  // inotify fd
  bool accepting_ = false;
  std::uint64_t recreations_ = 0;
  std::shared_ptr<ConnectionCounts> connections_ = std::make_shared<ConnectionCounts>();
  // Completion handlers hold a weak copy: a handler that runs after destruction does nothing.
  std::shared_ptr<int> alive_token_ = std::make_shared<int>(0);
};

// The same HTTP server over TCP (metrics.listen). TCP has no peer credentials: requests carry
// uid and gid kAnonymousCaller, so give it a router whose routes need no caller (GET /metrics).
class TcpApiServer {
 public:
  TcpApiServer(boost::asio::io_context& io, const ApiRouter& router, ApiServerOptions options = {});
  ~TcpApiServer();
  TcpApiServer(const TcpApiServer&) = delete;
  TcpApiServer& operator=(const TcpApiServer&) = delete;

  // Binds and listens on "host:port" (a host name or an address, IPv6 in brackets; port 0 picks
  // a free port). Error "socket_unavailable" when it cannot.
  Status listen(const std::string& host_port);
  void start();
  void stop();

  // The bound "address:port" (the real port when 0 was asked for); "" when not listening.
  std::string address() const;

 private:
  boost::asio::io_context& io_;
  const ApiRouter& router_;
  ApiServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<ConnectionCounts> connections_ = std::make_shared<ConnectionCounts>();
};

}  // namespace gridshift
