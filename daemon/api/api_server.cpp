#include "daemon/api/api_server.h"

#include <fmt/format.h>
#include <grp.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/logging.h"
#include "common/scrub.h"
#include "common/spawn.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = asio::local::stream_protocol;
using tcp = asio::ip::tcp;
template <typename Protocol>
using Stream = beast::basic_stream<Protocol, asio::any_io_executor, beast::unlimited_rate_policy>;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (plus_is_space && in[i] == '+') {
      out += ' ';
    } else {
      out += in[i];
    }
  }
  return is_valid_utf8(out) && out.find('\0') == std::string::npos;
}

Error system_error(std::string code, std::string_view what, const std::string& path, int err) {
  return make_error(std::move(code), fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

// ECONNREFUSED from a connect means a socket file nobody listens on: safe to replace.
Status check_existing_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return system_error("socket_unavailable", "cannot inspect", path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error("socket_unavailable",
                      fmt::format("{} exists and is not a socket: not replacing it", path));
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return system_error("socket_unavailable", "cannot probe", path, errno);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  const int err = errno;
  ::close(fd);
  if (rc == 0) {
    return make_error("socket_in_use",
                      fmt::format("another gridshiftd is already listening on {}; stop it first "
                                  "(systemctl stop gridshiftd) or configure another socket.path",
                                  path));
  }
  if (err == ECONNREFUSED) return {};
  return system_error("socket_unavailable", "cannot probe the existing socket", path, err);
}

}  // namespace

Result<gid_t> socket_group(const std::string& name) {
  if (name.empty()) return ::getegid();
  std::vector<char> buffer(16384);
  group entry{};
  group* found = nullptr;
  const int rc = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr) {
    return make_error(errc::kInvalidConfig, fmt::format("socket.group: no group named '{}'", name),
                      {{"socket.group", fmt::format("no group named '{}'", name)}});
  }
  return found->gr_gid;
}

namespace {

// Holds one connection's place in the counts for as long as the connection lives. Shared
// counts, because a connection's coroutine frame may be destroyed with the io_context after
// the server itself.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(std::shared_ptr<ConnectionCounts> counts) : counts_(std::move(counts)) {
    ++counts_->total;
  }
  ~ConnectionSlot() {
    --counts_->total;
    if (uid_) {
      auto it = counts_->by_uid.find(*uid_);
      if (it != counts_->by_uid.end() && --it->second == 0) counts_->by_uid.erase(it);
    }
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

  // Counts the connection for `uid`; false (counted nowhere but in the total) when the caller
  // is over its limit or the server is full for it.
  bool admit(std::uint32_t uid, const ApiServerOptions& options) {
    const bool root = uid == 0;
    const std::size_t total_limit = options.max_connections + (root ? options.root_reserve : 0);
    // The total includes this connection.
    if (counts_->total > total_limit) return false;
    auto& mine = counts_->by_uid[uid];
    if (!root && mine >= options.max_connections_per_uid) {
      if (mine == 0) counts_->by_uid.erase(uid);
      return false;
    }
    ++mine;
    uid_ = uid;
    return true;
  }

 private:
  std::shared_ptr<ConnectionCounts> counts_;
  std::optional<std::uint32_t> uid_;
};

http::response<http::string_body> to_http(const ApiResponse& response, unsigned version,
                                          bool keep_alive) {
  http::response<http::string_body> out{static_cast<http::status>(response.status), version};
  out.set(http::field::server, "gridshiftd");
  out.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers)
    out.set(name, value);
  out.body() = response.body;
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

ApiResponse limit_error(const beast::error_code& ec, const ApiServerOptions& options) {
  if (ec == http::error::body_limit) {
    return ApiResponse::error(413, "payload_too_large",
                              fmt::format("the request body exceeds {} bytes", options.body_limit));
  }
  if (ec == http::error::header_limit) {
    return ApiResponse::error(
        431, "headers_too_large",
        fmt::format("the request headers exceed {} bytes", options.header_limit));
  }
  return ApiResponse::error(400, "bad_request", "malformed HTTP request: " + ec.message());
}

using WriteResult = std::tuple<boost::system::error_code, std::size_t>;

template <typename Protocol>
asio::awaitable<WriteResult> send_response(Stream<Protocol>& stream, ApiResponse response,
                                           unsigned version, bool keep_alive,
                                           std::chrono::milliseconds timeout) {
  // Whatever an answer quotes (a feed's error message, a target's), no secret leaves.
  if (contains_secret(response.body)) response.body = scrub_secrets(response.body);
  auto message = to_http(response, version, keep_alive);
  stream.expires_after(timeout);
  co_return co_await http::async_write(stream, message, asio::as_tuple(asio::use_awaitable));
}

