#include "daemon/feeds/source_support.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "common/file_io.h"

namespace gridshift {
namespace wire {

namespace {

std::string strip_slash(std::string url) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  return url;
}

}  // namespace

Error located(const Error& error, const std::string& feed, const std::string& location) {
  Error out = error;
  out.message = fmt::format("feed {} location {}: {}", feed, location, error.message);
  return out;
}

// Judges one HTTP exchange: the body of a 200, or an error recorded into `result` (429
// also sets retry_after so that the poller backs off as the server asks).
std::optional<std::string> body_or_error(const Result<HttpResponse>& response,
                                         const std::string& what, FetchResult& result) {
  if (!response) {
    Error e = response.error();
    e.message = fmt::format("{}: {}", what, e.message);
    result.errors.push_back(std::move(e));
    return std::nullopt;
  }
  if (response->status == 200) return response->body;
  if (response->status == 429) {
    auto header = response->header("retry-after");
    // A feed may ask for at most a day's pause: a longer one is capped rather than obeyed.
    std::optional<Seconds> after;
    if (auto asked = header ? parse_retry_after(*header, result.polled_at) : std::nullopt) {
      after = std::min(std::chrono::ceil<Seconds>(*asked), Seconds{86400});
    }
    result.retry_after =
        std::max(result.retry_after.value_or(Seconds{0}), after.value_or(Seconds{0}));
    result.errors.push_back(
        make_error("feed_rate_limited",
                   fmt::format("{}: HTTP 429 (rate limited{})", what,
                               after ? fmt::format(", retry after {}s", after->count()) : "")));
    return std::nullopt;
  }
  result.errors.push_back(
      make_error("feed_http_status", fmt::format("{}: HTTP {}", what, response->status)));
  return std::nullopt;
}

void append(std::vector<Reading>& to, std::vector<Reading> from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

// The feed's data file, with the error naming the config field that points at it.
Result<std::string> read_feed_file(const std::string& path, const std::string& field) {
  auto text = read_text_file(path);
  if (!text) {
    return make_error("feed_file", fmt::format("cannot read {}: {}", path, text.error().message),
                      {{field, "cannot read"}});
  }
  return text;
}

std::string secret_of(const FeedConfig& feed, std::string_view base,
                      const ResolvedSecrets& secrets) {
  auto source = feed.secrets.find(base);
  if (source == feed.secrets.end()) return "";
  auto it = secrets.find(source->second.key);
  return it == secrets.end() ? "" : it->second.reveal();
}

// One GET of a feed, with the feed's timeout, counted for the daily budget.
boost::asio::awaitable<Result<HttpResponse>> feed_get(HttpClient& http, const FeedConfig& feed,
                                                      std::string path_and_query, Headers headers,
                                                      FetchResult& result) {
  HttpRequest req;
  req.url = strip_slash(feed.base_url) + path_and_query;
  req.headers = std::move(headers);
  req.headers.emplace_back("accept", "application/json");
  req.timeout = feed.timeout;
  ++result.calls;
  co_return co_await http.request(std::move(req));
}

}  // namespace wire

std::optional<LatLon> parse_lat_lon(const std::string& location) {
  auto comma = location.find(',');
  if (comma == std::string::npos) return std::nullopt;
  LatLon out{location.substr(0, comma), location.substr(comma + 1)};
  auto numeric = [](const std::string& s) {
    double v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
  };
  if (!numeric(out.lat) || !numeric(out.lon)) return std::nullopt;
  return out;
}

}  // namespace gridshift
