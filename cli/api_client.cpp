#include "cli/api_client.h"

#include <fmt/format.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>

namespace gridshift {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using local = asio::local::stream_protocol;

std::string group_name(gid_t gid) {
  if (const group* g = ::getgrgid(gid)) return g->gr_name;
  return std::to_string(gid);
}

std::string unreachable_message(const std::string& path, const std::string& why) {
  std::string hint;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    hint = fmt::format(
        "  - no socket at {}: is gridshiftd running? Try `systemctl status "
        "gridshiftd`, or pass --socket / set $GRIDSHIFT_SOCKET to its socket.path",
        path);
  } else if (why.find("ermission") != std::string::npos) {
    hint = fmt::format(
        "  - {} belongs to group '{}': add yourself to it (`sudo usermod -aG {} "
        "$USER`, then log in again)",
        path, group_name(st.st_gid), group_name(st.st_gid));
  } else {
    hint = fmt::format(
        "  - the socket exists but nothing answers: check `systemctl status "
        "gridshiftd` and `journalctl -u gridshiftd`");
  }
  return fmt::format("cannot reach gridshiftd at {}: {}\n{}", path, why, hint);
}

}  // namespace

std::string resolve_socket_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("GRIDSHIFT_SOCKET"); env != nullptr && *env != '\0') {
    return env;
  }
  return kDefaultSocketPath;
}

Result<HttpReply> socket_request(const std::string& socket_path, const std::string& method,
                                 const std::string& target, const std::string& body,
                                 const std::map<std::string, std::string>& headers,
                                 std::chrono::seconds timeout) {
  asio::io_context io;
  local::socket socket(io);
  boost::system::error_code ec;
  socket.connect(local::endpoint(socket_path), ec);
  if (ec) return make_error("daemon_unreachable", unreachable_message(socket_path, ec.message()));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count());
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, "gridshift");
  request.set(http::field::user_agent, "gridshift-cli");
  for (const auto& [name, value] : headers)
    request.set(name, value);
  if (!body.empty() || method == "POST") {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
  }
  request.keep_alive(false);
  request.prepare_payload();
  http::write(socket, request, ec);
  if (ec) return make_error("daemon_unreachable", unreachable_message(socket_path, ec.message()));

  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 * 1024 * 1024);
  http::read(socket, buffer, parser, ec);
  if (ec) {
    return make_error("bad_response", fmt::format("gridshiftd at {} did not answer properly: {}",
                                                  socket_path, ec.message()));
  }
  HttpReply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  reply.content_type = std::string(parser.get()[http::field::content_type]);
  reply.body = std::move(parser.get().body());
  return reply;
}

}  // namespace gridshift
