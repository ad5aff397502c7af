// TokenSource against the fake Google server: service-account JWT exchange, authorized_user
// refresh, metadata server, the Application Default Credentials order, caching and renewal on
// a ManualClock, single flight, failures, and no token or key text in logs or errors.
#include "deploy/vertex_ai/token_source.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/logging.h"
#include "common/system_clock.h"
#include "fakes/fake_google.h"
#include "fakes/feed_test_env.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

// Everything the "dispatch" logger writes (at every level) while alive.
class DispatchLogCapture {
 public:
  DispatchLogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)) {
    logger_ = subsystem_logger("dispatch");
    level_ = logger_->level();
    logger_->set_level(spdlog::level::trace);
    logger_->sinks().push_back(sink_);
  }
  ~DispatchLogCapture() {
    auto& sinks = logger_->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    logger_->set_level(level_);
  }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> logger_;
  spdlog::level::level_enum level_ = spdlog::level::info;
};

class TokenSourceTest : public ::testing::Test {
 protected:
  using Env = std::map<std::string, std::string>;

  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }

  VertexAiConfig config(std::string credentials) const {
    VertexAiConfig c;
    c.project = "gridshift-test";
    c.credentials = std::move(credentials);
    c.token_uri = fake_.token_uri();
    c.metadata_url = fake_.metadata_base();
    return c;
  }

  Result<std::unique_ptr<TokenSource>> try_make(const VertexAiConfig& c, Env env = {}) {
    return make_token_source(c, *http_, clock_,
                             [env](const std::string& name) -> std::optional<std::string> {
                               auto it = env.find(name);
                               if (it == env.end()) return std::nullopt;
                               return it->second;
                             });
  }

  std::unique_ptr<TokenSource> make(const VertexAiConfig& c, Env env = {}) {
    auto source = try_make(c, std::move(env));
    if (!source) throw std::runtime_error(to_string(source.error()));
    return std::move(*source);
  }

  std::unique_ptr<TokenSource> service_account() {
    return make(config(write("sa.json", fake_.service_account_key_json())));
  }

  // The fake checks a JWT's iat against the real time, so tests that move the clock far ahead
  // use user credentials, whose refresh involves no clock.
  std::unique_ptr<TokenSource> user() {
    return make(config(write("adc.json", fake_.authorized_user_json())));
  }

  Result<std::string> token(TokenSource& source) { return run_on(io_, source.token()); }

  std::string must_token(TokenSource& source) {
    auto t = token(source);
    if (!t) throw std::runtime_error(to_string(t.error()));
    return *t;
  }

  // The fake's storage API accepts only tokens it issued and has not revoked.
  int storage_status(const std::string& access_token) {
    fake_.add_bucket("gridshift-auth-test", "EU");
    HttpRequest request;
    request.url = fake_.storage_base() + "/storage/v1/b/gridshift-auth-test";
    request.headers = {{"Authorization", "Bearer " + access_token}};
    auto response = run_on(io_, http_->request(std::move(request)));
    if (!response) throw std::runtime_error(to_string(response.error()));
    return response->status;
  }

  int exchanges() const { return fake_.count("POST", "/token"); }

  // Starts at the real time: the fake refuses JWTs whose iat is far from it.
  static TimePoint real_now() { return SystemClock().now(); }

  FakeGoogle fake_;
  TempDir dir_;
  ManualClock clock_{real_now()};
  asio::io_context io_;
  std::unique_ptr<HttpClient> http_ =
      std::make_unique<HttpClient>(io_.get_executor(), HttpClientOptions{});
};

TEST_F(TokenSourceTest, ServiceAccountExchangeEndToEnd) {
  auto source = service_account();
  EXPECT_EQ(source->kind(), "service_account");
  EXPECT_EQ(source->quota_project(), "");
  const auto t = must_token(*source);
  EXPECT_EQ(fake_.tokens_issued(TokenGrant::jwt_bearer), 1);
  EXPECT_EQ(storage_status(t), 200);
  const auto sent = fake_.requests("POST", "/token");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].header("content-type"), "application/x-www-form-urlencoded");
  const auto form = parse_query(sent[0].body);
  EXPECT_EQ(form.at("grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer");
  EXPECT_EQ(std::count(form.at("assertion").begin(), form.at("assertion").end(), '.'), 2);
}

