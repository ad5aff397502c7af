#include "deploy/vertex_ai/token_source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <filesystem>
#include <utility>
#include <variant>

#include "common/file_io.h"
#include "common/logging.h"
#include "common/scrub.h"
#include "deploy/vertex_ai/google_auth.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;

// Key files are a few KiB; anything far larger is not one.
constexpr std::size_t kMaxCredentialsFileBytes = 1024 * 1024;
constexpr const char* kMetadataTokenPath =
    "/computeMetadata/v1/instance/service-accounts/default/token";

std::shared_ptr<spdlog::logger> log() {
  static const auto logger = subsystem_logger("dispatch");
  return logger;
}

// A transport failure talking to a token service: worth trying again later, except for a URL
// that can never work.
Error transport_error(const Error& error, std::string_view what) {
  return make_error(error.is(errc::kHttpBadUrl) ? errc::kInvalidCredentials : errc::kRetry,
                    fmt::format("cannot reach the {}: {}", what, error.message));
}

// POSTs a token grant form and judges the answer.
asio::awaitable<Result<AccessToken>> post_grant(HttpClient& http, std::string token_uri,
                                                std::string form) {
  HttpRequest request;
  request.method = "POST";
  request.url = std::move(token_uri);
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"}};
  request.body = std::move(form);
  request.timeout = std::min(kTokenRequestTimeout, http.options().read_timeout);
  auto response = co_await http.request(std::move(request));
  if (!response) co_return transport_error(response.error(), "token endpoint");
  co_return parse_token_response(response->status, response->body);
}

// The token cache and the single flight every source shares; subclasses only fetch.
class CachingTokenSource : public TokenSource {
 public:
  explicit CachingTokenSource(const Clock& clock) : clock_(clock) {}

  asio::awaitable<Result<std::string>> token() override {
    const auto now = clock_.now();
    if (cached_ && (cached_->expiry - now >= kTokenRenewBefore ||
                    (now < cached_->expiry && now < renew_not_before_))) {
      co_return cached_->value;
    }
    // Callers arriving during a refresh share its outcome instead of starting another.
    if (flight_) {
      auto flight = flight_;
      co_await flight->done.async_wait(asio::as_tuple(asio::use_awaitable));
      if (flight->outcome) co_return *flight->outcome;
      co_return make_error(errc::kRetry, "the token refresh was abandoned");
    }
    co_return co_await refresh();
  }

  void invalidate() override {
    cached_.reset();
    renew_not_before_ = TimePoint{};
  }

 protected:
  // One request for a fresh token.
  virtual asio::awaitable<Result<AccessToken>> fetch() = 0;

  const Clock& clock_;

 private:
  struct Cached {
    std::string value;
    TimePoint expiry;
  };
  // Callers arriving during a refresh wait on `done` (it never expires; the refresh cancels
  // it) and then read `outcome`.
  struct Flight {
    explicit Flight(const asio::any_io_executor& executor)
        : done(executor, asio::steady_timer::time_point::max()) {}
    asio::steady_timer done;
    std::optional<Result<std::string>> outcome;
  };

  asio::awaitable<Result<std::string>> refresh() {
    auto flight = std::make_shared<Flight>(co_await asio::this_coro::executor);
    flight_ = flight;
    Result<AccessToken> fetched = make_error(errc::kRetry, "the token refresh failed unexpectedly");
    std::exception_ptr failure;
    try {
      fetched = co_await fetch();
    } catch (...) {
      failure = std::current_exception();
    }
    flight->outcome = settle(std::move(fetched));
    if (flight_ == flight) flight_.reset();
    flight->done.cancel();
    if (failure) std::rethrow_exception(failure);
    co_return *flight->outcome;
  }