// Who is calling: the peer's credentials on the Unix socket; nobody in particular over TCP.
struct Caller {
  bool known = false;
  std::uint32_t uid = kAnonymousCaller;
  std::uint32_t gid = kAnonymousCaller;
};

Caller identify(local::socket& socket) {
  ucred peer{};
  socklen_t peer_size = sizeof(peer);
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0) {
    return {};
  }
  return {true, peer.uid, peer.gid};
}

Caller identify(tcp::socket&) {
  return {true, kAnonymousCaller, kAnonymousCaller};
}

// One connection: requests in sequence (keep-alive) until the client closes, times out or
// sends something malformed. Parameters by value: the coroutine outlives the accept loop's
// stack frame (the router and the count are owned by the server, which outlives its io_context
// work).
template <typename Protocol>
asio::awaitable<void> serve_connection(typename Protocol::socket socket, const ApiRouter& router,
                                       ApiServerOptions options,
                                       std::shared_ptr<ConnectionCounts> connections) {
  ConnectionSlot slot(std::move(connections));
  const Caller caller = identify(socket);
  Stream<Protocol> stream(std::move(socket));
  beast::flat_buffer buffer;

  const bool admitted = caller.known && slot.admit(caller.uid, options);
  if (!admitted) {
    auto response =
        caller.known
            ? ApiResponse::error(503, "busy",
                                 "too many connections (from this uid, or in all); close idle "
                                 "ones or retry shortly")
            : ApiResponse::error(403, "forbidden", "cannot identify the caller");
    co_await send_response(stream, std::move(response), 11, false, options.write_timeout);
    // Read what the client sends until it closes (briefly): closing with its request unread
    // would reset the connection, and the client would see a broken pipe instead of the 503.
    boost::system::error_code ignored;
    stream.socket().shutdown(Protocol::socket::shutdown_send, ignored);
    stream.expires_after(std::chrono::seconds(1));
    for (;;) {
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096),
                                                     asio::as_tuple(asio::use_awaitable));
      if (ec) break;
    }
    co_return;
  }

  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(options.header_limit);
    parser.body_limit(options.body_limit);
    stream.expires_after(options.read_timeout);
    auto [ec, bytes] =
        co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      // A closed or timed-out connection gets no answer; a malformed request gets its 4xx.
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::eof || ec == asio::error::connection_reset ||
          ec == asio::error::operation_aborted || (bytes == 0 && !parser.got_some())) {
        break;
      }
      co_await send_response(stream, limit_error(ec, options), 11, false, options.write_timeout);
      break;
    }
    auto& message = parser.get();
    const bool keep_alive = message.keep_alive();
    ApiRequest request;
    std::optional<ApiResponse> refused = to_api_request(message, caller.uid, caller.gid, request);
    ApiResponse response;
    bool close_after = !keep_alive;
    if (refused) {
      // A request refused before routing may have been framed in a way this server and the
      // client read differently: never read another one from this connection.
      response = std::move(*refused);
      close_after = true;
    } else {
      try {
        response = co_await router.dispatch_async(std::move(request));
      } catch (const std::exception& e) {
        subsystem_logger("api")->error("{} {}: handler failed: {}", message.method_string(),
                                       message.target(), e.what());
        response = ApiResponse::error(500, "internal", "internal error; see the daemon's log");
      }
    }
    auto [write_ec, written] = co_await send_response(
        stream, std::move(response), message.version(), !close_after, options.write_timeout);
    if (write_ec || close_after) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(Protocol::socket::shutdown_send, ignored);
}

// Accepts until the acceptor is closed; each connection gets its own coroutine. The acceptor
// and router belong to the server object, which outlives the loop (it closes the acceptor).
template <typename Protocol>
asio::awaitable<void> accept_connections(asio::io_context& io,
                                         typename Protocol::acceptor& acceptor,
                                         const ApiRouter& router, const ApiServerOptions& options,
                                         std::shared_ptr<ConnectionCounts> connections) {
  auto log = subsystem_logger("api");
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and the like: keep serving the connections we have.
      log->warn("accept failed: {}", ec.message());
      asio::steady_timer pause(io, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    spawn(io, serve_connection<Protocol>(std::move(socket), router, options, connections), "api",
          "connection", OnFailure::log);
  }
}

}  // namespace

