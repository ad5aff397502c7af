// The async HTTP client against the fake feed server on 127.0.0.1: URL parsing, Basic auth,
// proxy selection (HTTPS_PROXY/HTTP_PROXY/NO_PROXY, CONNECT for https), response size limit,
// timeouts, truncated and closed responses, TLS failure and per-host concurrency.
#include "net/http_client.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>

#include "fakes/feed_test_env.h"

namespace gridshift::testing {
namespace {

namespace asio = boost::asio;

TEST(HttpClientTest, ParsesUrls) {
  auto u = parse_url("https://api.example.org/v3/x?zone=FR");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "api.example.org");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->target, "/v3/x?zone=FR");
  auto v6 = parse_url("http://user:pw@[::1]:8080");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "8080");
  EXPECT_EQ(v6->target, "/");
  EXPECT_EQ(v6->userinfo, "user:pw");
  EXPECT_EQ(v6->host_port(), "[::1]:8080");
  for (const char* bad : {"ftp://x", "no-scheme", "http://", "http://h:99999999", "http://[::1"}) {
    auto r = parse_url(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "http_bad_url");
    EXPECT_EQ(r.error().details[0].field, "url");
  }
}

TEST(HttpClientTest, BasicAuthAndUrlEncoding) {
  EXPECT_EQ(basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");  // RFC 7617
  EXPECT_EQ(basic_auth("a", ""), "Basic YTo=");
  EXPECT_EQ(percent_encode("2026-11-26T18:00:00+00:00"), "2026-11-26T18%3A00%3A00%2B00%3A00");
}

TEST(HttpClientTest, ProxySelectionHonoursNoProxy) {
  const std::map<std::string, std::string> env = {
      {"HTTPS_PROXY", "http://proxy:3128"},
      {"http_proxy", "http://plain:80"},
      {"NO_PROXY", " .internal.example, exact.org:443"}};
  auto proxy = ProxySettings::from_env([&](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
  EXPECT_EQ(proxy.proxy_for(*parse_url("https://api.watttime.org/login")), "http://proxy:3128");
  EXPECT_EQ(proxy.proxy_for(*parse_url("http://api.watttime.org/login")), "http://plain:80");
  EXPECT_EQ(proxy.proxy_for(*parse_url("https://a.internal.example/x")), "");
  EXPECT_EQ(proxy.proxy_for(*parse_url("https://internal.example/x")), "");
  EXPECT_EQ(proxy.proxy_for(*parse_url("https://exact.org/x")), "");
  EXPECT_EQ(proxy.proxy_for(*parse_url("https://notexact.org/x")), "http://proxy:3128");
  EXPECT_EQ(proxy.proxy_for(*parse_url("http://127.0.0.1:9/x")), "");  // loopback: direct
}

class HttpClientFakeTest : public ::testing::Test {
 protected:
  Result<HttpResponse> get(const std::string& path, HttpClientOptions options = {},
                           std::optional<std::string> url = {}) {
    HttpClient client(io.get_executor(), std::move(options));
    HttpRequest req;
    req.url = url.value_or(fake.base_url() + path);
    req.headers = {{"auth-token", "emaps-token"}};
    return run_on(io, client.request(std::move(req)));
  }

  FakeFeedServer fake;
  asio::io_context io;
};

TEST_F(HttpClientFakeTest, GetsAResponseWithHeadersAndBody) {
  FakeZone z;
  z.intensity = 42;
  fake.set_emaps_zone("DE", z);
  auto r = get("/v4/carbon-intensity/latest?zone=DE&shouldUseFallbackCallerLookup=false");
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_NE(r->body.find("\"carbonIntensity\":42"), std::string::npos);
  EXPECT_EQ(fake.last_headers("/v4/carbon-intensity/latest").at("user-agent"), "gridshift");
}

TEST_F(HttpClientFakeTest, NonSuccessStatusIsAResponseNotAnError) {
  FakeFault f;
  f.status = 503;
  f.retry_after = 30;
  fake.inject("/x", f);
  auto r = get("/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("retry-after"), "30");
}

TEST_F(HttpClientFakeTest, ResponseSizeIsLimited) {
  FakeFault f;
  f.body = std::string(64 * 1024, 'x');
  fake.inject("/big", f);
  HttpClientOptions options;
  options.max_response_bytes = 16 * 1024;
  auto r = get("/big", options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "http_too_large");
}

TEST_F(HttpClientFakeTest, SlowServerTimesOut) {
  FakeFault f;
  f.delay = std::chrono::milliseconds(800);
  fake.inject("/slow", f);
  HttpClientOptions options;
  options.read_timeout = std::chrono::milliseconds(150);
  auto r = get("/slow", options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "http_timeout");
}

TEST_F(HttpClientFakeTest, TruncatedAndClosedResponsesAreProtocolErrors) {
  FakeFault truncated;
  truncated.truncate = true;
  truncated.body = std::string(200, 'y');
  fake.inject("/truncated", truncated);
  auto t = get("/truncated");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, "http_protocol");
  EXPECT_NE(t.error().message.find("truncated"), std::string::npos);
  FakeFault closed;
  closed.close = true;
  fake.inject("/closed", closed);
  auto c = get("/closed");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, "http_protocol");
}

TEST_F(HttpClientFakeTest, TlsToAPlainServerFailsTheHandshake) {
  auto r = get("", {}, "https://127.0.0.1:" + std::to_string(fake.port()) + "/x?secret=1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "http_tls_failed");
  EXPECT_EQ(r.error().message.find("secret"), std::string::npos);  // no query in messages
}

TEST_F(HttpClientFakeTest, ConnectionRefusedIsAConnectError) {
  std::string url;
  {
    FakeFeedServer gone;
    url = gone.base_url() + "/x";
  }
  auto r = get("", {}, url);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "http_connect_failed");
}

TEST_F(HttpClientFakeTest, PlainHttpGoesThroughTheProxyInAbsoluteForm) {
  HttpClientOptions options;
  options.proxy.http_proxy = fake.base_url();
  auto r = get("", options, "http://feeds.example.invalid/intensity/x");
  ASSERT_TRUE(r) << to_string(r.error());
  const auto targets = fake.targets();
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0], "http://feeds.example.invalid:80/intensity/x");
}