  Result<std::string> settle(Result<AccessToken> fetched) {
    const auto now = clock_.now();
    if (fetched) {
      log()->debug("new access token ({}), valid for {}s", kind(), fetched->expires_in.count());
      cached_ = Cached{std::move(fetched->value), now + fetched->expires_in};
      // A target's error message that quotes the request must not carry the token on.
      add_runtime_secret(cached_->value);
      renew_not_before_ = TimePoint{};
      return cached_->value;
    }
    const auto error = fetched.error();
    if (cached_ && now < cached_->expiry) {
      renew_not_before_ = now + kTokenRenewRetryAfter;
      log()->warn(
          "renewing the access token ({}) failed: {}; the current one is valid for {}s more",
          kind(), error.message, (cached_->expiry - now).count());
      return cached_->value;
    }
    log()->warn("cannot get an access token ({}): {}", kind(), error.message);
    return error;
  }

  std::optional<Cached> cached_;
  // After a failed renewal the still-valid token is served without asking again until then.
  TimePoint renew_not_before_{};
  std::shared_ptr<Flight> flight_;
};

class ServiceAccountTokenSource final : public CachingTokenSource {
 public:
  ServiceAccountTokenSource(ServiceAccountCredentials credentials, HttpClient& http,
                            const Clock& clock)
      : CachingTokenSource(clock), credentials_(std::move(credentials)), http_(http) {}

  std::string_view kind() const override { return "service_account"; }
  std::string quota_project() const override { return {}; }

 protected:
  asio::awaitable<Result<AccessToken>> fetch() override {
    auto assertion = make_jwt_assertion(credentials_, clock_.now());
    if (!assertion) co_return assertion.error();
    co_return co_await post_grant(http_, credentials_.token_uri, jwt_bearer_form(*assertion));
  }

 private:
  ServiceAccountCredentials credentials_;
  HttpClient& http_;
};

class AuthorizedUserTokenSource final : public CachingTokenSource {
 public:
  AuthorizedUserTokenSource(AuthorizedUserCredentials credentials, HttpClient& http,
                            const Clock& clock)
      : CachingTokenSource(clock), credentials_(std::move(credentials)), http_(http) {}

  std::string_view kind() const override { return "authorized_user"; }
  std::string quota_project() const override { return credentials_.quota_project_id; }

 protected:
  asio::awaitable<Result<AccessToken>> fetch() override {
    co_return co_await post_grant(http_, credentials_.token_uri, refresh_token_form(credentials_));
  }

 private:
  AuthorizedUserCredentials credentials_;
  HttpClient& http_;
};

// The GCE/GKE/Cloud Run metadata server. Its requests never go through a proxy and connect
// within the probe timeout, so it has its own client (made on first use, on the caller's
// executor) with the shared client's other options.
class MetadataTokenSource final : public CachingTokenSource {
 public:
  MetadataTokenSource(std::string metadata_url, std::string searched, HttpClient& http,
                      const Clock& clock)
      : CachingTokenSource(clock),
        url_(std::move(metadata_url) + kMetadataTokenPath),
        searched_(std::move(searched)),
        http_(http) {}

  std::string_view kind() const override { return "metadata"; }
  std::string quota_project() const override { return {}; }

 protected:
  asio::awaitable<Result<AccessToken>> fetch() override {
    if (!client_) {
      auto options = http_.options();
      options.proxy = {};
      options.connect_timeout = std::min(kMetadataProbeTimeout, options.connect_timeout);
      options.tls_timeout = std::min(kMetadataProbeTimeout, options.tls_timeout);
      client_ = std::make_unique<HttpClient>(co_await asio::this_coro::executor, options);
    }
    HttpRequest request;
    request.url = url_;
    request.headers = {{"Metadata-Flavor", "Google"}};
    request.timeout = std::min(confirmed_ ? kTokenRequestTimeout : kMetadataProbeTimeout,
                               client_->options().read_timeout);
    auto response = co_await client_->request(std::move(request));
    if (!response) {
      if (confirmed_) co_return transport_error(response.error(), "metadata server");
      co_return not_found(response.error().message);
    }
    const auto flavor = response->header("metadata-flavor");
    if (!flavor || *flavor != "Google") {
      co_return not_found("the answer lacks the Metadata-Flavor: Google header");
    }
    confirmed_ = true;
    co_return parse_token_response(response->status, response->body);
  }

