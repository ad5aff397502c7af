#include "fakes/fake_http_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <mutex>
#include <thread>

namespace gridshift::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

std::map<std::string, std::string> FakeRequest::params() const {
  return parse_query(query);
}

std::optional<std::string> FakeRequest::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

nlohmann::json FakeRequest::body_json() const {
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

void apply_fault(const FakeFault& fault, FakeResponse& response, const std::string& error_body) {
  if (fault.status != 0) {
    response.status = fault.status;
    if (!fault.body) {
      response.body = error_body;
      response.content_type = "application/json";
    }
  }
  if (fault.retry_after) {
    response.headers.emplace_back("Retry-After", std::to_string(*fault.retry_after));
  }
  if (fault.body) {
    response.body = *fault.body;
    response.content_type = fault.content_type;
  }
  response.delay = fault.delay;
  response.truncate = fault.truncate;
  response.close = fault.close;
  response.hang = fault.hang;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point: the last '*' seen.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

std::string url_decode(std::string_view text, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else if (text[i] == '+' && plus_is_space) {
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
    if (!item.empty()) {
      out[url_decode(item.substr(0, eq))] =
          eq == std::string_view::npos ? "" : url_decode(item.substr(eq + 1));
    }
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
    out.push_back(url_decode(path.substr(0, slash), false));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

struct FakeHttpServer::State {
  explicit State(Handler h, FakeHttpServerOptions o) : handler(std::move(h)), options(o) {}

  Handler handler;
  FakeHttpServerOptions options;
  mutable std::mutex mutex;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::uint16_t port = 0;
  std::deque<FakeRequest> recorded;
  int active = 0;
  int max_active = 0;
};

namespace {

FakeRequest to_fake_request(const http::request<http::string_body>& req) {
  FakeRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  const auto q = out.target.find('?');
  out.path = out.target.substr(0, q);
  out.query = q == std::string::npos ? "" : out.target.substr(q + 1);
  for (const auto& field : req) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.headers[name] = std::string(field.value());
  }
  out.body = req.body();
  out.received = std::chrono::steady_clock::now();
  return out;
}

void record(FakeHttpServer::State& s, FakeRequest request) {
  if (s.options.redact_authorization) {
    auto it = request.headers.find("authorization");
    if (it != request.headers.end()) {
      it->second = it->second.rfind("Bearer ", 0) == 0 ? "Bearer <present>" : "<present>";
    }
  }
  std::lock_guard lock(s.mutex);
  if (s.options.max_recorded > 0 && s.recorded.size() >= s.options.max_recorded) {
    s.recorded.pop_front();
  }
  s.recorded.push_back(std::move(request));
}

// Coroutines hold a plain pointer: the State owns the io_context, whose destruction destroys
// their frames, so an owning pointer here would be a cycle.
asio::awaitable<void> serve(FakeHttpServer::State* s, tcp::socket socket) {
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
    FakeRequest request = to_fake_request(req);
    record(*s, request);
    FakeResponse reply;
    try {
      reply = s->handler(request);
    } catch (const std::exception& e) {
      // A bug in a fake should fail the test that met it, visibly, not kill the server.
      reply = FakeResponse{};
      reply.status = 500;
      reply.body = nlohmann::json{{"error", std::string("fake handler threw: ") + e.what()}}.dump();
    }
    if (reply.delay.count() > 0) {
      asio::steady_timer timer(socket.get_executor(), reply.delay);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (reply.hang) {
      asio::steady_timer forever(socket.get_executor(),
                                 std::chrono::steady_clock::time_point::max());
      co_await forever.async_wait(asio::as_tuple(asio::use_awaitable));
      break;
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

// Completion of the server's coroutines: they catch what they expect, so anything else is a
// bug in the fake and ends the test process loudly.
void rethrow(const std::exception_ptr& error) {
  if (error) std::rethrow_exception(error);
}

asio::awaitable<void> accept_loop(FakeHttpServer::State* s) {
  for (;;) {
    auto [ec, socket] = co_await s->acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(s->io, serve(s, std::move(socket)), rethrow);
  }
}

}  // namespace

FakeHttpServer::FakeHttpServer(Handler handler, FakeHttpServerOptions options)
    : state_(std::make_shared<State>(std::move(handler), options)) {
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(endpoint.protocol());
  state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  state_->acceptor.bind(endpoint);
  state_->acceptor.listen();
  state_->port = state_->acceptor.local_endpoint().port();
  asio::co_spawn(state_->io, accept_loop(state_.get()), rethrow);
  state_->thread = std::thread([s = state_.get()] { s->io.run(); });
}

FakeHttpServer::~FakeHttpServer() {
  state_->io.stop();
  state_->thread.join();
}

std::string FakeHttpServer::base_url() const {
  return fmt::format("http://127.0.0.1:{}", state_->port);
}
std::uint16_t FakeHttpServer::port() const {
  return state_->port;
}
std::vector<FakeRequest> FakeHttpServer::recorded() const {
  std::lock_guard lock(state_->mutex);
  return {state_->recorded.begin(), state_->recorded.end()};
}
void FakeHttpServer::clear_recorded() {
  std::lock_guard lock(state_->mutex);
  state_->recorded.clear();
}
int FakeHttpServer::max_concurrent() const {
  std::lock_guard lock(state_->mutex);
  return state_->max_active;
}

}  // namespace gridshift::testing
