#include "net/http_client.h"

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cctype>
#include <charconv>
#include <deque>

#include "core/encoding.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::as_tuple;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view text) {
  auto b = text.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  auto e = text.find_last_not_of(" \t");
  return std::string(text.substr(b, e - b + 1));
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Where a request went, for messages: never the query (it may carry identifiers) nor userinfo.
std::string describe(const Url& url) {
  auto path = url.target.substr(0, url.target.find('?'));
  return fmt::format("{}://{}{}", url.scheme, url.host_port(), path);
}

Error http_error(std::string_view code, const Url& url, const std::string& what) {
  return make_error(code, fmt::format("{}: {}", describe(url), what));
}

Error transfer_error(const Url& url, beast::error_code ec, const char* stage) {
  if (ec == beast::error::timeout)
    return http_error("http_timeout", url, fmt::format("{} timed out", stage));
  if (ec == http::error::body_limit || ec == http::error::header_limit) {
    return http_error("http_too_large", url, "response exceeds the size limit");
  }
  if (ec == http::error::partial_message || ec == http::error::end_of_stream ||
      ec == asio::error::eof || ec == asio::error::connection_reset) {
    return http_error("http_protocol", url,
                      fmt::format("connection closed during {} (truncated response)", stage));
  }
  return http_error("http_protocol", url, fmt::format("{} failed: {}", stage, ec.message()));
}

template <class Stream>
asio::awaitable<Result<HttpResponse>> exchange(Stream& stream, const HttpRequest& req,
                                               const Url& url, bool absolute_target,
                                               const HttpClientOptions& options) {
  http::request<http::string_body> msg;
  auto verb = http::string_to_verb(req.method);
  if (verb == http::verb::unknown) co_return http_error(errc::kHttpBadUrl, url, "unknown method");
  msg.method(verb);
  msg.target(absolute_target ? fmt::format("{}://{}{}", url.scheme, url.host_port(), url.target)
                             : url.target);
  msg.version(11);
  msg.set(http::field::host, url.host_port());
  msg.set(http::field::user_agent, options.user_agent);
  msg.set(http::field::connection, "close");
  for (const auto& [name, value] : req.headers)
    msg.set(name, value);
  msg.body() = req.body;
  if (!req.body.empty() || verb == http::verb::post || verb == http::verb::put ||
      verb == http::verb::patch) {
    msg.prepare_payload();
  }
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(req.timeout.value_or(options.read_timeout));
  auto [wec, written] = co_await http::async_write(stream, msg, as_tuple(use_awaitable));
  if (wec) co_return transfer_error(url, wec, "sending the request");

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.max_response_bytes);
  parser.header_limit(64 * 1024);
  if (verb == http::verb::head) parser.skip(true);
  auto [rec, read] = co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
  if (rec) co_return transfer_error(url, rec, "reading the response");
  lowest.expires_never();

  auto res = parser.release();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    out.headers[lower(field.name_string())] = std::string(field.value());
  }
  out.body = std::move(res.body());
  beast::error_code ignored;
  lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return out;
}

asio::awaitable<Status> connect(beast::tcp_stream& stream, const Url& hop,
                                std::chrono::milliseconds timeout) {
  tcp::resolver resolver(stream.get_executor());
  auto [rec, endpoints] =
      co_await resolver.async_resolve(hop.host, hop.port, as_tuple(use_awaitable));
  if (rec) {
    co_return http_error(errc::kHttpResolveFailed, hop,
                         fmt::format("cannot resolve: {}", rec.message()));
  }
  stream.expires_after(timeout);
  auto [cec, endpoint] = co_await stream.async_connect(endpoints, as_tuple(use_awaitable));
  if (cec == beast::error::timeout) co_return http_error("http_timeout", hop, "connect timed out");
  if (cec)
    co_return http_error(errc::kHttpConnectFailed, hop,
                         fmt::format("cannot connect: {}", cec.message()));
  stream.expires_never();
  co_return Status{};
}