std::optional<ApiResponse> to_api_request(http::request<http::string_body>& message,
                                          std::uint32_t uid, std::uint32_t gid, ApiRequest& out) {
  out.method = std::string(message.method_string());
  out.uid = uid;
  out.gid = gid;
  if (!parse_target(message.target(), out.path, out.query)) {
    return ApiResponse::error(400, "bad_request", "malformed request target");
  }
  if (!is_valid_utf8(message.body())) {
    return ApiResponse::error(400, "invalid_utf8", "the request body is not valid UTF-8");
  }
  for (const auto& field : message) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto [it, inserted] = out.headers.emplace(name, std::string(field.value()));
    if (!inserted) {
      // Two values for a field that takes one: which one counts would be a guess.
      return ApiResponse::error(400, "bad_request", fmt::format("header {} given twice", name),
                                {{std::string(field.name_string()), "give it once"}});
    }
  }
  if (auto te = out.headers.find("transfer-encoding"); te != out.headers.end()) {
    std::string codings = te->second;
    std::transform(codings.begin(), codings.end(), codings.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::erase_if(codings, [](char c) { return c == ' ' || c == '\t'; });
    // Only plain chunked framing: "chunked, chunked" frames the body ambiguously and a
    // compressed body would reach the router undecoded.
    if (codings != "chunked") {
      bool compressed = false;  // a coding other than chunked (gzip, deflate, ...)
      for (std::string_view rest = codings; !rest.empty();) {
        const auto comma = rest.find(',');
        if (rest.substr(0, comma) != "chunked" && !rest.substr(0, comma).empty()) compressed = true;
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
      return ApiResponse::error(
          compressed ? 501 : 400, compressed ? "not_implemented" : "bad_request",
          fmt::format("unsupported Transfer-Encoding '{}': only 'chunked' is accepted", te->second),
          {{"Transfer-Encoding", "send the body plain or with chunked framing alone"}});
    }
  }
  out.body = std::move(message.body());
  return std::nullopt;
}

bool parse_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query) {
  if (target.empty() || target[0] != '/') return false;
  const auto mark = target.find('?');
  if (!percent_decode(target.substr(0, mark), false, path)) return false;
  if (mark == std::string_view::npos) return true;
  std::string_view rest = target.substr(mark + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    std::string name;
    std::string value;
    if (!percent_decode(part.substr(0, eq), true, name)) return false;
    if (eq != std::string_view::npos && !percent_decode(part.substr(eq + 1), true, value)) {
      return false;
    }
    query[name] = value;
  }
  return true;
}

ApiServer::ApiServer(asio::io_context& io, const ApiRouter& router, ApiServerOptions options)
    : io_(io), router_(router), options_(options), acceptor_(io) {}

ApiServer::~ApiServer() {
  stop();
  struct stat st {};
  if (socket_inode_ && ::lstat(path_.c_str(), &st) == 0 && st.st_ino == *socket_inode_) {
    ::unlink(path_.c_str());
  }
}

Status ApiServer::listen(const SocketConfig& socket) {
  namespace fs = std::filesystem;
  path_ = socket.path;
  const fs::path final_path(socket.path);
  auto gid = socket_group(socket.group);
  if (!gid) return gid.error();

  std::error_code ec;
  fs::path parent = final_path.parent_path();
  if (parent.empty()) parent = ".";
  fs::create_directories(parent, ec);
  if (ec) return system_error("socket_unavailable", "cannot create", parent.string(), ec.value());

  // The socket is bound inside a fresh 0700 directory next to its final place, given its
  // mode and group there, and only then renamed into place: at no moment is it more open.
  std::string private_dir = (parent / ".gridshift-socket-XXXXXX").string();
  const std::string staged = private_dir + "/s";
  if (final_path.string().size() >= sizeof(sockaddr_un::sun_path) ||
      staged.size() >= sizeof(sockaddr_un::sun_path)) {
    return make_error("socket_unavailable",
                      fmt::format("socket path {} is too long (at most {} characters, including "
                                  "a private staging directory)",
                                  socket.path, sizeof(sockaddr_un::sun_path) - 26));
  }
  if (auto existing = check_existing_socket(socket.path); !existing) return existing;
  if (::mkdtemp(private_dir.data()) == nullptr) {
    return system_error("socket_unavailable", "cannot create a directory in", parent.string(),
                        errno);
  }
  const std::string staged_path = private_dir + "/s";
  struct Cleanup {
    std::string dir, file;
    ~Cleanup() {
      ::unlink(file.c_str());
      ::rmdir(dir.c_str());
    }
  } cleanup{private_dir, staged_path};

  boost::system::error_code bec;
  acceptor_.open(local(), bec);
  if (!bec) acceptor_.bind(local::endpoint(staged_path), bec);
  if (bec) {
    return make_error("socket_unavailable",
                      fmt::format("cannot bind {}: {}", socket.path, bec.message()));
  }
  if (::chown(staged_path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
    return make_error("socket_unavailable",
                      fmt::format("cannot give socket {} to group '{}': {}", socket.path,
                                  socket.group, std::strerror(errno)));
  }
  if (::chmod(staged_path.c_str(), static_cast<mode_t>(socket.mode)) != 0) {
    return system_error("socket_unavailable", "cannot set the mode of", socket.path, errno);
  }
  acceptor_.listen(asio::socket_base::max_listen_connections, bec);
  if (bec) {
    return make_error("socket_unavailable",
                      fmt::format("cannot listen on {}: {}", socket.path, bec.message()));
  }
  if (::rename(staged_path.c_str(), socket.path.c_str()) != 0) {
    return system_error("socket_unavailable", "cannot move the socket into place at", socket.path,
                        errno);
  }
  struct stat st {};
  if (::lstat(socket.path.c_str(), &st) == 0) socket_inode_ = st.st_ino;
  if (!socket_) {
    socket_ = socket;
    watch_socket_file();
  }
  return {};
}

void ApiServer::watch_socket_file() {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    subsystem_logger("api")->warn("cannot watch {} for deletion (inotify: {})", path_,
                                  std::strerror(errno));
    return;
  }
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (dir.empty()) dir = ".";
  if (::inotify_add_watch(fd, dir.c_str(), IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO) < 0) {
    subsystem_logger("api")->warn("cannot watch {} for deletion (inotify on {}: {})", path_, dir,
                                  std::strerror(errno));
    ::close(fd);
    return;
  }
  socket_watch_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
  arm_socket_watch();
}