TEST_F(TokenSourceTest, TokenUriOverrideReplacesTheKeyFiles) {
  // The key file names Google's real endpoint; config.token_uri sends the exchange (and the
  // JWT's aud) to the fake instead, or nothing would be issued.
  auto source = make(config(
      write("sa.json", fake_.service_account_key_json("https://oauth2.googleapis.com/token"))));
  ASSERT_TRUE(token(*source));
  EXPECT_EQ(fake_.tokens_issued(TokenGrant::jwt_bearer), 1);
}

TEST_F(TokenSourceTest, TokenIsCachedAcrossCalls) {
  auto source = user();
  const auto first = must_token(*source);
  clock_.advance(std::chrono::minutes(30));
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(must_token(*source), first);
  EXPECT_EQ(exchanges(), 1);
}

TEST_F(TokenSourceTest, RenewedWhenLessThanFiveMinutesRemain) {
  auto source = user();  // the fake's tokens live 3600 s
  const auto first = must_token(*source);
  clock_.advance(Seconds(3300));  // exactly 5 minutes left: still good
  EXPECT_EQ(must_token(*source), first);
  EXPECT_EQ(exchanges(), 1);
  clock_.advance(Seconds(1));
  const auto second = must_token(*source);
  EXPECT_NE(second, first);
  EXPECT_EQ(exchanges(), 2);
  EXPECT_EQ(storage_status(second), 200);
}

TEST_F(TokenSourceTest, ShortLivedTokenIsRenewedSoon) {
  fake_.set_token_lifetime(Seconds(301));
  auto source = user();
  const auto first = must_token(*source);
  EXPECT_EQ(must_token(*source), first);
  clock_.advance(Seconds(2));
  EXPECT_NE(must_token(*source), first);
  EXPECT_EQ(exchanges(), 2);
}

TEST_F(TokenSourceTest, InvalidateAfterA401FetchesAFreshToken) {
  auto source = service_account();
  const auto first = must_token(*source);
  fake_.revoke_all_tokens();
  EXPECT_EQ(storage_status(first), 401);
  EXPECT_EQ(must_token(*source), first);  // the cache does not know yet
  source->invalidate();
  const auto second = must_token(*source);
  EXPECT_NE(second, first);
  EXPECT_EQ(exchanges(), 2);
  EXPECT_EQ(storage_status(second), 200);
}

TEST_F(TokenSourceTest, ConcurrentCallersShareOneExchange) {
  auto source = service_account();
  // Slow answers keep the first exchange in flight while the others ask.
  auto slow = GoogleFault::of(GoogleFault::Kind::delay, "POST", "/token");
  slow.delay = std::chrono::milliseconds(100);
  fake_.inject(slow);
  std::vector<std::future<Result<std::string>>> results;
  for (int i = 0; i < 6; ++i) {
    results.push_back(asio::co_spawn(io_, source->token(), asio::use_future));
  }
  io_.restart();
  io_.run();
  std::string first;
  for (auto& f : results) {
    auto t = f.get();
    ASSERT_TRUE(t) << to_string(t.error());
    if (first.empty()) first = *t;
    EXPECT_EQ(*t, first);
  }
  EXPECT_EQ(exchanges(), 1);
  // A later call after the flight uses the cache.
  EXPECT_EQ(must_token(*source), first);
  EXPECT_EQ(exchanges(), 1);
}

TEST_F(TokenSourceTest, AuthorizedUserRefreshAndQuotaProject) {
  const auto file = fake_.authorized_user_json();
  const auto doc = json::parse(file);
  auto source = make(config(write("adc.json", file)));
  EXPECT_EQ(source->kind(), "authorized_user");
  ASSERT_FALSE(doc.at("quota_project_id").get<std::string>().empty());
  EXPECT_EQ(source->quota_project(), doc.at("quota_project_id").get<std::string>());
  const auto t = must_token(*source);
  EXPECT_EQ(fake_.tokens_issued(TokenGrant::refresh_token), 1);
  EXPECT_EQ(storage_status(t), 200);
  const auto form = parse_query(fake_.requests("POST", "/token").at(0).body);
  EXPECT_EQ(form.at("grant_type"), "refresh_token");
  EXPECT_EQ(form.at("refresh_token"), doc.at("refresh_token").get<std::string>());
  EXPECT_EQ(form.at("client_id"), doc.at("client_id").get<std::string>());
}

TEST_F(TokenSourceTest, RejectedRefreshTokenIsNotRetryable) {
  auto doc = json::parse(fake_.authorized_user_json());
  doc["refresh_token"] = "1//revoked-REFRESH-SECRET";
  auto source = make(config(write("adc.json", doc.dump())));
  auto t = token(*source);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, "token_rejected");
  EXPECT_NE(t.error().message.find("400"), std::string::npos);
  EXPECT_EQ(to_string(t.error()).find("REFRESH-SECRET"), std::string::npos);
}

