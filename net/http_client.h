// An asynchronous HTTP/1.1 client for the feeds and Vertex AI adapters: one request per
// connection (Connection: close), TLS through OpenSSL with the system CA store, hostname
// verification and SNI, plain http allowed, connect/TLS/read timeouts, a response size limit,
// HTTPS_PROXY/HTTP_PROXY/NO_PROXY (CONNECT tunnel for https) and bounded concurrency per host.
// Lives on one io_context thread (no locks); must outlive the requests it runs.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/encoding.h"  // percent_encode for the adapters building URLs
#include "core/result.h"
#include "core/time.h"

namespace gridshift {

struct Url {
  std::string scheme;  // "http" | "https"
  std::string host;    // without brackets for IPv6 literals
  std::string port;    // explicit or the scheme's default
  std::string target;  // path and query, at least "/"
  std::string userinfo;

  bool is_https() const { return scheme == "https"; }
  std::string host_port() const;  // "host:port", IPv6 bracketed
};

// Error "http_bad_url" naming field "url".
Result<Url> parse_url(std::string_view text);

// "Basic base64(user:password)" for an Authorization header.
std::string basic_auth(std::string_view user, std::string_view password);

struct ProxySettings {
  std::string http_proxy;             // URL, empty = direct
  std::string https_proxy;            // URL, empty = direct
  std::vector<std::string> no_proxy;  // host suffixes; "*" = everything direct

  // Reads HTTPS_PROXY/https_proxy, HTTP_PROXY/http_proxy and NO_PROXY/no_proxy.
  static ProxySettings from_env(
      const std::function<std::optional<std::string>(const std::string&)>& getenv);
  // The proxy URL to use for `url`, or empty for a direct connection.
  std::string proxy_for(const Url& url) const;
};

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds tls_timeout{10000};
  std::chrono::milliseconds read_timeout{30000};  // default per request; see HttpRequest
  std::size_t max_response_bytes = 8 * 1024 * 1024;
  std::size_t max_connections_per_host = 4;
  ProxySettings proxy;
  std::string ca_file;  // extra trust anchors (tests); the system store is always loaded
  std::string user_agent = "gridshift";
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<std::chrono::milliseconds> timeout;  // write + read; default read_timeout
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::optional<std::string> header(const std::string& lower_name) const;
};

// Error codes of HttpClient::request: "http_bad_url", "http_resolve_failed",
// "http_connect_failed", "http_timeout", "http_tls_failed", "http_proxy_failed",
// "http_too_large", "http_protocol" (malformed or truncated response).
class HttpClient {
 public:
  HttpClient(boost::asio::any_io_executor executor, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any status code is a successful exchange; callers judge 4xx/5xx.
  boost::asio::awaitable<Result<HttpResponse>> request(HttpRequest request);

  const HttpClientOptions& options() const { return options_; }
  // Requests waiting for a per-host slot plus those running (for tests and metrics).
  std::size_t active(const std::string& host_port) const;

 private:
  struct Slots;
  class SlotGuard;
  // Waits for one of the host's max_connections_per_host slots; the guard hands it on.
  boost::asio::awaitable<void> acquire(std::string key);

  boost::asio::any_io_executor executor_;
  HttpClientOptions options_;
  boost::asio::ssl::context tls_;
  // Shared with the requests in flight: coroutine frames the io_context destroys after the
  // client (at shutdown) still release their slot safely.
  std::shared_ptr<Slots> slots_;
};

// Retry-After as delta-seconds or an IMF-fixdate ("Wed, 21 Oct 2026 07:28:00 GMT"); a date in
// the past is zero. nullopt when malformed or more than ten years away.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view header, TimePoint now);

}  // namespace gridshift