void ApiServer::arm_socket_watch() {
  socket_watch_->async_wait(
      asio::posix::stream_descriptor::wait_read,
      [this, token = std::weak_ptr<int>(alive_token_)](const boost::system::error_code& error) {
        if (token.expired() || error) return;
        on_socket_dir_changed();
      });
}

void ApiServer::on_socket_dir_changed() {
  // The events themselves do not matter (names may be truncated in a full buffer): drain them,
  // then look at the path.
  alignas(inotify_event) char buffer[4096];
  while (::read(socket_watch_->native_handle(), buffer, sizeof(buffer)) > 0) {
  }
  struct stat st {};
  const bool ours =
      ::lstat(path_.c_str(), &st) == 0 && socket_inode_ && st.st_ino == *socket_inode_;
  if (!ours && accepting_) {
    auto log = subsystem_logger("api");
    log->warn("socket file {} was deleted or replaced: binding it anew", path_);
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    socket_inode_.reset();
    if (auto bound = listen(*socket_); !bound) {
      log->error("cannot bind the socket {} anew: {}; the API is unreachable until a restart",
                 path_, bound.error().message);
    } else {
      ++recreations_;
      start();
      log->info("socket {} serving again", path_);
    }
  }
  arm_socket_watch();
}

Status ApiServer::adopt(int fd, std::string path) {
  path_ = std::move(path);
  boost::system::error_code ec;
  acceptor_.assign(local(), fd, ec);
  if (ec) {
    return make_error(
        "socket_unavailable",
        fmt::format("cannot serve the activated socket (fd {}): {}", fd, ec.message()));
  }
  return {};
}

void ApiServer::start() {
  accepting_ = true;
  spawn(io_, accept_connections<local>(io_, acceptor_, router_, options_, connections_), "api",
        "accepting connections", OnFailure::log);
}

void ApiServer::stop() {
  accepting_ = false;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

}  // namespace gridshift

namespace gridshift {

TcpApiServer::TcpApiServer(asio::io_context& io, const ApiRouter& router, ApiServerOptions options)
    : io_(io), router_(router), options_(options), acceptor_(io) {}

TcpApiServer::~TcpApiServer() {
  stop();
}

Status TcpApiServer::listen(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return make_error(errc::kInvalidConfig, fmt::format("'{}' is not host:port", host_port));
  }
  std::string host = host_port.substr(0, colon);
  const std::string port = host_port.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  const auto endpoints = resolver.resolve(host, port, tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return make_error("socket_unavailable",
                      fmt::format("cannot resolve {}: {}", host_port,
                                  ec ? ec.message() : std::string("no address")));
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return make_error("socket_unavailable",
                      fmt::format("cannot listen on {}: {}", host_port, ec.message()));
  }
  return {};
}

void TcpApiServer::start() {
  spawn(io_, accept_connections<tcp>(io_, acceptor_, router_, options_, connections_), "metrics",
        "accepting connections", OnFailure::log);
}

void TcpApiServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

std::string TcpApiServer::address() const {
  boost::system::error_code ec;
  const auto endpoint = acceptor_.local_endpoint(ec);
  if (ec) return "";
  const auto ip = endpoint.address();
  if (ip.is_v6()) return fmt::format("[{}]:{}", ip.to_string(), endpoint.port());
  return fmt::format("{}:{}", ip.to_string(), endpoint.port());
}

}  // namespace gridshift