TEST_F(TokenSourceTest, MetadataServerWithTheFlavorHeader) {
  auto source = make(config("auto"), {});  // no env, no HOME: straight to the metadata server
  EXPECT_EQ(source->kind(), "metadata");
  EXPECT_EQ(fake_.count("", "/computeMetadata/*"), 0);  // probed lazily, not at creation
  const auto t = must_token(*source);
  EXPECT_EQ(fake_.tokens_issued(TokenGrant::metadata), 1);
  EXPECT_EQ(storage_status(t), 200);
  const auto sent = fake_.requests("GET", "/computeMetadata/*");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].path, "/computeMetadata/v1/instance/service-accounts/default/token");
  EXPECT_EQ(sent[0].header("metadata-flavor"), "Google");
  EXPECT_EQ(must_token(*source), t);
  EXPECT_EQ(fake_.count("GET", "/computeMetadata/*"), 1);
}

TEST_F(TokenSourceTest, NoMetadataServerMeansNoCredentials) {
  fake_.set_on_gce(false);
  auto source = make(config("auto"), {{"HOME", dir_.path().string()}});
  auto t = token(*source);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, "no_credentials");
  EXPECT_NE(t.error().message.find("GOOGLE_APPLICATION_CREDENTIALS"), std::string::npos);
  EXPECT_NE(t.error().message.find("application_default_credentials.json"), std::string::npos);
}

TEST_F(TokenSourceTest, AServerWithoutTheFlavorHeaderIsNotAMetadataServer) {
  auto c = config("auto");
  c.metadata_url = fake_.base_url() + "/r/us-central1";  // answers, but as Vertex AI
  auto source = make(c);
  auto t = token(*source);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, "no_credentials");
  EXPECT_NE(t.error().message.find("Metadata-Flavor"), std::string::npos);
}

TEST_F(TokenSourceTest, ApplicationDefaultCredentialsOrder) {
  const auto sa_path = write("keys/sa.json", fake_.service_account_key_json());
  const auto home = dir_ / "home";
  write("home/.config/gcloud/application_default_credentials.json", fake_.authorized_user_json());
  const auto auto_config = config("auto");

  // The environment variable beats gcloud's file.
  auto from_env =
      make(auto_config, {{"GOOGLE_APPLICATION_CREDENTIALS", sa_path}, {"HOME", home.string()}});
  EXPECT_EQ(from_env->kind(), "service_account");
  ASSERT_TRUE(token(*from_env));
  EXPECT_EQ(fake_.tokens_issued(TokenGrant::jwt_bearer), 1);

  // gcloud's file beats the metadata server.
  auto from_home = make(auto_config, {{"HOME", home.string()}});
  EXPECT_EQ(from_home->kind(), "authorized_user");
  ASSERT_TRUE(token(*from_home));
  EXPECT_EQ(fake_.tokens_issued(TokenGrant::refresh_token), 1);

  // Neither: the metadata server.
  auto from_metadata = make(auto_config, {{"HOME", (dir_ / "empty-home").string()}});
  EXPECT_EQ(from_metadata->kind(), "metadata");
  ASSERT_TRUE(token(*from_metadata));
  EXPECT_EQ(fake_.tokens_issued(TokenGrant::metadata), 1);

  // An explicit path ignores the environment.
  auto explicit_path = make(config(write("other/adc.json", fake_.authorized_user_json())),
                            {{"GOOGLE_APPLICATION_CREDENTIALS", sa_path}});
  EXPECT_EQ(explicit_path->kind(), "authorized_user");
}

TEST_F(TokenSourceTest, CredentialFileProblemsAreReportedAtCreation) {
  auto missing_env =
      try_make(config("auto"), {{"GOOGLE_APPLICATION_CREDENTIALS", (dir_ / "nope.json").string()}});
  ASSERT_FALSE(missing_env);
  EXPECT_EQ(missing_env.error().code, "invalid_credentials");
  EXPECT_NE(missing_env.error().message.find("GOOGLE_APPLICATION_CREDENTIALS"), std::string::npos);
  EXPECT_NE(missing_env.error().message.find("nope.json"), std::string::npos);

  auto doc = json::parse(fake_.service_account_key_json());
  doc.erase("client_email");
  auto no_email = try_make(config(write("bad.json", doc.dump())));
  ASSERT_FALSE(no_email);
  EXPECT_NE(no_email.error().message.find("dispatch.vertex_ai.credentials"), std::string::npos);
  ASSERT_EQ(no_email.error().details.size(), 1u);
  EXPECT_EQ(no_email.error().details[0].field, "client_email");
  EXPECT_EQ(to_string(no_email.error()).find("PRIVATE KEY"), std::string::npos);

  auto external = try_make(config(write("ext.json", R"({"type":"external_account"})")));
  ASSERT_FALSE(external);
  EXPECT_NE(to_string(external.error()).find("external_account"), std::string::npos);

  // gcloud's file present but broken is an error too, not a silent fall-through.
  write("home2/.config/gcloud/application_default_credentials.json", "{");
  auto broken_home = try_make(config("auto"), {{"HOME", (dir_ / "home2").string()}});
  ASSERT_FALSE(broken_home);
  EXPECT_EQ(broken_home.error().code, "invalid_credentials");
}