asio::awaitable<Status> open_tunnel(beast::tcp_stream& stream, const Url& proxy, const Url& url,
                                    std::chrono::milliseconds timeout) {
  http::request<http::empty_body> msg{http::verb::connect, url.host_port(), 11};
  msg.set(http::field::host, url.host_port());
  if (!proxy.userinfo.empty()) {
    auto colon = proxy.userinfo.find(':');
    auto user = proxy.userinfo.substr(0, colon);
    auto pass = colon == std::string::npos ? std::string() : proxy.userinfo.substr(colon + 1);
    msg.set(http::field::proxy_authorization, basic_auth(user, pass));
  }
  stream.expires_after(timeout);
  auto [wec, written] = co_await http::async_write(stream, msg, as_tuple(use_awaitable));
  if (wec)
    co_return http_error(errc::kHttpProxyFailed, proxy,
                         fmt::format("CONNECT failed: {}", wec.message()));
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  parser.skip(true);  // a CONNECT reply has no body: the tunnel starts after the header
  auto [rec, read] =
      co_await http::async_read_header(stream, buffer, parser, as_tuple(use_awaitable));
  if (rec)
    co_return http_error(errc::kHttpProxyFailed, proxy,
                         fmt::format("CONNECT failed: {}", rec.message()));
  auto status = parser.get().result_int();
  if (status / 100 != 2) {
    co_return http_error(errc::kHttpProxyFailed, proxy,
                         fmt::format("proxy refused CONNECT with {}", status));
  }
  stream.expires_never();
  co_return Status{};
}

}  // namespace

std::string Url::host_port() const {
  auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + port;
}

Result<Url> parse_url(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return make_error(errc::kHttpBadUrl, fmt::format("invalid URL: {}", why),
                      {FieldError{"url", why}});
  };
  Url url;
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return fail("missing scheme");
  url.scheme = lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") return fail("scheme must be http or https");
  auto rest = text.substr(sep + 3);
  auto slash = rest.find_first_of("/?");
  auto authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (url.target.front() == '?') url.target = "/" + url.target;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    url.userinfo = std::string(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("unclosed IPv6 bracket");
    url.host = std::string(authority.substr(1, close - 1));
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("junk after IPv6 address");
      port = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return fail("missing host");
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) != 0;
        })) {
      return fail("bad port");
    }
    url.port = std::string(port);
  } else {
    url.port = url.is_https() ? "443" : "80";
  }
  return url;
}

std::string basic_auth(std::string_view user, std::string_view password) {
  return "Basic " + base64_encode(std::string(user) + ":" + std::string(password));
}

