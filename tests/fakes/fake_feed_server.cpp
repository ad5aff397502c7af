#include "fakes/fake_feed_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

namespace gridshift::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using nlohmann::json;

struct FakeFeedServer::State {
  mutable std::mutex mutex;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::uint16_t port = 0;

  TimePoint now = TimePoint{std::chrono::hours(24 * 20000)};
  std::string emaps_token = "emaps-token";
  std::map<std::string, FakeZone> zones;
  std::string wt_user = "wt-user";
  std::string wt_pass = "wt-pass";
  std::map<std::string, double> wt_regions;
  std::map<std::string, std::string> wt_locations;  // "lat,lon" -> region
  std::set<std::string> wt_tokens;
  int wt_logins = 0;
  std::optional<double> uk_national;
  std::map<int, double> uk_regions;
  std::map<std::string, int> uk_postcodes;
  std::vector<std::pair<std::string, FakeFault>> faults;
  std::vector<std::string> targets;          // the most recent kMaxTargets, in order
  std::map<std::string, int> target_counts;  // every target seen, counted
  std::map<std::string, std::map<std::string, std::string>> headers_by_path;
  int active = 0;
  int max_active = 0;
};

namespace {

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};
  bool truncate = false;
  bool close = false;
};

std::string decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (text[i] == '+') {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto item = query.substr(0, amp);
    auto eq = item.find('=');
    out[decode(item.substr(0, eq))] =
        eq == std::string_view::npos ? "" : decode(item.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    out.push_back(decode(path.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

std::string iso_ms(TimePoint t) {  // Electricity Maps style
  auto s = format_rfc3339(t);
  return s.substr(0, 19) + ".000Z";
}
std::string iso_offset(TimePoint t) {  // WattTime style
  return format_rfc3339(t).substr(0, 19) + "+00:00";
}
std::string iso_minute(TimePoint t) {  // UK style
  return format_rfc3339(t).substr(0, 16) + "Z";
}

TimePoint floor_to(TimePoint t, Seconds step) {
  return TimePoint{t.time_since_epoch() - t.time_since_epoch() % step};
}

Reply json_reply(int status, const json& body) {
  Reply reply;
  reply.status = status;
  reply.body = body.dump();
  return reply;
}

Reply error_reply(int status, const std::string& message) {
  return json_reply(status, {{"error", message}, {"message", message}});
}

json optional_json(const std::optional<double>& v) {
  return v ? json(*v) : json();
}

// --- Electricity Maps --------------------------------------------------------------------
Reply emaps(FakeFeedServer::State& s, const std::vector<std::string>& path,
            const std::map<std::string, std::string>& query,
            const std::map<std::string, std::string>& headers) {
  auto token = headers.find("auth-token");
  if (token == headers.end() || token->second != s.emaps_token) {
    return error_reply(401, "Invalid auth-token");
  }
  auto fallback = query.find("shouldUseFallbackCallerLookup");
  if (fallback == query.end() || fallback->second != "false") {
    return error_reply(400, "test fake: caller-IP fallback must be disabled");
  }
  std::string key;
  if (auto z = query.find("zone"); z != query.end()) {
    key = z->second;
  } else if (query.count("lat") && query.count("lon")) {
    key = query.at("lat") + "," + query.at("lon");
  }
  auto zone_it = s.zones.find(key);
  if (zone_it == s.zones.end()) return error_reply(404, "Zone not found");
  const FakeZone& z = zone_it->second;
  const std::string zone = !z.answer_zone.empty()               ? z.answer_zone
                           : key.find(',') == std::string::npos ? key
                                                                : "XX";
  const TimePoint hour = floor_to(s.now, Seconds{3600});
  auto point = [&](TimePoint t, double v) {
    return json{{"zone", zone},
                {"carbonIntensity", v},
                {"datetime", iso_ms(t)},
                {"updatedAt", iso_ms(t + std::chrono::minutes(51))},
                {"createdAt", iso_ms(t - std::chrono::hours(72))},
                {"emissionFactorType",
                 query.count("emissionFactorType") ? query.at("emissionFactorType") : "lifecycle"},
                {"isEstimated", z.estimated},
                {"estimationMethod", z.estimated ? json("TIME_SLICER_AVERAGE") : json()}};
  };
  const std::string route = path.size() >= 3 ? path[1] + "/" + path[2] : "";
  if (route == "carbon-intensity/latest") {
    auto body = point(hour, z.intensity);
    body["temporalGranularity"] = "hourly";
    return json_reply(200, body);
  }
  if (route == "carbon-intensity/history") {
    json history = json::array();
    for (int i = 23; i >= 0; --i) {
      history.push_back(point(hour - std::chrono::hours(i), z.intensity + (i % 3)));
    }
    return json_reply(200, {{"zone", zone}, {"history", history}});
  }
  if (route == "carbon-intensity/forecast") {
    json forecast = json::array();
    for (int i = 1; i <= 24; ++i) {
      forecast.push_back({{"carbonIntensity", std::max(0.0, z.intensity - 2.0 * i)},
                          {"datetime", iso_ms(hour + std::chrono::hours(i))}});
    }
    return json_reply(200, {{"zone", zone},
                            {"forecast", forecast},
                            {"updatedAt", iso_ms(hour + std::chrono::minutes(33))}});
  }
  if (route == "power-breakdown/latest") {
    return json_reply(
        200, {{"zone", zone},
              {"datetime", iso_ms(hour)},
              {"updatedAt", iso_ms(hour + std::chrono::minutes(55))},
              {"createdAt", iso_ms(hour - std::chrono::hours(72))},
              {"powerConsumptionBreakdown", {{"nuclear", 41230}, {"wind", 7410}, {"gas", 2310}}},
              {"powerProductionBreakdown", {{"nuclear", 44810}, {"geothermal", nullptr}}},
              {"powerImportBreakdown", {{"BE", 0}}},
              {"powerExportBreakdown", {{"BE", 1800}}},
              {"fossilFreePercentage", optional_json(z.fossil_free_percent)},
              {"renewablePercentage", optional_json(z.renewable_percent)},
              {"powerConsumptionTotal", 66222},
              {"isEstimated", false},
              {"estimationMethod", nullptr}});
  }
  return error_reply(404, "Endpoint not available");
}

// --- WattTime --------------------------------------------------------------------------
std::string basic_of(const std::string& user, const std::string& pass);

json wt_meta(const std::string& region, TimePoint generated) {
  return {{"data_point_period_seconds", 300},   {"region", region},
          {"warnings", json::array()},          {"signal_type", "co2_moer"},
          {"model", {{"date", "2023-03-01"}}},  {"units", "lbs_co2_per_mwh"},
          {"generated_at_period_seconds", 300}, {"generated_at", iso_offset(generated)}};
}

Reply watttime(FakeFeedServer::State& s, const std::vector<std::string>& path,
               const std::map<std::string, std::string>& query,
               const std::map<std::string, std::string>& headers) {
  auto auth = headers.count("authorization") ? headers.at("authorization") : "";
  if (path.size() == 1 && path[0] == "login") {
    if (auth != basic_of(s.wt_user, s.wt_pass)) return error_reply(401, "bad credentials");
    ++s.wt_logins;
    auto token = fmt::format("tok-{}", s.wt_logins);
    s.wt_tokens.insert(token);
    return json_reply(200, {{"token", token}});
  }
  if (auth.rfind("Bearer ", 0) != 0 || !s.wt_tokens.count(auth.substr(7))) {
    return error_reply(401, "token expired");
  }
  const std::string route = path.size() >= 2 ? path[1] : "";
  if (route == "region-from-loc") {
    auto key = (query.count("latitude") ? query.at("latitude") : "") + "," +
               (query.count("longitude") ? query.at("longitude") : "");
    auto it = s.wt_locations.find(key);
    if (it == s.wt_locations.end()) return error_reply(400, "no region at that location");
    return json_reply(200, {{"region", it->second},
                            {"region_full_name", it->second + " full name"},
                            {"signal_type", "co2_moer"}});
  }
  auto region = query.count("region") ? query.at("region") : "";
  auto it = s.wt_regions.find(region);
  if (it == s.wt_regions.end()) return error_reply(403, "no access to region");
  const auto step = std::chrono::minutes(5);
  if (route == "historical") {
    auto start = parse_rfc3339(query.count("start") ? query.at("start") : "");
    auto end = parse_rfc3339(query.count("end") ? query.at("end") : "");
    if (!start || !end) return error_reply(400, "start and end need an offset");
    json data = json::array();
    for (auto t = floor_to(*start, step); t <= *end && t <= s.now; t += step) {
      data.push_back({{"point_time", iso_offset(t)}, {"value", it->second}});
    }
    json meta = wt_meta(region, s.now);
    meta.erase("generated_at");
    meta.erase("generated_at_period_seconds");
    return json_reply(200, {{"data", data}, {"meta", meta}});
  }
  if (route == "forecast") {
    int horizon = query.count("horizon_hours") ? std::stoi(query.at("horizon_hours")) : 24;
    const auto begin = floor_to(s.now, step);
    json data = json::array();
    for (int i = 0; i <= horizon * 12; ++i) {
      data.push_back(
          {{"point_time", iso_offset(begin + step * i)}, {"value", it->second - 0.1 * (i % 50)}});
    }
    return json_reply(200, {{"data", data}, {"meta", wt_meta(region, begin)}});
  }
  if (route == "signal-index") {
    json meta = wt_meta(region, s.now);
    meta["units"] = "percentile";
    return json_reply(
        200, {{"data",
               json::array({{{"point_time", iso_offset(floor_to(s.now, step))}, {"value", 38.0}}})},
              {"meta", meta}});
  }
  return error_reply(404, "not found");
}

// --- UK Carbon Intensity -------------------------------------------------------------------
json uk_slot(TimePoint from, double forecast, std::optional<double> actual, bool with_actual) {
  json intensity = {{"forecast", forecast}, {"index", forecast < 100 ? "low" : "moderate"}};
  if (with_actual) intensity["actual"] = optional_json(actual);
  return {{"from", iso_minute(from)},
          {"to", iso_minute(from + std::chrono::minutes(30))},
          {"intensity", intensity}};
}

Reply uk(FakeFeedServer::State& s, const std::vector<std::string>& path) {
  const auto half = std::chrono::minutes(30);
  auto bad_request = [] {
    return json_reply(400, {{"error", {{"code", "400 Bad Request"}, {"message", "Invalid date"}}}});
  };
  if (path.size() == 3 && path[0] == "intensity") {
    auto from = parse_rfc3339(path[1]);
    if (!from || !s.uk_national) return bad_request();
    const auto slot = floor_to(*from, half);
    const double v = *s.uk_national;
    json data = json::array();
    if (path[2] == "pt24h") {
      for (int i = 48; i >= 1; --i) {
        // The most recent slot has no actual yet, as on the real service.
        data.push_back(
            uk_slot(slot - half * i, v + 3, i == 1 ? std::optional<double>() : v + (i % 4), true));
      }
    } else if (path[2] == "fw48h") {
      for (int i = 0; i < 96; ++i) {
        data.push_back(uk_slot(slot + half * i, std::max(0.0, v - i), std::nullopt, true));
      }
    } else {
      return bad_request();
    }
    return json_reply(200, {{"data", data}});
  }
  // /regional/intensity/{from}/fw48h/regionid/{id} and .../postcode/{outcode}: a single object.
  if (path.size() == 6 && path[0] == "regional" && path[1] == "intensity" && path[3] == "fw48h") {
    auto from = parse_rfc3339(path[2]);
    if (!from) return bad_request();
    int id = 0;
    if (path[4] == "regionid") {
      id = std::atoi(path[5].c_str());
    } else if (path[4] == "postcode" && s.uk_postcodes.count(path[5])) {
      id = s.uk_postcodes.at(path[5]);
    } else {
      return json_reply(
          400, {{"error", {{"code", "400 Bad Request"}, {"message", "Invalid postcode"}}}});
    }
    auto it = s.uk_regions.find(id);
    if (it == s.uk_regions.end()) return bad_request();
    json data = json::array();
    const auto slot = floor_to(*from, half);
    for (int i = 0; i < 96; ++i) {
      json p = uk_slot(slot + half * i, std::max(0.0, it->second - i / 2.0), std::nullopt, false);
      p["generationmix"] =
          json::array({{{"fuel", "wind"}, {"perc", 50.9}}, {{"fuel", "gas"}, {"perc", 49.1}}});
      data.push_back(p);
    }
    json region = {
        {"regionid", id}, {"dnoregion", "Fake DNO"}, {"shortname", "Region"}, {"data", data}};
    if (path[4] == "postcode") region["postcode"] = path[5];
    return json_reply(200, {{"data", region}});
  }
  return bad_request();
}

std::string basic_of(const std::string& user, const std::string& pass) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string in = user + ":" + pass, out;
  int val = 0, bits = -6;
  for (char ch : in) {
    val = (val << 8) + static_cast<unsigned char>(ch);
    bits += 8;
    while (bits >= 0) {
      out += kAlphabet[(val >> bits) & 0x3F];
      bits -= 6;
    }
  }
  if (bits > -6) out += kAlphabet[((val << 8) >> (bits + 8)) & 0x3F];
  while (out.size() % 4)
    out += '=';
  return "Basic " + out;
}

Reply route(FakeFeedServer::State& s, const std::string& target,
            const std::map<std::string, std::string>& headers) {
  auto q = target.find('?');
  std::string path = target.substr(0, q);
  auto query = parse_query(q == std::string::npos ? "" : std::string_view(target).substr(q + 1));
  // Bounded, so that long benchmark runs do not grow the fake's memory.
  constexpr std::size_t kMaxTargets = 10000;
  if (s.targets.size() == kMaxTargets) s.targets.erase(s.targets.begin());
  s.targets.push_back(target);
  ++s.target_counts[target];
  s.headers_by_path[path] = headers;
  Reply reply;
  auto parts = split_path(path);
  if (!parts.empty() && parts[0] == "v3" && parts.size() >= 2 &&
      (parts[1] == "carbon-intensity" || parts[1] == "power-breakdown")) {
    reply = emaps(s, parts, query, headers);
  } else if (!parts.empty() && (parts[0] == "login" || parts[0] == "v3")) {
    reply = watttime(s, parts, query, headers);
  } else if (!parts.empty() && (parts[0] == "intensity" || parts[0] == "regional")) {
    reply = uk(s, parts);
  } else {
    reply = error_reply(404, "unknown path");
  }
  for (auto it = s.faults.begin(); it != s.faults.end(); ++it) {
    if (path.rfind(it->first, 0) != 0) continue;
    FakeFault& f = it->second;
    if (f.status != 0) {
      reply.status = f.status;
      if (!f.body) reply.body = R"({"error": "injected"})";
    }
    if (f.retry_after) reply.headers.emplace_back("Retry-After", std::to_string(*f.retry_after));
    if (f.body) {
      reply.body = *f.body;
      reply.content_type = f.content_type;
    }
    reply.delay = f.delay;
    reply.truncate = f.truncate;
    reply.close = f.close;
    if (f.times > 0 && --f.times == 0) s.faults.erase(it);
    break;
  }
  return reply;
}

// Coroutines hold a plain pointer: the State owns the io_context, whose destruction destroys
// their frames, so an owning pointer here would be a cycle.
asio::awaitable<void> serve(FakeFeedServer::State* s, tcp::socket socket) {
  {
    std::lock_guard lock(s->mutex);
    s->max_active = std::max(s->max_active, ++s->active);
  }
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    auto [rec, n] =
        co_await http::async_read(socket, buffer, req, asio::as_tuple(asio::use_awaitable));
    if (rec) break;
    std::map<std::string, std::string> headers;
    for (const auto& field : req) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      headers[name] = std::string(field.value());
    }
    Reply reply;
    {
      std::lock_guard lock(s->mutex);
      reply = route(*s, std::string(req.target()), headers);
    }
    if (reply.delay.count() > 0) {
      asio::steady_timer timer(socket.get_executor(), reply.delay);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (reply.close) break;
    if (reply.truncate) {
      auto raw = fmt::format("HTTP/1.1 {} OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n{}",
                             reply.status, reply.content_type, reply.body.size(),
                             reply.body.substr(0, reply.body.size() / 2));
      co_await asio::async_write(socket, asio::buffer(raw), asio::as_tuple(asio::use_awaitable));
      break;
    }
    http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
    res.set(http::field::content_type, reply.content_type);
    for (const auto& [k, v] : reply.headers)
      res.set(k, v);
    res.body() = reply.body;
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    auto [wec, w] = co_await http::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !req.keep_alive()) break;
  }
  beast::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
  std::lock_guard lock(s->mutex);
  --s->active;
}

asio::awaitable<void> accept_loop(FakeFeedServer::State* s) {
  for (;;) {
    auto [ec, socket] = co_await s->acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(s->io, serve(s, std::move(socket)), asio::detached);
  }
}

}  // namespace