TEST_F(HttpClientFakeTest, HttpsGoesThroughAConnectTunnel) {
  HttpClientOptions options;
  options.proxy.https_proxy = "http://user:pw@127.0.0.1:" + std::to_string(fake.port());
  auto r = get("", options, "https://api.example.invalid/v3/x");
  // The fake is no proxy: it refuses CONNECT, which the client reports as a proxy failure.
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "http_proxy_failed");
  const auto targets = fake.targets();
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0], "api.example.invalid:443");
  EXPECT_EQ(fake.last_headers("api.example.invalid:443").at("proxy-authorization"),
            "Basic dXNlcjpwdw==");
}

asio::awaitable<int> many_requests(HttpClient& client, std::string url, int n) {
  auto executor = co_await asio::this_coro::executor;
  using Op = decltype(asio::co_spawn(executor, client.request(HttpRequest{}), asio::deferred));
  std::vector<Op> ops;
  for (int i = 0; i < n; ++i) {
    HttpRequest req;
    req.url = url;
    ops.push_back(asio::co_spawn(executor, client.request(std::move(req)), asio::deferred));
  }
  auto [order, errors, results] =
      co_await asio::experimental::make_parallel_group(std::move(ops))
          .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  int ok = 0;
  for (const auto& r : results)
    ok += r && r->status == 404 ? 1 : 0;
  co_return ok;
}

TEST_F(HttpClientFakeTest, ConcurrencyPerHostIsBounded) {
  FakeFault slow;
  slow.delay = std::chrono::milliseconds(40);
  slow.status = 404;
  fake.inject("/n", slow);
  HttpClientOptions options;
  options.max_connections_per_host = 2;
  HttpClient client(io.get_executor(), options);
  EXPECT_EQ(run_on(io, many_requests(client, fake.base_url() + "/n", 7)), 7);
  EXPECT_EQ(fake.max_concurrent(), 2);
  EXPECT_EQ(client.active("127.0.0.1:" + std::to_string(fake.port())), 0u);
}

}  // namespace
}  // namespace gridshift::testing