ProxySettings ProxySettings::from_env(
    const std::function<std::optional<std::string>(const std::string&)>& getenv) {
  auto first = [&](const char* a, const char* b) {
    if (auto v = getenv(a); v && !v->empty()) return *v;
    if (auto v = getenv(b); v && !v->empty()) return *v;
    return std::string();
  };
  ProxySettings out;
  out.https_proxy = first("HTTPS_PROXY", "https_proxy");
  out.http_proxy = first("HTTP_PROXY", "http_proxy");
  std::string list = first("NO_PROXY", "no_proxy");
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    auto item = lower(trim(std::string_view(list).substr(start, comma - start)));
    if (!item.empty() && item.front() == '.') item.erase(0, 1);
    if (auto colon = item.rfind(':'); colon != std::string::npos && item.find(':') == colon) {
      item.erase(colon);  // "host:port" entries: the port is not considered
    }
    if (!item.empty()) out.no_proxy.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string ProxySettings::proxy_for(const Url& url) const {
  const auto& proxy = url.is_https() ? https_proxy : http_proxy;
  if (proxy.empty() || is_loopback(url.host)) return "";
  auto host = lower(url.host);
  for (const auto& entry : no_proxy) {
    if (entry == "*" || host == entry ||
        (host.size() > entry.size() && host.ends_with(entry) &&
         host[host.size() - entry.size() - 1] == '.')) {
      return "";
    }
  }
  return proxy;
}

std::optional<std::string> HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

struct HttpClient::Slots {
  struct Host {
    std::size_t active = 0;
    std::deque<std::shared_ptr<asio::steady_timer>> waiters;
  };
  std::size_t limit = 1;
  std::map<std::string, Host> hosts;

  void release(const std::string& key) {
    auto it = hosts.find(key);
    if (it == hosts.end()) return;
    auto& host = it->second;
    if (!host.waiters.empty()) {
      auto next = std::move(host.waiters.front());
      host.waiters.pop_front();
      next->cancel();  // the waiter's turn: the slot passes to it, `active` is unchanged
      return;
    }
    if (host.active > 0) --host.active;
    if (host.active == 0) hosts.erase(it);
  }
};

class HttpClient::SlotGuard {
 public:
  SlotGuard(std::shared_ptr<Slots> slots, std::string key)
      : slots_(std::move(slots)), key_(std::move(key)) {}
  ~SlotGuard() { slots_->release(key_); }
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;

 private:
  std::shared_ptr<Slots> slots_;
  std::string key_;
};

HttpClient::HttpClient(asio::any_io_executor executor, HttpClientOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      tls_(asio::ssl::context::tls_client),
      slots_(std::make_shared<Slots>()) {
  tls_.set_default_verify_paths();
  if (!options_.ca_file.empty()) tls_.load_verify_file(options_.ca_file);
  tls_.set_verify_mode(asio::ssl::verify_peer);
  SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
  slots_->limit = std::max<std::size_t>(1, options_.max_connections_per_host);
}

HttpClient::~HttpClient() = default;

std::size_t HttpClient::active(const std::string& host_port) const {
  auto it = slots_->hosts.find(host_port);
  return it == slots_->hosts.end() ? 0 : it->second.active + it->second.waiters.size();
}

asio::awaitable<void> HttpClient::acquire(std::string key) {
  auto& host = slots_->hosts[key];
  if (host.active < slots_->limit) {
    ++host.active;
    co_return;
  }
  auto timer =
      std::make_shared<asio::steady_timer>(executor_, asio::steady_timer::time_point::max());
  host.waiters.push_back(timer);
  co_await timer->async_wait(as_tuple(use_awaitable));
}

asio::awaitable<Result<HttpResponse>> HttpClient::request(HttpRequest req) {
  auto url = parse_url(req.url);
  if (!url) co_return url.error();
  const auto key = url->host_port();
  co_await acquire(key);
  SlotGuard guard(slots_, key);

  std::optional<Url> proxy;
  if (auto text = options_.proxy.proxy_for(*url); !text.empty()) {
    auto parsed = parse_url(text);
    if (!parsed) co_return make_error(errc::kHttpProxyFailed, "the proxy URL is invalid");
    proxy = *parsed;
  }
  beast::tcp_stream stream(executor_);
  auto connected = co_await connect(stream, proxy ? *proxy : *url, options_.connect_timeout);
  if (!connected) co_return connected.error();

  if (!url->is_https()) {
    co_return co_await exchange(stream, req, *url, proxy.has_value(), options_);
  }
  if (proxy) {
    auto tunnel = co_await open_tunnel(stream, *proxy, *url, options_.connect_timeout);
    if (!tunnel) co_return tunnel.error();
  }
  beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), tls_);
  beast::error_code ec;
  asio::ip::make_address(url->host, ec);
  if (ec) {
    // SNI only for names, never for IP literals (RFC 6066).
    SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(url->host.c_str()));
  }
  tls.set_verify_callback(asio::ssl::host_name_verification(url->host));
  beast::get_lowest_layer(tls).expires_after(options_.tls_timeout);
  auto [hec] =
      co_await tls.async_handshake(asio::ssl::stream_base::client, as_tuple(use_awaitable));
  if (hec == beast::error::timeout)
    co_return http_error("http_timeout", *url, "TLS handshake timed out");
  if (hec) {
    co_return http_error(errc::kHttpTlsFailed, *url,
                         fmt::format("TLS handshake failed: {}", hec.message()));
  }
  co_return co_await exchange(tls, req, *url, false, options_);
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view header, TimePoint now) {
  while (!header.empty() && header.front() == ' ')
    header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ')
    header.remove_suffix(1);
  if (header.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(header.front()))) {
    std::int64_t seconds = 0;
    auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
    if (ec != std::errc{} || end != header.data() + header.size()) return std::nullopt;
    if (seconds > 10LL * 365 * 86400) return std::nullopt;
    return std::chrono::milliseconds(seconds * 1000);
  }
  // IMF-fixdate: "Wed, 21 Oct 2026 07:28:00 GMT" -> RFC 3339 for the shared parser.
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (header.size() != 29 || header[3] != ',' || header.substr(25) != " GMT") return std::nullopt;
  const auto month = std::find(kMonths.begin(), kMonths.end(), header.substr(8, 3));
  if (month == kMonths.end()) return std::nullopt;
  const auto text = fmt::format("{}-{:02}-{}T{}Z", header.substr(12, 4),
                                std::distance(kMonths.begin(), month) + 1, header.substr(5, 2),
                                header.substr(17, 8));
  auto at = parse_rfc3339(text);
  if (!at) return std::nullopt;
  return std::chrono::milliseconds(std::max(Seconds(0), *at - now));
}

}  // namespace gridshift
