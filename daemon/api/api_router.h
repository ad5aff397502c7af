// Routing of the socket API (docs/api.md): handlers are plain synchronous functions called on
// the daemon's single io_context thread, so they may use the stores without locks. The server
// (daemon/api/api_server.h) parses HTTP and fills ApiRequest; subsystems register their routes
// here.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace gridshift {

struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded path without the query, e.g. "/v1/jobs/j-abc"
  std::map<std::string, std::string> query;        // decoded query parameters
  std::map<std::string, std::string> path_params;  // from "{name}" segments of the route
  std::map<std::string, std::string> headers;      // lower-case names
  std::string body;
  std::uint32_t uid = 0;  // the caller, from SO_PEERCRED
  std::uint32_t gid = 0;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static ApiResponse json(int status, const nlohmann::json& value);
  static ApiResponse text(int status, std::string body, std::string content_type);
  // The error body of docs/api.md: {"error": {"code", "message", "details": [...]}}.
  static ApiResponse error(int status, const Error& error);
  static ApiResponse error(int status, std::string_view code, std::string message,
                           std::vector<FieldError> details = {});
};

using ApiHandler = std::function<ApiResponse(const ApiRequest&)>;
// For handlers that must wait (e.g. a submit waiting for its group commit); runs as a coroutine
// on the daemon's io_context thread. The request is passed by value: it outlives every suspension.
using ApiAsyncHandler = std::function<boost::asio::awaitable<ApiResponse>(ApiRequest)>;

class ApiRouter {
 public:
  // `pattern` is a path with optional "{name}" segments: "/v1/jobs/{id}/cancel".
  void add(std::string method, std::string pattern, ApiHandler handler);
  void add_async(std::string method, std::string pattern, ApiAsyncHandler handler);

  // 404 "not_found" when no pattern matches the path, 405 "method_not_allowed" (with an Allow
  // header) when one matches but not for this method.
  // Async routes cannot be run here: they answer 500 "internal" (use dispatch_async).
  ApiResponse dispatch(ApiRequest request) const;
  // Runs sync and async routes alike (what the server calls).
  boost::asio::awaitable<ApiResponse> dispatch_async(ApiRequest request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    ApiHandler handler;
    ApiAsyncHandler async_handler;
  };
  // The route for the request (path_params filled in), or the error response to give.
  const Route* match(ApiRequest& request, ApiResponse& failure) const;
  std::vector<Route> routes_;
};

}  // namespace gridshift