TEST_F(TokenSourceTest, ServerErrorIsRetryAndTheValidTokenIsKept) {
  fake_.set_token_lifetime(Seconds(400));
  auto source = user();
  const auto first = must_token(*source);
  clock_.advance(Seconds(200));  // inside the renewal window, still valid
  fake_.inject(GoogleFault::error("POST", "/token", 500, -1));
  EXPECT_EQ(must_token(*source), first);
  EXPECT_EQ(exchanges(), 2);  // it did try
  EXPECT_EQ(must_token(*source), first);
  EXPECT_EQ(exchanges(), 2);  // and waits before trying again
  clock_.advance(kTokenRenewRetryAfter);
  EXPECT_EQ(must_token(*source), first);
  EXPECT_EQ(exchanges(), 3);
  clock_.advance(Seconds(200));  // now expired
  auto t = token(*source);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, "retry");
  EXPECT_EQ(to_string(t.error()).find(first), std::string::npos);
  fake_.clear_faults();
  EXPECT_NE(must_token(*source), first);
}

TEST_F(TokenSourceTest, InvalidatedTokenIsNotKeptWhenRenewalFails) {
  auto source = service_account();
  ASSERT_TRUE(token(*source));
  source->invalidate();
  fake_.inject(GoogleFault::error("POST", "/token", 503));
  auto t = token(*source);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, "retry");
}

TEST_F(TokenSourceTest, TimeoutIsRetry) {
  HttpClientOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  http_ = std::make_unique<HttpClient>(io_.get_executor(), options);
  auto source = service_account();
  fake_.inject(GoogleFault::of(GoogleFault::Kind::hang, "POST", "/token"));
  auto t = token(*source);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, "retry");
}

TEST_F(TokenSourceTest, NoTokenOrKeyTextInLogsOrErrors) {
  DispatchLogCapture capture;
  const auto key_file = fake_.service_account_key_json();
  const auto user_file = json::parse(fake_.authorized_user_json());
  std::vector<std::string> tokens;
  std::vector<std::string> errors;
  {
    auto sa = make(config(write("sa.json", key_file)));
    tokens.push_back(must_token(*sa));
    sa->invalidate();
    fake_.inject(GoogleFault::error("POST", "/token", 400));
    auto failed = token(*sa);
    ASSERT_FALSE(failed);
    errors.push_back(to_string(failed.error()));
    tokens.push_back(must_token(*sa));
  }
  {
    auto user = make(config(write("adc.json", user_file.dump())));
    tokens.push_back(must_token(*user));
    clock_.advance(Seconds(3400));
    fake_.inject(GoogleFault::error("POST", "/token", 500));
    EXPECT_EQ(must_token(*user), tokens.back());  // kept, with a warning
    auto metadata = make(config("auto"));
    tokens.push_back(must_token(*metadata));
  }
  const auto logs = capture.text();
  EXPECT_NE(logs.find("service account"), std::string::npos);  // the capture works
  EXPECT_NE(logs.find("failed"), std::string::npos);
  std::vector<std::string> secrets = tokens;
  secrets.push_back("PRIVATE KEY");
  secrets.push_back("eyJhbGciOiJSUzI1NiIs");  // base64url of {"alg":"RS256", (a JWT's start)
  secrets.push_back(user_file.at("refresh_token").get<std::string>());
  secrets.push_back(user_file.at("client_secret").get<std::string>());
  for (const auto& secret : secrets) {
    ASSERT_FALSE(secret.empty());
    EXPECT_EQ(logs.find(secret), std::string::npos) << secret;
    for (const auto& e : errors)
      EXPECT_EQ(e.find(secret), std::string::npos) << secret;
  }
}

}  // namespace
}  // namespace gridshift::testing