 private:
  Error not_found(const std::string& reason) const {
    return make_error("no_credentials",
                      fmt::format("no Google credentials: {}, and there is no metadata server "
                                  "at {} ({})",
                                  searched_, url_, reason));
  }

  std::string url_;
  std::string searched_;  // what the ADC search looked at before the metadata server
  HttpClient& http_;
  std::unique_ptr<HttpClient> client_;
  bool confirmed_ = false;  // a genuine metadata server has answered once
};

Status check_url(const std::string& url, const std::string& field) {
  if (auto parsed = parse_url(url); !parsed) {
    return make_error(errc::kInvalidCredentials, fmt::format("{} is not a usable URL", field),
                      {{field, parsed.error().message}});
  }
  return {};
}

// Loads a credentials file; `origin` says where its path came from (for the messages).
Result<std::unique_ptr<TokenSource>> from_file(const std::string& path, const std::string& origin,
                                               const VertexAiConfig& config, HttpClient& http,
                                               const Clock& clock) {
  const auto where = fmt::format("Google credentials file {} (from {})", path, origin);
  auto text = read_text_file(path, kMaxCredentialsFileBytes);
  if (!text) {
    return make_error(errc::kInvalidCredentials,
                      fmt::format("cannot read {}: {}", where, text.error().message));
  }
  auto parsed = parse_google_credentials(std::move(*text));
  if (!parsed) {
    auto error = parsed.error();
    error.message = fmt::format("{}: {}", where, error.message);
    return error;
  }
  std::unique_ptr<TokenSource> source;
  if (auto* sa = std::get_if<ServiceAccountCredentials>(&*parsed)) {
    if (!config.token_uri.empty()) sa->token_uri = config.token_uri;
    if (auto ok = check_url(sa->token_uri, "token_uri"); !ok) return ok.error();
    log()->info("Google credentials: service account {} from {}", sa->client_email, where);
    source = std::make_unique<ServiceAccountTokenSource>(std::move(*sa), http, clock);
  } else {
    auto& user = std::get<AuthorizedUserCredentials>(*parsed);
    if (!config.token_uri.empty()) user.token_uri = config.token_uri;
    if (auto ok = check_url(user.token_uri, "token_uri"); !ok) return ok.error();
    log()->info("Google credentials: user credentials from {}", where);
    source = std::make_unique<AuthorizedUserTokenSource>(std::move(user), http, clock);
  }
  return source;
}

}  // namespace

Result<std::unique_ptr<TokenSource>> make_token_source(
    const VertexAiConfig& config, HttpClient& http, const Clock& clock,
    std::function<std::optional<std::string>(const std::string&)> getenv) {
  if (config.credentials != "auto") {
    return from_file(config.credentials, "dispatch.vertex_ai.credentials", config, http, clock);
  }
  if (auto env = getenv("GOOGLE_APPLICATION_CREDENTIALS"); env && !env->empty()) {
    return from_file(*env, "GOOGLE_APPLICATION_CREDENTIALS", config, http, clock);
  }
  std::string searched = "GOOGLE_APPLICATION_CREDENTIALS is unset";
  if (auto home = getenv("HOME"); home && !home->empty()) {
    const auto well_known =
        std::filesystem::path(*home) / ".config/gcloud/application_default_credentials.json";
    std::error_code ec;
    if (std::filesystem::exists(well_known, ec)) {
      return from_file(well_known.string(), "gcloud's application default credentials", config,
                       http, clock);
    }
    searched += ", there is no " + well_known.string();
  } else {
    searched += ", HOME is unset";
  }
  std::string metadata_url = config.metadata_url;
  while (!metadata_url.empty() && metadata_url.back() == '/')
    metadata_url.pop_back();
  if (auto ok = check_url(metadata_url, "metadata_url"); !ok) return ok.error();
  log()->info("Google credentials: none in files ({}); the metadata server at {} will be asked",
              searched, metadata_url);
  return std::unique_ptr<TokenSource>(
      std::make_unique<MetadataTokenSource>(std::move(metadata_url), searched, http, clock));
}

}  // namespace gridshift
