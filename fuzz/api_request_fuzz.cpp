// Fuzz target: the socket API's request handling. The bytes are what a client writes on the
// socket: one or more HTTP/1.1 requests (keep-alive), parsed by Beast's request parser with the
// server's limits and turned into ApiRequests by the server's own to_api_request (target split
// and percent-decoded, body UTF-8 checked, header names lower-cased), then routed through the
// daemon's ApiRouter with JobService's routes (jobs, plan, health, report, metrics) over an
// in-memory store that holds one job of another user. Every answer must be a well-formed response:
// no 5xx, JSON bodies that parse, errors in the documented shape. (The feed routes are left out:
// they read only a region name, and linking them pulls in the whole feed runtime.)
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "core/ports/clock.h"
#include "daemon/api/api_router.h"
#include "daemon/api/api_server.h"
#include "daemon/api/job_service.h"
#include "daemon/config/config.h"
#include "fuzz_support.h"
#include "storage/memory/memory_store.h"

namespace gf = gridshift::fuzz;

namespace gridshift {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

constexpr std::uint32_t kCaller = 1000;
constexpr std::uint32_t kOtherOwner = 1001;
constexpr int kMaxRequests = 16;

// The daemon's API wiring over a MemoryStore, fresh for every input.
class World {
 public:
  World()
      : clock_(TimePoint{Seconds{1'790'000'000}}),
        jobs_(store_, config_, clock_, io_.get_executor()) {
    for (const char* name : {"europe-west2", "europe-west9"}) {
      RegionConfig region;
      region.name = name;
      config_.regions.push_back(region);
    }
    jobs_.register_routes(router_);
    seed();
  }

  asio::io_context& io() { return io_; }
  const ApiRouter& router() const { return router_; }

 private:
  // A queued job of another user under a fixed id, so that show and cancel (403) reach their
  // full paths.
  void seed() {
    Job job;
    job.id = "j-fuzz0000000000000000";
    job.owner_uid = kOtherOwner;
    job.submitted_at = clock_.now();
    job.updated_at = clock_.now();
    job.deadline = clock_.now() + Seconds{86400};
    job.regions = {"europe-west2"};
    job.power_watts = 550;
    job.spec.name = "seeded";
    job.spec.duration = Seconds{3600};
    JobEvent submitted;
    submitted.at = clock_.now();
    submitted.type = "submitted";
    gf::require(store_.insert(job, submitted).has_value(), "seeding the job failed");
  }

  ManualClock clock_;
  Config config_;
  MemoryStore store_;
  asio::io_context io_;
  ApiRouter router_;
  JobService jobs_;
};

void check_response(const ApiResponse& response) {
  gf::require(response.status >= 200 && response.status < 600, "not an HTTP status");
  // This harness wires no planner, so POST /v1/plan of a valid spec answers 503
  // planner_unavailable; a compressed Transfer-Encoding is refused with 501 not_implemented
  // (docs/api.md); any other 5xx is a failure.
  const bool no_planner =
      response.status == 503 && response.body.find("\"planner_unavailable\"") != std::string::npos;
  const bool not_implemented =
      response.status == 501 && response.body.find("\"not_implemented\"") != std::string::npos;
  gf::require(response.status < 500 || no_planner || not_implemented, "a 5xx answer to a request");
  if (response.content_type == "application/json") {
    const auto body = nlohmann::json::parse(response.body, nullptr, false);
    gf::require(!body.is_discarded(), "JSON answer that does not parse");
    if (response.status >= 400) {
      gf::require(body.contains("error") && body["error"].is_object(), "error without \"error\"");
      const auto& error = body["error"];
      gf::require(error.contains("code") && error["code"].is_string() &&
                      !error["code"].get<std::string>().empty(),
                  "error without a code");
      gf::require(error.contains("message") && error["message"].is_string(),
                  "error without a message");
    }
  }
  // What the server then writes: Beast's serializer over the same response.
  http::response<http::string_body> out{static_cast<http::status>(response.status), 11};
  out.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers)
    out.set(name, value);
  out.body() = response.body;
  out.prepare_payload();
  std::ostringstream wire;
  wire << out;
  gf::require(!wire.str().empty(), "empty serialised response");
}

// Parses one request from the front of `rest` as the server's async_read would, with the end of
// the input as the client's end of stream. nullopt when the connection would end here.
std::optional<http::request<http::string_body>> next_request(std::string_view& rest) {
  const ApiServerOptions options;
  http::request_parser<http::string_body> parser;
  parser.header_limit(options.header_limit);
  parser.body_limit(options.body_limit);
  parser.eager(true);
  boost::beast::error_code ec;
  while (!parser.is_done()) {
    ec = {};
    const std::size_t used = parser.put(asio::buffer(rest.data(), rest.size()), ec);
    rest.remove_prefix(used);
    if (ec == http::error::need_more || (!ec && used == 0)) {
      if (used > 0 && !rest.empty()) continue;
      ec = {};
      parser.put_eof(ec);
      break;
    }
    if (ec) break;
  }
  // A malformed or cut request gets a fixed 4xx and the connection closes (not routed).
  if (ec || !parser.is_done()) return std::nullopt;
  return parser.release();
}

ApiResponse answer(World& world, http::request<http::string_body>& message) {
  ApiRequest request;
  if (auto refused = to_api_request(message, kCaller, kCaller, request)) return *refused;
  std::optional<ApiResponse> response;
  std::exception_ptr failure;
  asio::co_spawn(world.io(), world.router().dispatch_async(std::move(request)),
                 [&](std::exception_ptr e, ApiResponse r) {
                   failure = e;
                   response = std::move(r);
                 });
  world.io().restart();
  world.io().run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "handler threw: %s\n", e.what());
    }
    gf::require(false, "a handler threw (the server would answer 500)");
  }
  gf::require(response.has_value(), "the request was never answered");
  return std::move(*response);
}

}  // namespace
}  // namespace gridshift

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gridshift;
  World world;
  std::string_view rest = gf::as_text(data, size);
  for (int i = 0; i < kMaxRequests && !rest.empty(); ++i) {
    auto message = next_request(rest);
    if (!message) break;
    const bool keep_alive = message->keep_alive();
    check_response(answer(world, *message));
    if (!keep_alive) break;
  }
  return 0;
}
