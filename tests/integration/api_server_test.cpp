// ApiServer driven in-process (its io_context on a thread of the test) so that its limits can
// be set small: a slow client is disconnected after the read timeout, connections beyond the
// cap get 503 "busy", and the server keeps serving after both.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api_in_process.h"
#include "api_raw_client.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

// The server on a fresh temp dir.
class InProcessServer {
 public:
  explicit InProcessServer(ApiServerOptions options) : api_(dir_.path(), options) {}
  std::string socket() const { return api_.socket(); }

 private:
  TempDir dir_;
  InProcessApi api_;
};

TEST(ApiServer, DisconnectsASlowClientAfterTheReadTimeoutAndKeepsServing) {
  ApiServerOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  InProcessServer server(options);
  int error = 0;
  const int fd = connect_unix(server.socket(), error);
  ASSERT_GE(fd, 0) << std::strerror(error);
  const std::string partial = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Le";
  ASSERT_EQ(::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(partial.size()));
  // The client never finishes: the server closes the connection (recv sees EOF well before
  // the client's own 20 s receive timeout) and answers nothing.
  const auto started = std::chrono::steady_clock::now();
  char buffer[256];
  const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
  EXPECT_EQ(n, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(15));
  ::close(fd);
  EXPECT_EQ(call(server.socket(), "GET", "/v1/health").status, 200);
}

TEST(ApiServer, IdleKeepAliveConnectionsAreClosedToo) {
  ApiServerOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  InProcessServer server(options);
  int error = 0;
  const int fd = connect_unix(server.socket(), error);
  ASSERT_GE(fd, 0);
  const std::string request = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_GT(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), 0);
  auto reply = read_reply(fd);  // reads until the server closes the idle connection
  EXPECT_EQ(reply.status, 200);
  ::close(fd);
}

TEST(ApiServer, ConnectionsBeyondTheCapAreTurnedAwayWith503) {
  ApiServerOptions options;
  options.max_connections = 2;
  options.root_reserve = 0;  // the test may run as root, who otherwise has connections in reserve
  InProcessServer server(options);
  int error = 0;
  const int a = connect_unix(server.socket(), error);
  const int b = connect_unix(server.socket(), error);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  auto turned_away = call(server.socket(), "GET", "/v1/health");
  EXPECT_EQ(turned_away.status, 503);
  EXPECT_EQ(turned_away.error_code(), "busy");
  ::close(a);
  ::close(b);
  EXPECT_TRUE(wait_until([&] { return call(server.socket(), "GET", "/v1/health").status == 200; }));
}

TEST(ApiServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  InProcessServer server({});
  const std::string one = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string last = "GET /v1/jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  RawReply reply = raw_exchange(server.socket(), one + one + last);
  EXPECT_EQ(reply.status, 200);
  // Three answers on the one connection.
  const std::string all = reply.head + "\r\n\r\n" + reply.body;
  std::size_t count = 0;
  for (auto at = all.find("HTTP/1.1 200"); at != std::string::npos;
       at = all.find("HTTP/1.1 200", at + 1))
    ++count;
  EXPECT_EQ(count, 3u);
}

// Counts the HTTP answers in everything a connection received.
std::size_t answers_in(const RawReply& reply) {
  const std::string all = reply.head + "\r\n\r\n" + reply.body;
  std::size_t count = 0;
  for (auto at = all.find("HTTP/1.1 "); at != std::string::npos; at = all.find("HTTP/1.1 ", at + 1))
    ++count;
  return count;
}

TEST(ApiServer, TransferCodingsOtherThanChunkedAreRefusedAndTheConnectionCloses) {
  InProcessServer server({});
  const std::string body = "{\"name\": \"t\", \"duration\": \"1h\"}";
  const std::string chunked = fmt::format("{:x}\r\n{}\r\n0\r\n\r\n", body.size(), body);
  const std::string next = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const auto& [coding, status] : std::vector<std::pair<std::string, int>>{
           {"chunked, chunked", 400}, {"gzip, chunked", 501}}) {
    const std::string request =
        "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: "
        "application/json\r\nTransfer-Encoding: " +
        coding + "\r\n\r\n" + chunked;
    const RawReply reply = raw_exchange(server.socket(), request + next);
    EXPECT_EQ(reply.status, status) << coding << ": " << reply.head;
    // Nothing more is read from a connection framed ambiguously.
    EXPECT_EQ(answers_in(reply), 1u) << coding;
  }
  // Plain chunked framing is fine.
  const RawReply fine =
      raw_exchange(server.socket(),
                   "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                       chunked);
  EXPECT_EQ(fine.status, 201) << fine.head << fine.body;
}

TEST(ApiServer, AHeaderGivenTwiceIs400) {
  InProcessServer server({});
  const std::string body = "{\"name\": \"t\", \"duration\": \"1h\"}";
  const RawReply reply = raw_exchange(
      server.socket(),
      fmt::format("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Idempotency-Key: a\r\nIdempotency-Key: b\r\nContent-Length: {}\r\n"
                  "Connection: close\r\n\r\n{}",
                  body.size(), body));
  EXPECT_EQ(reply.status, 400) << reply.head;
  EXPECT_EQ(reply.error_code(), "bad_request");
  EXPECT_NE(reply.body.find("idempotency-key given twice"), std::string::npos) << reply.body;
}

TEST(ApiServer, RootIsExemptFromThePerUidConnectionLimit) {
  if (::geteuid() != 0) GTEST_SKIP() << "the exemption is root's: run as root";
  ApiServerOptions options;
  options.max_connections_per_uid = 1;
  InProcessServer server(options);
  int error = 0;
  const int a = connect_unix(server.socket(), error);
  const int b = connect_unix(server.socket(), error);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_EQ(call(server.socket(), "GET", "/v1/health").status, 200);
  ::close(a);
  ::close(b);
}

}  // namespace
}  // namespace gridshift::testing