FakeFeedServer::FakeFeedServer() : state_(std::make_shared<State>()) {
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(endpoint.protocol());
  state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  state_->acceptor.bind(endpoint);
  state_->acceptor.listen();
  state_->port = state_->acceptor.local_endpoint().port();
  asio::co_spawn(state_->io, accept_loop(state_.get()), asio::detached);
  state_->thread = std::thread([s = state_.get()] { s->io.run(); });
}

FakeFeedServer::~FakeFeedServer() {
  state_->io.stop();
  state_->thread.join();
}

std::string FakeFeedServer::base_url() const {
  return fmt::format("http://127.0.0.1:{}", state_->port);
}
std::uint16_t FakeFeedServer::port() const {
  return state_->port;
}

void FakeFeedServer::set_now(TimePoint now) {
  std::lock_guard lock(state_->mutex);
  state_->now = now;
}
void FakeFeedServer::set_emaps_token(std::string token) {
  std::lock_guard lock(state_->mutex);
  state_->emaps_token = std::move(token);
}
void FakeFeedServer::set_emaps_zone(const std::string& zone, FakeZone data) {
  std::lock_guard lock(state_->mutex);
  state_->zones[zone] = std::move(data);
}
void FakeFeedServer::set_watttime_credentials(std::string username, std::string password) {
  std::lock_guard lock(state_->mutex);
  state_->wt_user = std::move(username);
  state_->wt_pass = std::move(password);
}
void FakeFeedServer::set_watttime_region(const std::string& region, double lbs_per_mwh) {
  std::lock_guard lock(state_->mutex);
  state_->wt_regions[region] = lbs_per_mwh;
}
void FakeFeedServer::set_watttime_location(const std::string& lat, const std::string& lon,
                                           const std::string& region) {
  std::lock_guard lock(state_->mutex);
  state_->wt_locations[lat + "," + lon] = region;
}
void FakeFeedServer::expire_watttime_tokens() {
  std::lock_guard lock(state_->mutex);
  state_->wt_tokens.clear();
}
void FakeFeedServer::set_uk_national(double intensity) {
  std::lock_guard lock(state_->mutex);
  state_->uk_national = intensity;
}
void FakeFeedServer::set_uk_region(int region_id, double intensity, const std::string& postcode) {
  std::lock_guard lock(state_->mutex);
  state_->uk_regions[region_id] = intensity;
  if (!postcode.empty()) state_->uk_postcodes[postcode] = region_id;
}
void FakeFeedServer::inject(const std::string& path_prefix, FakeFault fault) {
  std::lock_guard lock(state_->mutex);
  state_->faults.emplace_back(path_prefix, std::move(fault));
}
void FakeFeedServer::clear_faults() {
  std::lock_guard lock(state_->mutex);
  state_->faults.clear();
}
int FakeFeedServer::requests(const std::string& prefix) const {
  std::lock_guard lock(state_->mutex);
  int n = 0;
  for (const auto& [target, count] : state_->target_counts) {
    if (target.rfind(prefix, 0) == 0) n += count;
  }
  return n;
}
int FakeFeedServer::watttime_logins() const {
  std::lock_guard lock(state_->mutex);
  return state_->wt_logins;
}
int FakeFeedServer::max_concurrent() const {
  std::lock_guard lock(state_->mutex);
  return state_->max_active;
}
std::vector<std::string> FakeFeedServer::targets() const {
  std::lock_guard lock(state_->mutex);
  return state_->targets;
}
std::map<std::string, std::string> FakeFeedServer::last_headers(const std::string& prefix) const {
  std::lock_guard lock(state_->mutex);
  for (const auto& [path, headers] : state_->headers_by_path) {
    if (path.rfind(prefix, 0) == 0) return headers;
  }
  return {};
}

}  // namespace gridshift::testing
