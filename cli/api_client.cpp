#include "cli/api_client.h"

#include <fmt/format.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

// The request's write then the answer's read, chained on the io_context.
struct Exchange {
  local::socket& socket;
  http::request<http::string_body>& request;
  boost::beast::flat_buffer& buffer;
  http::response_parser<http::string_body>& parser;
  bool written = false;
  bool done = false;
  boost::system::error_code error;

  void on_written(boost::system::error_code e) {
    if (e) {
      finish(e);
      return;
    }
    written = true;
    http::async_read(socket, buffer, parser,
                     [this](boost::system::error_code r, std::size_t) { finish(r); });
  }
  void finish(boost::system::error_code e) {
    error = e;
    done = true;
  }
};

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

  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 * 1024 * 1024);
  Exchange exchange{socket, request, buffer, parser, false, false, {}};
  http::async_write(socket, request, [&exchange](boost::system::error_code e, std::size_t) {
    exchange.on_written(e);
  });
  io.run_for(timeout);
  if (!exchange.done) {
    return make_error("daemon_timeout",
                      fmt::format("gridshiftd at {} did not answer within {} s: it may be "
                                  "overloaded or stuck; check `journalctl -u gridshiftd`",
                                  socket_path, timeout.count()));
  }
  if (exchange.error) {
    const bool sending = !exchange.written;
    if (sending) {
      return make_error("daemon_unreachable",
                        unreachable_message(socket_path, exchange.error.message()));
    }
    return make_error("bad_response", fmt::format("gridshiftd at {} did not answer properly: {}",
                                                  socket_path, exchange.error.message()));
  }
  HttpReply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  reply.content_type = std::string(parser.get()[http::field::content_type]);
  reply.body = std::move(parser.get().body());
  return reply;
}

}  // namespace gridshift
