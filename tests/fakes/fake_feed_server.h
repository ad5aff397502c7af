// Test fake: a real HTTP/1.1 server on 127.0.0.1 (port 0) speaking the Electricity Maps v4 (and
// v3), WattTime v3 and UK Carbon Intensity APIs as their public API references document them
// (docs/feeds.md), with fault injection per path prefix. Runs its own io_context on a background
// thread; every public method is thread-safe (one mutex), so tests call it while the daemon polls.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "fakes/fake_http_server.h"

namespace gridshift::testing {

struct FakeZone {
  double intensity = 100;  // g/kWh of the latest hour; history and forecast vary around it
  std::optional<double> renewable_percent;
  std::optional<double> fossil_free_percent;
  bool estimated = false;
  std::string answer_zone;  // non-empty: the zone the fake claims (wrong-zone tests)
};

class FakeFeedServer {
 public:
  FakeFeedServer();
  ~FakeFeedServer();
  FakeFeedServer(const FakeFeedServer&) = delete;
  FakeFeedServer& operator=(const FakeFeedServer&) = delete;

  std::string base_url() const;  // "http://127.0.0.1:PORT"
  std::uint16_t port() const;

  // The fake's idea of now: "latest" points are this hour, forecasts start after it.
  void set_now(TimePoint now);

  // Electricity Maps: zone data, and the auth-token every call must carry (401 otherwise).
  void set_emaps_token(std::string token);
  void set_emaps_zone(const std::string& zone, FakeZone data);
  // WattTime: Basic credentials for /login; regions in lbs/MWh; lat/lon -> region.
  void set_watttime_credentials(std::string username, std::string password);
  void set_watttime_region(const std::string& region, double lbs_per_mwh);
  void set_watttime_location(const std::string& lat, const std::string& lon,
                             const std::string& region);
  void expire_watttime_tokens();  // the next data call answers 401 until a new login
  // UK: the national series and regional ones (by region id; postcodes map to region ids).
  void set_uk_national(double intensity);
  void set_uk_region(int region_id, double intensity, const std::string& postcode = "");

  // Faults for paths starting with `path_prefix`, tried in the order injected.
  void inject(const std::string& path_prefix, FakeFault fault);
  void clear_faults();

  // Requests seen whose path starts with `prefix` (all when empty).
  int requests(const std::string& prefix = "") const;
  int watttime_logins() const;
  int max_concurrent() const;                // largest number of connections open at once
  std::vector<std::string> targets() const;  // the last 10,000 request targets, in order
  // Headers of the latest request whose path starts with `prefix`.
  std::map<std::string, std::string> last_headers(const std::string& prefix) const;

  struct State;  // implementation detail, public for the .cpp's free functions

 private:
  std::shared_ptr<State> state_;
  std::unique_ptr<FakeHttpServer> server_;  // declared last: stops before state_ goes
};

}  // namespace gridshift::testing
