#include "fakes/fake_feed_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

namespace gridshift::testing {

using nlohmann::json;

struct FakeFeedServer::State {
  mutable std::mutex mutex;

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
  FaultQueue<FakeFault> faults;
};

namespace {

using Reply = FakeResponse;

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

Reply route(FakeFeedServer::State& s, const FakeRequest& request) {
  const auto query = request.params();
  const auto& headers = request.headers;
  Reply reply;
  auto parts = split_path(request.path);
  // Electricity Maps answers the same shapes under v4 (current) and v3 (legacy).
  if (!parts.empty() && (parts[0] == "v4" || parts[0] == "v3") && parts.size() >= 2 &&
      (parts[1] == "carbon-intensity" || parts[1] == "power-breakdown")) {
    reply = emaps(s, parts, query, headers);
  } else if (!parts.empty() && (parts[0] == "login" || parts[0] == "v3")) {
    reply = watttime(s, parts, query, headers);
  } else if (!parts.empty() && (parts[0] == "intensity" || parts[0] == "regional")) {
    reply = uk(s, parts);
  } else {
    reply = error_reply(404, "unknown path");
  }
  if (auto fault = s.faults.take(request.method, request.path)) {
    apply_fault(*fault, reply, R"({"error": "injected"})");
  }
  return reply;
}

}  // namespace

FakeFeedServer::FakeFeedServer()
    : state_(std::make_shared<State>()),
      server_(std::make_unique<FakeHttpServer>([s = state_.get()](const FakeRequest& request) {
        std::lock_guard lock(s->mutex);
        return route(*s, request);
      })) {}

FakeFeedServer::~FakeFeedServer() = default;

std::string FakeFeedServer::base_url() const {
  return server_->base_url();
}
std::uint16_t FakeFeedServer::port() const {
  return server_->port();
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
  state_->faults.add("", path_prefix + "*", std::move(fault));
}
void FakeFeedServer::clear_faults() {
  std::lock_guard lock(state_->mutex);
  state_->faults.clear();
}
int FakeFeedServer::requests(const std::string& prefix) const {
  const auto recorded = server_->recorded();
  return static_cast<int>(std::count_if(recorded.begin(), recorded.end(), [&](const auto& r) {
    return r.target.rfind(prefix, 0) == 0;
  }));
}
int FakeFeedServer::watttime_logins() const {
  std::lock_guard lock(state_->mutex);
  return state_->wt_logins;
}
int FakeFeedServer::max_concurrent() const {
  return server_->max_concurrent();
}
std::vector<std::string> FakeFeedServer::targets() const {
  std::vector<std::string> out;
  for (const auto& r : server_->recorded())
    out.push_back(r.target);
  return out;
}
std::map<std::string, std::string> FakeFeedServer::last_headers(const std::string& prefix) const {
  const auto recorded = server_->recorded();
  for (auto it = recorded.rbegin(); it != recorded.rend(); ++it) {
    if (it->path.rfind(prefix, 0) == 0) return it->headers;
  }
  return {};
}

}  // namespace gridshift::testing
