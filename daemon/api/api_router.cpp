#include "daemon/api/api_router.h"

#include <algorithm>
#include <set>

namespace gridshift {
namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> segments;
  std::size_t start = 1;
  if (path.empty() || path[0] != '/') return {path};
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string::npos ? path.size() : slash;
    segments.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return segments;
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
             std::map<std::string, std::string>* params) {
  if (pattern.size() != path.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (is_param(pattern[i])) {
      if (path[i].empty()) return false;
      if (params) (*params)[pattern[i].substr(1, pattern[i].size() - 2)] = path[i];
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

ApiResponse ApiResponse::json(int status, const nlohmann::json& value) {
  ApiResponse response;
  response.status = status;
  // Replacement of invalid UTF-8 keeps a stray byte in stored data from turning into a 500.
  response.body = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

ApiResponse ApiResponse::text(int status, std::string body, std::string content_type) {
  ApiResponse response;
  response.status = status;
  response.body = std::move(body);
  response.content_type = std::move(content_type);
  return response;
}

ApiResponse ApiResponse::error(int status, const Error& error) {
  nlohmann::json details = nlohmann::json::array();
  for (const auto& d : error.details) {
    nlohmann::json detail = {{"field", d.field}, {"message", d.message}};
    if (d.line > 0) detail["line"] = d.line;
    details.push_back(std::move(detail));
  }
  return json(status, {{"error",
                        {{"code", error.code}, {"message", error.message}, {"details", details}}}});
}

ApiResponse ApiResponse::error(int status, std::string_view code, std::string message,
                               std::vector<FieldError> details) {
  return error(status, Error(std::string(code), std::move(message), std::move(details)));
}

void ApiRouter::add(std::string method, std::string pattern, ApiHandler handler) {
  routes_.push_back({std::move(method), split_path(pattern), std::move(handler), {}});
}

void ApiRouter::add_async(std::string method, std::string pattern, ApiAsyncHandler handler) {
  routes_.push_back({std::move(method), split_path(pattern), {}, std::move(handler)});
}

const ApiRouter::Route* ApiRouter::match(ApiRequest& request, ApiResponse& failure) const {
  const auto segments = split_path(request.path);
  std::set<std::string> allowed;
  for (const auto& route : routes_) {
    if (!matches(route.segments, segments, nullptr)) continue;
    if (route.method == request.method) {
      matches(route.segments, segments, &request.path_params);
      return &route;
    }
    allowed.insert(route.method);
  }
  if (allowed.empty()) {
    failure = ApiResponse::error(404, errc::kNotFound, "no such endpoint: " + request.path);
    return nullptr;
  }
  std::string allow;
  for (const auto& m : allowed)
    allow += (allow.empty() ? "" : ", ") + m;
  failure = ApiResponse::error(
      405, "method_not_allowed",
      request.method + " is not allowed on " + request.path + " (allowed: " + allow + ")");
  failure.headers.emplace_back("Allow", allow);
  return nullptr;
}

ApiResponse ApiRouter::dispatch(ApiRequest request) const {
  ApiResponse failure;
  const Route* route = match(request, failure);
  if (route == nullptr) return failure;
  if (!route->handler) {
    return ApiResponse::error(500, "internal", "asynchronous route called synchronously");
  }
  return route->handler(request);
}

boost::asio::awaitable<ApiResponse> ApiRouter::dispatch_async(ApiRequest request) const {
  ApiResponse failure;
  const Route* route = match(request, failure);
  if (route == nullptr) co_return failure;
  if (route->async_handler) co_return co_await route->async_handler(std::move(request));
  co_return route->handler(request);
}

}  // namespace gridshift
