// Test plumbing shared by the fake servers: a real HTTP/1.1 server on 127.0.0.1 (port 0) that
// runs its own io_context on a background thread, hands each request to a handler, records
// requests, and carries out transport faults (delay, hang, close, truncated body). The handler
// runs on the server thread: it must lock whatever it shares with the test thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gridshift::testing {

struct FakeRequest {
  std::string method;
  std::string target;                          // as sent: path and query
  std::string path;                            // raw (not decoded)
  std::string query;                           // raw, without '?'
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::chrono::steady_clock::time_point received;

  std::map<std::string, std::string> params() const;  // decoded query parameters
  std::optional<std::string> header(const std::string& lower_name) const;
  nlohmann::json body_json() const;  // null when the body is not JSON
};

struct FakeResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};  // wait before answering (or closing, or hanging)
  bool truncate = false;               // announce the full length, send half, close
  bool close = false;                  // close the connection without answering
  bool hang = false;                   // never answer until the server stops
};

// What to do instead of (or on top of) the normal answer. `times` < 0: until cleared.
struct FakeFault {
  int status = 0;                      // non-zero: answer this status
  std::optional<int> retry_after;      // Retry-After header (seconds)
  std::chrono::milliseconds delay{0};  // wait before answering
  std::optional<std::string> body;     // replace the body (garbage, HTML, ...)
  std::string content_type = "application/json";
  bool truncate = false;  // announce the full length, send half, close
  bool close = false;     // close the connection without answering
  int times = -1;
  bool hang = false;  // never answer until the server stops
};

// Lays `fault` over `response`; a status without a body gets `error_body`.
void apply_fault(const FakeFault& fault, FakeResponse& response, const std::string& error_body);

// '*' matches any run of characters (slashes included); everything else matches itself.
bool glob_match(std::string_view pattern, std::string_view text);

// Percent-decoding; '+' becomes a space only when `plus_is_space` (query strings, forms).
std::string url_decode(std::string_view text, bool plus_is_space = true);
// "a=1&b=x%20y" -> {a: 1, b: "x y"} (also parses application/x-www-form-urlencoded bodies).
std::map<std::string, std::string> parse_query(std::string_view query);
// "/a/b%2Fc/d" -> {"a", "b/c", "d"} (each segment decoded, '+' kept).
std::vector<std::string> split_path(std::string_view path);

// Faults keyed by method (empty = any) and a path glob, tried in insertion order; take()
// returns the first match and consumes one of its `times` (a Fault with `int times`, < 0 =
// until cleared). Not synchronised: the owner locks.
template <class Fault>
class FaultQueue {
 public:
  void add(std::string method, std::string path_glob, Fault fault) {
    entries_.push_back(Entry{std::move(method), std::move(path_glob), std::move(fault)});
  }
  void clear() { entries_.clear(); }
  std::optional<Fault> take(std::string_view method, std::string_view path) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (!it->method.empty() && it->method != method) continue;
      if (!glob_match(it->path_glob, path)) continue;
      Fault fault = it->fault;
      if (it->fault.times > 0 && --it->fault.times == 0) entries_.erase(it);
      return fault;
    }
    return std::nullopt;
  }

 private:
  struct Entry {
    std::string method;
    std::string path_glob;
    Fault fault;
  };
  std::vector<Entry> entries_;
};

struct FakeHttpServerOptions {
  std::size_t max_recorded = 10000;   // the oldest records are dropped beyond this
  bool redact_authorization = false;  // record "Bearer <present>" instead of the credential
};

class FakeHttpServer {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  // Listens on 127.0.0.1:0 and serves with `handler` on a thread of its own until destroyed.
  explicit FakeHttpServer(Handler handler, FakeHttpServerOptions options = {});
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  std::string base_url() const;  // "http://127.0.0.1:PORT"
  std::uint16_t port() const;

  std::vector<FakeRequest> recorded() const;  // in arrival order (as redacted)
  void clear_recorded();
  int max_concurrent() const;  // most connections open at once

  struct State;  // implementation detail, public for the .cpp's free functions

 private:
  std::shared_ptr<State> state_;
};

}  // namespace gridshift::testing
