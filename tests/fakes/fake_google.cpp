#include "fakes/fake_google.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <regex>
#include <set>
#include <stdexcept>
#include <variant>

#include "core/accelerators.h"
#include "core/encoding.h"
#include "core/time.h"

namespace gridshift::testing {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;
using SysTime = std::chrono::system_clock::time_point;
using std::chrono::milliseconds;

namespace {

constexpr const char* kCloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";

const std::set<std::string, std::less<>> kTerminalStates = {
    "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
    "JOB_STATE_PARTIALLY_SUCCEEDED"};

bool is_terminal(const std::string& state) {
  return kTerminalStates.count(state) > 0;
}

struct Token {
  SteadyTime expires;
  TokenGrant grant;
};

struct Job {
  std::string id;
  std::string name;
  std::string region;
  json resource;  // the normalised request: displayName, labels, jobSpec, ...
  std::map<std::string, std::int64_t> accelerators;  // type -> count * replicas
  SteadyTime created;
  SysTime created_wall;
  std::vector<JobPhase> phases;
  std::size_t phase = 0;
  SteadyTime phase_started;
  JobScript script;
  std::optional<SysTime> start_time;
  std::optional<SysTime> end_time;
  SysTime update_time;
};

struct Object {
  std::string data;
  std::string content_type;
  std::int64_t generation = 0;
  SysTime created;
};

struct Bucket {
  std::string name;
  std::string location;
  std::string project_number;
  bool foreign = false;
  json resource;  // what was asked for: labels, storageClass, iamConfiguration, ...
  SysTime created;
  std::map<std::string, Object> objects;
};

struct EvpPkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(buffer.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  std::string out;
  for (unsigned char b : buffer)
    out += fmt::format("{:02x}", b);
  return out;
}

std::string pem_of(EVP_PKEY* key, bool private_part) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  const int ok =
      private_part ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                   : PEM_write_bio_PUBKEY(bio.get(), key);
  if (ok != 1) throw std::runtime_error("PEM encoding failed");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string std_text(text);
  while (!std_text.empty() && std_text.back() == '=')
    std_text.pop_back();
  for (char& c : std_text) {
    if (c == '+' || c == '/' || c == '=') return std::nullopt;  // not the URL-safe alphabet
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  const std::size_t pad = (4 - std_text.size() % 4) % 4;
  if (pad == 3) return std::nullopt;
  std_text.append(pad, '=');
  std::string out(std_text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(std_text.data()),
                                static_cast<int>(std_text.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string md5_base64(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_md5(), nullptr);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(digest), size));
}

// RFC 3339 UTC with microseconds, as Google's APIs write timestamps.
std::string timestamp(SysTime t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
  const std::string whole = format_rfc3339(TimePoint{secs.time_since_epoch()});
  return fmt::format("{}.{:06d}Z", whole.substr(0, whole.size() - 1), micros);
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}
std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

// A string member of a JSON object, or "" when absent or of another type.
std::string str_of(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// The string-valued members of `object[key]` (labels).
std::map<std::string, std::string> string_map(const json& object, const char* key) {
  std::map<std::string, std::string> out;
  if (!object.is_object() || !object.contains(key) || !object[key].is_object()) return out;
  for (const auto& [k, v] : object[key].items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
}

// --- answers in the three error shapes ------------------------------------------------------

FakeResponse json_answer(int status, const json& body) {
  FakeResponse r;
  r.status = status;
  r.body = body.dump();
  r.content_type = "application/json; charset=UTF-8";
  return r;
}

// How each API names an HTTP status: the google.rpc canonical code (Vertex AI) and the Cloud
// Storage error reason.
struct StatusNames {
  int http;
  const char* rpc;
  const char* gcs;
};
constexpr StatusNames kStatusNames[] = {{400, "INVALID_ARGUMENT", "invalid"},
                                        {401, "UNAUTHENTICATED", "authError"},
                                        {403, "PERMISSION_DENIED", "forbidden"},
                                        {404, "NOT_FOUND", "notFound"},
                                        {409, "ABORTED", "conflict"},
                                        {412, "FAILED_PRECONDITION", "conditionNotMet"},
                                        {429, "RESOURCE_EXHAUSTED", "rateLimitExceeded"},
                                        {499, "CANCELLED", "backendError"},
                                        {501, "UNIMPLEMENTED", "backendError"},
                                        {503, "UNAVAILABLE", "backendError"},
                                        {504, "DEADLINE_EXCEEDED", "backendError"}};

StatusNames names_of(int http) {
  for (const auto& names : kStatusNames) {
    if (names.http == http) return names;
  }
  return {http, http >= 500 ? "INTERNAL" : "UNKNOWN", http >= 500 ? "backendError" : "invalid"};
}

// google.rpc.Status in its REST form (Vertex AI).
FakeResponse rpc_error(int http, const std::string& status, const std::string& message,
                       json details = json::array()) {
  json error = {{"code", http}, {"message", message}, {"status", status}};
  if (!details.empty()) error["details"] = std::move(details);
  return json_answer(http, {{"error", error}});
}

json error_info(const std::string& reason, const std::string& service) {
  return {{"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
          {"reason", reason},
          {"domain", "googleapis.com"},
          {"metadata", {{"service", service}}}};
}

struct Violation {
  std::string field;
  std::string description;
};

FakeResponse invalid_argument(const std::vector<Violation>& violations) {
  json list = json::array();
  std::string message;
  for (const auto& v : violations) {
    list.push_back({{"field", v.field}, {"description", v.description}});
    message += (message.empty() ? "" : "; ") + v.description;
  }
  return rpc_error(400, "INVALID_ARGUMENT", message,
                   json::array({{{"@type", "type.googleapis.com/google.rpc.BadRequest"},
                                 {"fieldViolations", list}}}));
}

// Cloud Storage's older error shape: no status string, reasons in errors[].
FakeResponse gcs_error(int http, const std::string& reason, const std::string& message,
                       json extra = json::object()) {
  json item = {{"domain", "global"}, {"reason", reason}, {"message", message}};
  item.update(extra);
  return json_answer(http, {{"error", {{"code", http}, {"message", message}, {"errors", {item}}}}});
}

FakeResponse oauth_error(int http, const std::string& error, const std::string& description) {
  return json_answer(http, {{"error", error}, {"error_description", description}});
}

FakeResponse text_answer(int status, std::string body) {
  FakeResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = "text/plain; charset=utf-8";
  return r;
}

std::string default_message(int http) {
  switch (http) {
    case 400:
      return "Request contains an invalid argument.";
    case 401:
      return "Request had invalid authentication credentials.";
    case 403:
      return "The caller does not have permission.";
    case 404:
      return "Requested entity was not found.";
    case 429:
      return "Too many requests: the request rate limit is exceeded; retry later.";
    case 500:
      return "Internal error encountered.";
    case 503:
      return "The service is currently unavailable.";
    case 504:
      return "The request deadline was exceeded.";
    default:
      return fmt::format("Injected error {}.", http);
  }
}

enum class Family { vertex, storage, bigquery, token, metadata, other };

Family family_of(std::string_view path) {
  if (path.rfind("/r/", 0) == 0) return Family::vertex;
  if (path.rfind("/storage/", 0) == 0 || path.rfind("/upload/storage/", 0) == 0) {
    return Family::storage;
  }
  if (path.rfind("/bigquery/", 0) == 0) return Family::bigquery;
  if (path == "/token") return Family::token;
  if (path == "/" || path.rfind("/computeMetadata", 0) == 0) return Family::metadata;
  return Family::other;
}

FakeResponse injected_error(Family family, const GoogleFault& fault) {
  const std::string message = fault.message.empty() ? default_message(fault.status) : fault.message;
  switch (family) {
    case Family::storage:
    case Family::bigquery:
      return gcs_error(fault.status, names_of(fault.status).gcs, message);
    case Family::token:
      return oauth_error(fault.status, fault.status >= 500 ? "internal_failure" : "invalid_request",
                         message);
    case Family::metadata:
    case Family::other:
      return text_answer(fault.status, message);
    case Family::vertex:
      break;
  }
  json details = json::array();
  if (fault.status == 401) details.push_back(error_info("ACCESS_TOKEN_EXPIRED", "aiplatform"));
  if (fault.retry_after) {
    details.push_back({{"@type", "type.googleapis.com/google.rpc.RetryInfo"},
                       {"retryDelay", fmt::format("{}s", *fault.retry_after)}});
  }
  return rpc_error(fault.status, names_of(fault.status).rpc, message, details);
}

}  // namespace

// --- public helpers ---------------------------------------------------------------------------

std::string quota_metric(const std::string& accelerator_type) {
  std::string part = lower(accelerator_type);
  if (part.rfind("nvidia_tesla_", 0) == 0) part = "nvidia_" + part.substr(13);
  const bool tpu = part.rfind("tpu_", 0) == 0;
  return "aiplatform.googleapis.com/custom_model_training_" + part + (tpu ? "" : "_gpus");
}

JobScript JobScript::succeed(milliseconds queued, milliseconds pending, milliseconds run) {
  return {{{"JOB_STATE_QUEUED", queued},
           {"JOB_STATE_PENDING", pending},
           {"JOB_STATE_RUNNING", run},
           {"JOB_STATE_SUCCEEDED", kForever}}};
}
JobScript JobScript::stockout(milliseconds pending) {
  return {{{"JOB_STATE_PENDING", pending},
           {"JOB_STATE_FAILED", kForever, 8, "Resources are insufficient in region: {region}."}}};
}
JobScript JobScript::quota_failure(milliseconds pending) {
  return {{{"JOB_STATE_PENDING", pending},
           {"JOB_STATE_FAILED", kForever, 8,
            "The following quota metrics exceed quota limits: {metric}"}}};
}
JobScript JobScript::partially_succeed(milliseconds pending, milliseconds run) {
  return {{{"JOB_STATE_PENDING", pending},
           {"JOB_STATE_RUNNING", run},
           {"JOB_STATE_PARTIALLY_SUCCEEDED", kForever}}};
}
JobScript JobScript::unknown_state(milliseconds pending, std::string state) {
  return {{{"JOB_STATE_PENDING", pending}, {std::move(state), kForever}}};
}
JobScript JobScript::run_forever(milliseconds pending) {
  return {{{"JOB_STATE_PENDING", pending}, {"JOB_STATE_RUNNING", kForever}}};
}

GoogleFault GoogleFault::of(Kind kind, std::string method, std::string path, int times) {
  GoogleFault f;
  f.kind = kind;
  f.method = std::move(method);
  f.path = std::move(path);
  f.times = times;
  return f;
}
GoogleFault GoogleFault::error(std::string method, std::string path, int status, int times) {
  GoogleFault f = of(Kind::status, std::move(method), std::move(path), times);
  f.status = status;
  return f;
}
GoogleFault GoogleFault::rate_limit(std::string method, std::string path, int retry_after_s,
                                    int times) {
  GoogleFault f = error(std::move(method), std::move(path), 429, times);
  f.retry_after = retry_after_s;
  f.message =
      "Quota exceeded for quota metric 'Resource management requests' and limit "
      "'Resource management requests per minute per region' of service "
      "'aiplatform.googleapis.com'.";
  return f;
}
GoogleFault GoogleFault::quota(std::string method, std::string path, const std::string& accelerator,
                               int times) {
  GoogleFault f = error(std::move(method), std::move(path), 429, times);
  f.message = "The following quota metrics exceed quota limits: " + quota_metric(accelerator);
  return f;
}

// --- state ------------------------------------------------------------------------------------

struct FakeGoogle::State {
  explicit State(FakeGoogleOptions o) : options(std::move(o)) {}

  FakeGoogleOptions options;
  mutable std::mutex mutex;
  std::string base_url;

  std::unique_ptr<EVP_PKEY, EvpPkeyFree> key;
  std::string private_pem;
  std::string public_pem;
  std::string private_key_id = random_hex(20);
  std::string client_id = "1" + std::to_string(std::uint64_t{100000000000000000} +
                                               std::stoull(random_hex(7), nullptr, 16));
  std::string user_client_id = random_hex(8) + ".apps.googleusercontent.com";
  std::string user_client_secret = "secret-" + random_hex(12);
  std::string refresh_token = "1//0fake-" + random_hex(24);
  std::set<std::string> audiences;
  std::map<std::string, Token> tokens;
  std::map<TokenGrant, int> issued;
  std::uint64_t token_serial = 0;
  bool accept_self_signed = false;
  bool on_gce = true;

  std::map<std::string, RegionCapacity> regions;
  JobScript default_script =
      JobScript::succeed(milliseconds(0), milliseconds(50), milliseconds(200));
  std::map<std::string, JobScript> region_scripts;
  std::vector<Job> jobs;
  std::uint64_t next_job_id = 2918405720304828416ULL;
  std::uint64_t next_operation_id = 7046611012748230656ULL;
  std::map<std::string, json> operations;  // id -> Operation
  milliseconds list_lag{0};

  std::map<std::string, Bucket> buckets;
  std::int64_t last_generation = 0;

  // BigQuery: the export tables, the query jobs' results and how they are paged.
  std::map<std::string, std::vector<FakeFootprintRow>> footprint_tables;
  std::map<std::string, std::vector<FakeFootprintRow>> query_results;  // job id -> rows
  std::vector<std::string> queries;
  int bigquery_page_size = 0;
  int bigquery_pending = 0;
  std::uint64_t next_query_job = 1;

  FaultQueue<GoogleFault> faults;
};

namespace {

using State = FakeGoogle::State;

// --- tokens and JWTs --------------------------------------------------------------------------

std::string issue(State& s, TokenGrant grant) {
  auto token = fmt::format("ya29.fake-{}-{}", ++s.token_serial, random_hex(16));
  s.tokens[token] = Token{SteadyClock::now() + s.options.token_lifetime, grant};
  ++s.issued[grant];
  return token;
}

json token_answer_body(State& s, TokenGrant grant) {
  return {{"access_token", issue(s, grant)},
          {"expires_in", s.options.token_lifetime.count()},
          {"token_type", "Bearer"}};
}

bool verify_rs256(State& s, std::string_view signed_part, const std::string& signature) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, s.key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(
             ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
             reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
}

// The claims of an RS256 JWT signed with the fake's key, issued by its service account, within
// the lifetime rules of Google's token endpoint; or a description of what is wrong.
std::variant<json, std::string> verify_jwt(State& s, std::string_view jwt) {
  const auto dot1 = jwt.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos) {
    return std::string("Invalid JWT: not three dot-separated parts.");
  }
  auto header_text = base64url_decode(jwt.substr(0, dot1));
  auto claims_text = base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = base64url_decode(jwt.substr(dot2 + 1));
  if (!header_text || !claims_text || !signature) {
    return std::string("Invalid JWT: a part is not base64url.");
  }
  const json header = json::parse(*header_text, nullptr, false);
  const json claims = json::parse(*claims_text, nullptr, false);
  if (!header.is_object() || !claims.is_object()) {
    return std::string("Invalid JWT: a part is not a JSON object.");
  }
  if (str_of(header, "alg") != "RS256") return std::string("Invalid JWT: alg must be RS256.");
  if (!verify_rs256(s, jwt.substr(0, dot2), *signature)) {
    return std::string("Invalid JWT Signature.");
  }
  if (str_of(claims, "iss") != s.options.client_email) {
    return std::string("Invalid JWT: unknown issuer.");
  }
  if (!claims.contains("iat") || !claims["iat"].is_number_integer() || !claims.contains("exp") ||
      !claims["exp"].is_number_integer()) {
    return std::string("Invalid JWT: iat and exp must be integers.");
  }
  const auto iat = claims["iat"].get<std::int64_t>();
  const auto exp = claims["exp"].get<std::int64_t>();
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  if (exp <= iat || exp - iat > 3600 || iat > now + 60 || exp < now) {
    return std::string(
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
        "timeframe. Check your iat and exp values in the JWT claim.");
  }
  return claims;
}

bool has_cloud_platform_scope(const json& claims) {
  const std::string scope = str_of(claims, "scope");
  std::size_t start = 0;
  while (start <= scope.size()) {
    auto end = scope.find(' ', start);
    if (end == std::string::npos) end = scope.size();
    if (scope.compare(start, end - start, kCloudPlatformScope) == 0) return true;
    start = end + 1;
  }
  return false;
}

// Empty when the request carries a usable credential; otherwise the reason it does not.
std::optional<std::string> auth_problem(State& s, const FakeRequest& req) {
  auto auth = req.header("authorization");
  if (!auth) return "CREDENTIALS_MISSING";
  if (auth->rfind("Bearer ", 0) != 0) return "ACCESS_TOKEN_TYPE_UNSUPPORTED";
  const std::string token = auth->substr(7);
  auto it = s.tokens.find(token);
  if (it != s.tokens.end()) {
    if (it->second.expires > SteadyClock::now()) return std::nullopt;
    return "ACCESS_TOKEN_EXPIRED";
  }
  if (s.accept_self_signed && std::count(token.begin(), token.end(), '.') == 2) {
    auto verified = verify_jwt(s, token);
    if (const json* claims = std::get_if<json>(&verified)) {
      if (has_cloud_platform_scope(*claims) || !str_of(*claims, "aud").empty()) {
        return std::nullopt;
      }
    }
  }
  return "ACCESS_TOKEN_EXPIRED";
}

FakeResponse token_endpoint(State& s, const FakeRequest& req) {
  if (req.method != "POST") return oauth_error(405, "invalid_request", "Use POST.");
  const auto form = parse_query(req.body);
  auto field = [&form](const std::string& name) {
    auto it = form.find(name);
    return it == form.end() ? std::string() : it->second;
  };
  const std::string grant = field("grant_type");
  if (grant == "urn:ietf:params:oauth:grant-type:jwt-bearer") {
    auto verified = verify_jwt(s, field("assertion"));
    if (auto* problem = std::get_if<std::string>(&verified)) {
      return oauth_error(400, "invalid_grant", *problem);
    }
    const json& claims = std::get<json>(verified);
    if (!s.audiences.count(str_of(claims, "aud"))) {
      return oauth_error(400, "invalid_grant", "Invalid JWT: Failed audience check.");
    }
    if (!has_cloud_platform_scope(claims)) {
      return oauth_error(400, "invalid_scope",
                         "Invalid OAuth scope or ID token audience provided.");
    }
    return json_answer(200, token_answer_body(s, TokenGrant::jwt_bearer));
  }
  if (grant == "refresh_token") {
    if (field("client_id") != s.user_client_id || field("client_secret") != s.user_client_secret) {
      return oauth_error(401, "invalid_client", "The OAuth client was not found.");
    }
    if (field("refresh_token") != s.refresh_token) {
      return oauth_error(400, "invalid_grant", "Token has been expired or revoked.");
    }
    return json_answer(200, token_answer_body(s, TokenGrant::refresh_token));
  }
  return oauth_error(400, "unsupported_grant_type", "Invalid grant_type: " + grant);
}

// --- metadata server ------------------------------------------------------------------------

FakeResponse metadata(State& s, const FakeRequest& req) {
  FakeResponse r;
  if (!s.on_gce) {
    r.close = true;
    return r;
  }
  if (req.header("metadata-flavor") != "Google") {
    r = text_answer(403, "Missing required header \"Metadata-Flavor\": \"Google\"\n");
  } else if (req.method != "GET") {
    r = text_answer(405, "Method not allowed\n");
  } else if (req.path == "/" || req.path == "/computeMetadata/v1/") {
    r = text_answer(200, req.path == "/" ? "computeMetadata/\n" : "instance/\nproject/\n");
  } else if (req.path == "/computeMetadata/v1/instance/service-accounts/default/token") {
    r = json_answer(200, token_answer_body(s, TokenGrant::metadata));
  } else if (req.path == "/computeMetadata/v1/instance/service-accounts/default/" ||
             req.path == "/computeMetadata/v1/instance/service-accounts/default") {
    if (req.params()["recursive"] == "true") {
      r = json_answer(200, {{"aliases", {"default"}},
                            {"email", s.options.client_email},
                            {"scopes", {kCloudPlatformScope}}});
    } else {
      r = text_answer(200, "aliases\nemail\nidentity\nscopes\ntoken\n");
    }
  } else if (req.path == "/computeMetadata/v1/instance/service-accounts/default/email") {
    r = text_answer(200, s.options.client_email);
  } else if (req.path == "/computeMetadata/v1/project/project-id") {
    r = text_answer(200, s.options.project_id);
  } else if (req.path == "/computeMetadata/v1/project/numeric-project-id") {
    r = text_answer(200, s.options.project_number);
  } else {
    r = text_answer(404, "Not Found\n");
  }
  r.headers.emplace_back("Metadata-Flavor", "Google");
  return r;
}

// --- Vertex AI: job lifecycle ------------------------------------------------------------------

SysTime wall_of(const Job& job, SteadyTime t) {
  return job.created_wall + std::chrono::duration_cast<SysTime::duration>(t - job.created);
}

std::string accelerator_of(const Job& job) {
  return job.accelerators.empty() ? std::string() : job.accelerators.begin()->first;
}

void enter_phase(Job& job, std::size_t index, SteadyTime at) {
  job.phase = index;
  job.phase_started = at;
  const std::string& state = job.phases[index].state;
  const SysTime wall = wall_of(job, at);
  job.update_time = wall;
  if (state == "JOB_STATE_RUNNING" && !job.start_time) job.start_time = wall;
  if (is_terminal(state)) job.end_time = wall;
}

// Moves the job along its script up to `now`.
void advance(Job& job, SteadyTime now) {
  while (job.phase + 1 < job.phases.size()) {
    const milliseconds d = job.phases[job.phase].duration;
    if (d == kForever || d > std::chrono::hours(24 * 365 * 100)) break;
    const SteadyTime end = job.phase_started + d;
    if (end > now) break;
    enter_phase(job, job.phase + 1, end);
  }
}

// Replaces what remains of the job's script with `next`, entered now.
void rescript(Job& job, std::vector<JobPhase> next, SteadyTime now) {
  job.phases.resize(job.phase + 1);
  for (auto& p : next)
    job.phases.push_back(std::move(p));
  enter_phase(job, job.phase + 1, now);
}

const std::string& state_of(const Job& job) {
  return job.phases[job.phase].state;
}

json job_json(const Job& job) {
  json r = job.resource;
  const JobPhase& phase = job.phases[job.phase];
  r["name"] = job.name;
  r["state"] = phase.state;
  r["createTime"] = timestamp(job.created_wall);
  r["updateTime"] = timestamp(job.update_time);
  if (job.start_time) r["startTime"] = timestamp(*job.start_time);
  if (job.end_time) r["endTime"] = timestamp(*job.end_time);
  if (phase.error_code) {
    std::string message = phase.error_message;
    replace_all(message, "{region}", job.region);
    replace_all(message, "{metric}", quota_metric(accelerator_of(job)));
    r["error"] = {{"code", *phase.error_code}, {"message", message}};
  }
  // Fields a client must tolerate: reserved booleans and one the API might add tomorrow.
  r["satisfiesPzi"] = false;
  r["futureField"] = {{"addedIn", "v1.next"}, {"values", {1, 2, 3}}};
  return r;
}

FakeJob fake_job_of(const Job& job) {
  FakeJob out;
  out.name = job.name;
  out.id = job.id;
  out.region = job.region;
  out.display_name = str_of(job.resource, "displayName");
  out.labels = string_map(job.resource, "labels");
  out.state = state_of(job);
  out.resource = job_json(job);
  return out;
}

Job* find_job(State& s, const std::string& name_or_id) {
  for (auto& job : s.jobs) {
    if (job.id == name_or_id || job.name == name_or_id) return &job;
  }
  return nullptr;
}

void advance_all(State& s) {
  const auto now = SteadyClock::now();
  for (auto& job : s.jobs)
    advance(job, now);
}

Job& create_job(State& s, const std::string& region, json resource,
                std::map<std::string, std::int64_t> accelerators) {
  Job job;
  job.id = std::to_string(s.next_job_id);
  s.next_job_id += 7919;
  job.name = fmt::format("projects/{}/locations/{}/customJobs/{}", s.options.project_number, region,
                         job.id);
  job.region = region;
  job.resource = std::move(resource);
  job.accelerators = std::move(accelerators);
  job.created = SteadyClock::now();
  job.created_wall = std::chrono::system_clock::now();
  auto script = s.region_scripts.find(region);
  job.script = script != s.region_scripts.end() ? script->second : s.default_script;
  job.phases = job.script.phases;
  if (job.phases.empty()) job.phases.push_back({"JOB_STATE_PENDING", kForever});
  enter_phase(job, 0, job.created);
  advance(job, job.created);
  s.jobs.push_back(std::move(job));
  return s.jobs.back();
}

// --- Vertex AI: create validation -------------------------------------------------------------

std::string snake_of(std::string_view camel) {
  std::string out;
  for (char c : camel) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

// Proto3 JSON parsers accept the lowerCamelCase names and the proto's own snake_case names;
// anything else is an error. Renames snake_case keys to lowerCamelCase in place.
void check_fields(json& object, const std::vector<std::string>& known, const std::string& where,
                  std::vector<Violation>& out) {
  if (!object.is_object()) {
    out.push_back({where, fmt::format("Invalid value at '{}': expected an object.", where)});
    return;
  }
  for (const auto& name : known) {
    const std::string snake = snake_of(name);
    if (snake != name && object.contains(snake)) {
      object[name] = object[snake];
      object.erase(snake);
    }
  }
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      out.push_back({where, fmt::format("Invalid JSON payload received. Unknown name \"{}\" at "
                                        "'{}': Cannot find field.",
                                        key, where)});
    }
  }
}

// An int64/int32 field: a JSON integer or a decimal string, as proto3 JSON allows.
std::optional<std::int64_t> integer_of(const json& value) {
  if (value.is_number_integer()) return value.get<std::int64_t>();
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text.empty() || text.size() > 18 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    return std::stoll(text);
  }
  return std::nullopt;
}

bool valid_duration(const json& value) {
  static const std::regex kDuration(R"(^-?[0-9]+(\.[0-9]{1,9})?s$)");
  return value.is_string() && std::regex_match(value.get_ref<const std::string&>(), kDuration);
}

bool label_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c >= 0x80;
}

std::size_t utf8_length(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

void check_labels(const json& labels, std::vector<Violation>& out) {
  const std::string field = "custom_job.labels";
  if (!labels.is_object()) {
    out.push_back({field, "labels must be a map of strings."});
    return;
  }
  if (labels.size() > 64) out.push_back({field, "At most 64 labels are allowed."});
  for (const auto& [key, value] : labels.items()) {
    if (key.empty() || utf8_length(key) > 64 || !(key[0] >= 'a' && key[0] <= 'z') ||
        !std::all_of(key.begin(), key.end(),
                     [](char c) { return label_char(static_cast<unsigned char>(c)); })) {
      out.push_back({field, fmt::format("Label key \"{}\" is invalid: keys are 1-64 characters, "
                                        "start with a lowercase letter and hold only lowercase "
                                        "letters, digits, '_' and '-'.",
                                        key)});
    }
    if (!value.is_string()) {
      out.push_back({field, fmt::format("Label \"{}\" must have a string value.", key)});
      continue;
    }
    const auto& text = value.get_ref<const std::string&>();
    if (utf8_length(text) > 64 || !std::all_of(text.begin(), text.end(), [](char c) {
          return label_char(static_cast<unsigned char>(c));
        })) {
      out.push_back({field, fmt::format("Label value \"{}\" of key \"{}\" is invalid: values are "
                                        "0-64 characters of lowercase letters, digits, '_' and "
                                        "'-'.",
                                        text, key)});
    }
  }
}

struct CreateCheck {
  std::vector<Violation> violations;
  std::map<std::string, std::int64_t> accelerators;  // type -> count * replicas
};

void check_pool(const State& s, const std::string& region, json& pool, std::size_t index,
                CreateCheck& check) {
  auto& out = check.violations;
  const std::string where = fmt::format("custom_job.job_spec.worker_pool_specs[{}]", index);
  check_fields(pool,
               {"containerSpec", "pythonPackageSpec", "machineSpec", "replicaCount", "diskSpec",
                "nfsMounts", "lustreMounts"},
               where, out);
  if (!pool.is_object()) return;
  if (pool.empty() && index > 0) return;  // an unused pool of a distributed layout
  const bool container = pool.contains("containerSpec");
  const bool python = pool.contains("pythonPackageSpec");
  if (container == python) {
    out.push_back({where + ".task",
                   "Exactly one of container_spec or python_package_spec must "
                   "be set."});
  }
  if (container) {
    auto& spec = pool["containerSpec"];
    check_fields(spec, {"imageUri", "command", "args", "env"}, where + ".container_spec", out);
    if (spec.is_object() && (!spec.contains("imageUri") || !spec["imageUri"].is_string() ||
                             spec["imageUri"].get_ref<const std::string&>().empty())) {
      out.push_back({where + ".container_spec.image_uri", "image_uri is required."});
    }
  }
  if (python) {
    auto& spec = pool["pythonPackageSpec"];
    check_fields(spec, {"executorImageUri", "packageUris", "pythonModule", "args", "env"},
                 where + ".python_package_spec", out);
    for (const char* required : {"executorImageUri", "packageUris", "pythonModule"}) {
      if (spec.is_object() && !spec.contains(required)) {
        out.push_back({where + ".python_package_spec." + snake_of(required),
                       snake_of(required) + " is required."});
      }
    }
  }
  std::int64_t replicas = 0;
  if (!pool.contains("replicaCount") || !integer_of(pool["replicaCount"]) ||
      *integer_of(pool["replicaCount"]) < 1) {
    out.push_back({where + ".replica_count", "replica_count must be a positive integer."});
  } else {
    replicas = *integer_of(pool["replicaCount"]);
    pool["replicaCount"] = std::to_string(replicas);  // int64: a string in proto3 JSON
  }
  if (pool.contains("diskSpec")) {
    auto& disk = pool["diskSpec"];
    check_fields(disk, {"bootDiskType", "bootDiskSizeGb"}, where + ".disk_spec", out);
    if (disk.is_object() && disk.contains("bootDiskSizeGb")) {
      auto size = integer_of(disk["bootDiskSizeGb"]);
      if (!size) {
        out.push_back({where + ".disk_spec.boot_disk_size_gb",
                       "boot_disk_size_gb must be an "
                       "integer."});
      } else {
        disk["bootDiskSizeGb"] = *size;  // int32: a number
      }
    }
  }
  if (!pool.contains("machineSpec")) {
    out.push_back({where + ".machine_spec.machine_type", "machine_type is required."});
    return;
  }
  auto& machine = pool["machineSpec"];
  const std::string mwhere = where + ".machine_spec";
  check_fields(machine,
               {"machineType", "acceleratorType", "acceleratorCount", "tpuTopology",
                "reservationAffinity", "gpuPartitionSize"},
               mwhere, out);
  if (!machine.is_object()) return;
  if (!machine.contains("machineType") || !machine["machineType"].is_string() ||
      machine["machineType"].get_ref<const std::string&>().empty()) {
    out.push_back({mwhere + ".machine_type", "machine_type is required."});
  }
  const std::string type = str_of(machine, "acceleratorType");
  if (type.empty() || type == "ACCELERATOR_TYPE_UNSPECIFIED") return;
  auto region_it = s.regions.find(region);
  if (!is_vertex_accelerator_type(type)) {
    out.push_back({mwhere + ".accelerator_type",
                   fmt::format("Invalid value at 'custom_job.job_spec.worker_pool_specs[{}]."
                               "machine_spec.accelerator_type': \"{}\" is not a known "
                               "AcceleratorType.",
                               index, type)});
  } else if (region_it != s.regions.end() && !region_it->second.accelerators.count(type)) {
    out.push_back(
        {mwhere + ".accelerator_type",
         fmt::format("Accelerator type {} is not supported in location {}.", type, region)});
  }
  if (!machine.contains("acceleratorCount") || !integer_of(machine["acceleratorCount"]) ||
      *integer_of(machine["acceleratorCount"]) < 1) {
    out.push_back({mwhere + ".accelerator_count",
                   "accelerator_count must be a positive integer when accelerator_type is set."});
    return;
  }
  const auto count = *integer_of(machine["acceleratorCount"]);
  machine["acceleratorCount"] = count;  // int32: a number
  check.accelerators[type] += count * std::max<std::int64_t>(replicas, 1);
}

CreateCheck check_create(const State& s, const std::string& region, json& body) {
  CreateCheck check;
  auto& out = check.violations;
  check_fields(body,
               {"name", "displayName", "jobSpec", "state", "createTime", "startTime", "endTime",
                "updateTime", "error", "labels", "encryptionSpec", "webAccessUris", "satisfiesPzs",
                "satisfiesPzi"},
               "custom_job", out);
  if (!body.is_object()) return check;
  for (const char* output_only :
       {"name", "state", "createTime", "startTime", "endTime", "updateTime", "error",
        "webAccessUris", "satisfiesPzs", "satisfiesPzi"}) {
    body.erase(output_only);
  }
  if (!body.contains("displayName") || !body["displayName"].is_string() ||
      body["displayName"].get_ref<const std::string&>().empty()) {
    out.push_back({"custom_job.display_name", "display_name is required."});
  } else if (utf8_length(body["displayName"].get_ref<const std::string&>()) > 128) {
    out.push_back({"custom_job.display_name", "display_name is longer than 128 characters."});
  }
  if (body.contains("labels")) check_labels(body["labels"], out);
  if (!body.contains("jobSpec")) {
    out.push_back({"custom_job.job_spec", "job_spec is required."});
    return check;
  }
  auto& spec = body["jobSpec"];
  check_fields(spec,
               {"workerPoolSpecs", "scheduling", "serviceAccount", "network", "reservedIpRanges",
                "baseOutputDirectory", "protectedArtifactLocationId", "tensorboard",
                "enableWebAccess", "enableDashboardAccess", "experiment", "experimentRun",
                "persistentResourceId", "models", "pscInterfaceConfig"},
               "custom_job.job_spec", out);
  if (!spec.is_object()) return check;
  if (!spec.contains("workerPoolSpecs") || !spec["workerPoolSpecs"].is_array() ||
      spec["workerPoolSpecs"].empty() || !spec["workerPoolSpecs"][0].is_object() ||
      spec["workerPoolSpecs"][0].empty()) {
    out.push_back({"custom_job.job_spec.worker_pool_specs",
                   "At least one worker pool spec is required; the first one must be set."});
  } else {
    auto& pools = spec["workerPoolSpecs"];
    for (std::size_t i = 0; i < pools.size(); ++i)
      check_pool(s, region, pools[i], i, check);
  }
  if (spec.contains("scheduling")) {
    auto& scheduling = spec["scheduling"];
    check_fields(
        scheduling,
        {"timeout", "restartJobOnWorkerRestart", "strategy", "disableRetries", "maxWaitDuration"},
        "custom_job.job_spec.scheduling", out);
    for (const char* name : {"timeout", "maxWaitDuration"}) {
      if (scheduling.is_object() && scheduling.contains(name) &&
          !valid_duration(scheduling[name])) {
        out.push_back({"custom_job.job_spec.scheduling." + snake_of(name),
                       fmt::format("Invalid value at 'custom_job.job_spec.scheduling.{}' "
                                   "(google.protobuf.Duration): {}",
                                   snake_of(name), scheduling[name].dump())});
      }
    }
    static const std::set<std::string, std::less<>> kStrategies = {
        "STRATEGY_UNSPECIFIED", "ON_DEMAND", "LOW_COST", "STANDARD", "SPOT", "FLEX_START"};
    if (scheduling.is_object() && scheduling.contains("strategy") &&
        (!scheduling["strategy"].is_string() ||
         !kStrategies.count(scheduling["strategy"].get_ref<const std::string&>()))) {
      out.push_back({"custom_job.job_spec.scheduling.strategy",
                     fmt::format("Invalid value at 'custom_job.job_spec.scheduling.strategy': {}",
                                 scheduling["strategy"].dump())});
    }
  }
  if (spec.contains("baseOutputDirectory")) {
    check_fields(spec["baseOutputDirectory"], {"outputUriPrefix"},
                 "custom_job.job_spec.base_output_directory", out);
  }
  return check;
}

// 429 when the region's quota for an accelerator cannot hold this job next to its running ones.
std::optional<FakeResponse> quota_refusal(State& s, const std::string& region,
                                          const std::map<std::string, std::int64_t>& wanted) {
  auto region_it = s.regions.find(region);
  if (region_it == s.regions.end()) return std::nullopt;
  for (const auto& [type, count] : wanted) {
    auto quota = region_it->second.accelerators.find(type);
    if (quota == region_it->second.accelerators.end()) continue;  // refused earlier as 400
    std::int64_t in_use = 0;
    for (const auto& job : s.jobs) {
      if (job.region != region || is_terminal(state_of(job))) continue;
      auto held = job.accelerators.find(type);
      if (held != job.accelerators.end()) in_use += held->second;
    }
    if (in_use + count > quota->second) {
      const std::string metric = quota_metric(type);
      return rpc_error(429, "RESOURCE_EXHAUSTED",
                       "The following quota metrics exceed quota limits: " + metric,
                       json::array({{{"@type", "type.googleapis.com/google.rpc.QuotaFailure"},
                                     {"violations",
                                      {{{"subject", metric},
                                        {"description", fmt::format("{} in use of {} in {}", in_use,
                                                                    quota->second, region)}}}}}}));
    }
  }
  return std::nullopt;
}

// --- Vertex AI: LIST filter ---------------------------------------------------------------------

struct Condition {
  enum class Op { equals, not_equals, exists } op;
  std::string field;  // "labels.KEY", "state", "display_name"
  std::string value;
};

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return std::string(text);
}

std::string unquote(std::string text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    return text.substr(1, text.size() - 2);
  }
  return text;
}

// The subset of AIP-160 the daemon uses: terms joined by AND; a term is labels.KEY=VALUE,
// labels.KEY="VALUE", labels.KEY:*, state=..., display_name=... (and != for those).
std::optional<std::vector<Condition>> parse_filter(const std::string& filter) {
  std::vector<Condition> out;
  static const std::regex kAnd(R"(\s+AND\s+)");
  std::sregex_token_iterator it(filter.begin(), filter.end(), kAnd, -1), end;
  for (; it != end; ++it) {
    const std::string term = trim(it->str());
    if (term.empty()) {
      if (filter.find_first_not_of(" \t") == std::string::npos) continue;
      return std::nullopt;
    }
    static const std::regex kTerm(R"(^([A-Za-z_][A-Za-z0-9_.\-]*)\s*(!=|=|:)\s*(.*)$)");
    std::smatch m;
    if (!std::regex_match(term, m, kTerm)) return std::nullopt;
    Condition c;
    c.field = m[1].str();
    const std::string op = m[2].str();
    c.value = unquote(trim(m[3].str()));
    const bool label = c.field.rfind("labels.", 0) == 0 && c.field.size() > 7;
    if (!label && c.field != "state" && c.field != "display_name") return std::nullopt;
    if (op == ":") {
      if (!label || c.value != "*") return std::nullopt;
      c.op = Condition::Op::exists;
    } else {
      c.op = op == "=" ? Condition::Op::equals : Condition::Op::not_equals;
    }
    if (c.value.find_first_of(" ()") != std::string::npos && m[3].str()[0] != '"') {
      return std::nullopt;  // OR, NOT, parentheses: not supported by the fake
    }
    out.push_back(std::move(c));
  }
  return out;
}

bool matches(const Job& job, const std::vector<Condition>& conditions) {
  for (const auto& c : conditions) {
    std::optional<std::string> actual;
    if (c.field == "state") {
      actual = state_of(job);
    } else if (c.field == "display_name") {
      actual = str_of(job.resource, "displayName");
    } else {
      const auto labels = string_map(job.resource, "labels");
      auto it = labels.find(c.field.substr(7));
      if (it != labels.end()) actual = it->second;
    }
    switch (c.op) {
      case Condition::Op::exists:
        if (!actual) return false;
        break;
      case Condition::Op::equals:
        if (actual != c.value) return false;
        break;
      case Condition::Op::not_equals:
        if (actual == c.value) return false;
        break;
    }
  }
  return true;
}

// --- Vertex AI: routes -------------------------------------------------------------------------

FakeResponse vertex(State& s, const FakeRequest& req, bool duplicate) {
  const auto parts = split_path(req.path);
  // r/{region}/v1/projects/{p}/locations/{l}/{collection}[/{id}]
  if (parts.size() < 8 || parts.size() > 9 || parts[2] != "v1" || parts[3] != "projects" ||
      parts[5] != "locations") {
    return rpc_error(404, "NOT_FOUND", "The requested URL was not found on this server.");
  }
  if (auto problem = auth_problem(s, req)) {
    return rpc_error(401, "UNAUTHENTICATED",
                     "Request had invalid authentication credentials. Expected OAuth 2 access "
                     "token or other valid authentication credential.",
                     json::array({error_info(*problem, "aiplatform.googleapis.com")}));
  }
  const std::string& region = parts[1];
  const std::string& project = parts[4];
  const std::string& location = parts[6];
  if (location != region) {
    return rpc_error(
        400, "INVALID_ARGUMENT",
        fmt::format("Location {} does not match the endpoint's region {}.", location, region));
  }
  if (project != s.options.project_id && project != s.options.project_number) {
    return rpc_error(403, "PERMISSION_DENIED",
                     fmt::format("Permission denied on resource project {}.", project),
                     json::array({error_info("CONSUMER_INVALID", "aiplatform.googleapis.com")}));
  }
  const std::string& collection = parts[7];
  const std::string parent =
      fmt::format("projects/{}/locations/{}", s.options.project_number, region);
  advance_all(s);

  if (collection == "operations" && parts.size() == 9 && req.method == "GET") {
    auto op = s.operations.find(parts[8]);
    if (op == s.operations.end()) return rpc_error(404, "NOT_FOUND", "Operation not found.");
    return json_answer(200, op->second);
  }
  if (collection != "customJobs") {
    return rpc_error(404, "NOT_FOUND", "The requested URL was not found on this server.");
  }

  if (parts.size() == 8 && req.method == "POST") {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) {
      return rpc_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    }
    auto check = check_create(s, region, body);
    if (!check.violations.empty()) return invalid_argument(check.violations);
    if (auto refusal = quota_refusal(s, region, check.accelerators)) return *refusal;
    const Job& job = create_job(s, region, body, check.accelerators);
    json answer = job_json(job);
    if (duplicate) create_job(s, region, body, check.accelerators);
    return json_answer(200, answer);
  }
  if (parts.size() == 8 && req.method == "GET") {
    const auto params = req.params();
    auto param = [&params](const std::string& name) {
      auto it = params.find(name);
      return it == params.end() ? std::string() : it->second;
    };
    auto conditions = parse_filter(param("filter"));
    if (!conditions) {
      return rpc_error(400, "INVALID_ARGUMENT",
                       "Unsupported filter (the fake knows labels.K=V, labels.K:*, state, "
                       "display_name joined by AND): " +
                           param("filter"));
    }
    std::size_t page_size = 100;
    if (!param("pageSize").empty()) {
      auto n = integer_of(json(param("pageSize")));
      if (!n || *n < 0) return rpc_error(400, "INVALID_ARGUMENT", "Invalid page_size.");
      if (*n > 0) page_size = static_cast<std::size_t>(std::min<std::int64_t>(*n, 1000));
    }
    std::size_t offset = 0;
    if (const std::string token = param("pageToken"); !token.empty()) {
      auto decoded = base64url_decode(token);
      if (!decoded || decoded->rfind("offset:", 0) != 0 || !integer_of(json(decoded->substr(7)))) {
        return rpc_error(400, "INVALID_ARGUMENT", "Invalid page token.");
      }
      offset = static_cast<std::size_t>(*integer_of(json(decoded->substr(7))));
    }
    const auto now = SteadyClock::now();
    std::vector<const Job*> visible;
    for (const auto& job : s.jobs) {
      if (job.region == region && job.created + s.list_lag <= now && matches(job, *conditions)) {
        visible.push_back(&job);
      }
    }
    json answer = json::object();
    for (std::size_t i = offset; i < visible.size() && i < offset + page_size; ++i)
      answer["customJobs"].push_back(job_json(*visible[i]));
    if (offset + page_size < visible.size()) {
      answer["nextPageToken"] = base64url_encode(fmt::format("offset:{}", offset + page_size));
    }
    return json_answer(200, answer);
  }
  if (parts.size() != 9) {
    return rpc_error(404, "NOT_FOUND", "The requested URL was not found on this server.");
  }
  std::string id = parts[8];
  const bool cancel = id.size() > 7 && id.compare(id.size() - 7, 7, ":cancel") == 0;
  if (cancel) id.resize(id.size() - 7);
  Job* job = find_job(s, id);
  if (!job || job->region != region) {
    return rpc_error(404, "NOT_FOUND",
                     fmt::format("The CustomJob \"{}/customJobs/{}\" does not exist.", parent, id));
  }
  if (cancel && req.method == "POST") {
    const std::string& state = state_of(*job);
    if (is_terminal(state)) {
      return rpc_error(400, "FAILED_PRECONDITION",
                       fmt::format("The CustomJob \"{}\" cannot be cancelled: it is in state {}.",
                                   job->name, state));
    }
    if (state != "JOB_STATE_CANCELLING") {
      const bool race = job->script.cancel_loses_race;
      rescript(*job,
               {{"JOB_STATE_CANCELLING", job->script.cancelling_for},
                race ? JobPhase{"JOB_STATE_SUCCEEDED", kForever}
                     : JobPhase{"JOB_STATE_CANCELLED", kForever, 1,
                                fmt::format("CustomJob {} was cancelled.", job->name)}},
               SteadyClock::now());
      advance(*job, SteadyClock::now());
    }
    return json_answer(200, json::object());
  }
  if (cancel) return rpc_error(404, "NOT_FOUND", "The requested URL was not found on this server.");
  if (req.method == "GET") return json_answer(200, job_json(*job));
  if (req.method == "DELETE") {
    if (!is_terminal(state_of(*job))) {
      return rpc_error(
          400, "FAILED_PRECONDITION",
          fmt::format("The CustomJob \"{}\" is not in a final state; cancel it first.", job->name));
    }
    const std::string op_id = std::to_string(s.next_operation_id++);
    const std::string now = timestamp(std::chrono::system_clock::now());
    json op = {
        {"name", fmt::format("{}/operations/{}", parent, op_id)},
        {"metadata",
         {{"@type", "type.googleapis.com/google.cloud.aiplatform.v1.DeleteOperationMetadata"},
          {"genericMetadata", {{"createTime", now}, {"updateTime", now}}}}},
        {"done", true},
        {"response", {{"@type", "type.googleapis.com/google.protobuf.Empty"}}}};
    s.operations[op_id] = op;
    s.jobs.erase(s.jobs.begin() + (job - s.jobs.data()));
    return json_answer(200, op);
  }
  return rpc_error(404, "NOT_FOUND", "The requested URL was not found on this server.");
}

// --- Cloud Storage -------------------------------------------------------------------------------

json object_json(const Bucket& bucket, const std::string& name, const Object& object) {
  const std::string time = timestamp(object.created);
  return {{"kind", "storage#object"},
          {"id", fmt::format("{}/{}/{}", bucket.name, name, object.generation)},
          {"name", name},
          {"bucket", bucket.name},
          {"generation", std::to_string(object.generation)},
          {"metageneration", "1"},
          {"contentType", object.content_type},
          {"storageClass", "STANDARD"},
          {"size", std::to_string(object.data.size())},
          {"md5Hash", md5_base64(object.data)},
          {"etag", "CAE="},
          {"timeCreated", time},
          {"updated", time},
          {"timeStorageClassUpdated", time}};
}

json bucket_json(const Bucket& bucket) {
  json r = bucket.resource;
  const std::string time = timestamp(bucket.created);
  static const std::set<std::string, std::less<>> kMulti = {"US", "EU", "ASIA"};
  r.update({{"kind", "storage#bucket"},
            {"id", bucket.name},
            {"name", bucket.name},
            {"projectNumber", bucket.project_number},
            {"location", bucket.location},
            {"locationType", kMulti.count(bucket.location) ? "multi-region" : "region"},
            {"metageneration", "1"},
            {"etag", "CAE="},
            {"timeCreated", time},
            {"updated", time},
            {"rpo", "DEFAULT"}});
  if (!r.contains("storageClass")) r["storageClass"] = "STANDARD";
  return r;
}

bool valid_bucket_name(const std::string& name) {
  static const std::regex kName(R"(^[a-z0-9][a-z0-9._\-]{1,61}[a-z0-9]$)");
  return std::regex_match(name, kName) && name.rfind("goog", 0) != 0 &&
         name.find("google") == std::string::npos;
}

FakeResponse no_content() {
  FakeResponse r;
  r.status = 204;
  r.content_type = "application/json";
  return r;
}

FakeResponse storage(State& s, const FakeRequest& req) {
  if (auto problem = auth_problem(s, req)) {
    const bool missing = *problem == "CREDENTIALS_MISSING";
    return gcs_error(401, missing ? "required" : "authError",
                     missing ? "Login Required." : "Invalid Credentials",
                     {{"locationType", "header"}, {"location", "Authorization"}});
  }
  const auto parts = split_path(req.path);
  const auto params = req.params();
  auto param = [&params](const std::string& name) -> std::optional<std::string> {
    auto it = params.find(name);
    if (it == params.end()) return std::nullopt;
    return it->second;
  };
  const bool upload = !parts.empty() && parts[0] == "upload";
  const std::size_t base = upload ? 1 : 0;  // parts[base] == "storage"
  if (parts.size() < base + 3 || parts[base] != "storage" || parts[base + 1] != "v1" ||
      parts[base + 2] != "b") {
    return gcs_error(404, "notFound", "Not Found");
  }
  const std::size_t rest = parts.size() - base - 3;  // segments after /b
  auto owned = [&](const std::string& name) -> std::variant<Bucket*, FakeResponse> {
    auto it = s.buckets.find(name);
    if (it == s.buckets.end()) {
      return gcs_error(404, "notFound", "The specified bucket does not exist.");
    }
    if (it->second.foreign) {
      return gcs_error(403, "forbidden",
                       fmt::format("{} does not have storage.buckets.get access to the Google "
                                   "Cloud Storage bucket. Permission 'storage.buckets.get' denied "
                                   "on resource (or it may not exist).",
                                   s.options.client_email));
    }
    return &it->second;
  };

  if (upload) {
    if (rest != 2 || parts[base + 4] != "o" || req.method != "POST") {
      return gcs_error(404, "notFound", "Not Found");
    }
    const auto upload_type = param("uploadType");
    if (!upload_type) {
      return gcs_error(400, "required",
                       "Upload requests must include an uploadType URL "
                       "parameter and a URL-encoded object name.");
    }
    if (*upload_type != "media") {
      return gcs_error(400, "invalid", "The fake supports uploadType=media only.");
    }
    const auto name = param("name");
    if (!name || name->empty()) return gcs_error(400, "required", "Required parameter: name");
    auto found = owned(parts[base + 3]);
    if (auto* error = std::get_if<FakeResponse>(&found)) return *error;
    Bucket& bucket = *std::get<Bucket*>(found);
    auto existing = bucket.objects.find(*name);
    if (auto match = param("ifGenerationMatch")) {
      const std::int64_t current =
          existing == bucket.objects.end() ? 0 : existing->second.generation;
      if (*match != std::to_string(current)) {
        return gcs_error(412, "conditionNotMet",
                         "At least one of the pre-conditions you specified did not hold.",
                         {{"locationType", "header"}, {"location", "If-Match"}});
      }
    }
    const auto now = std::chrono::system_clock::now();
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
    s.last_generation = std::max<std::int64_t>(s.last_generation + 1, micros);
    Object object{req.body, req.header("content-type").value_or("application/octet-stream"),
                  s.last_generation, now};
    bucket.objects[*name] = object;
    return json_answer(200, object_json(bucket, *name, object));
  }

  if (rest == 0) {
    if (req.method != "POST") return gcs_error(404, "notFound", "Not Found");
    const auto project = param("project");
    if (!project || project->empty()) {
      return gcs_error(400, "required", "Required parameter: project");
    }
    if (*project != s.options.project_id && *project != s.options.project_number) {
      return gcs_error(403, "forbidden",
                       fmt::format("{} does not have storage.buckets.create access to the Google "
                                   "Cloud project.",
                                   s.options.client_email));
    }
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("name") || !body["name"].is_string()) {
      return gcs_error(400, "required", "Required field: name");
    }
    const std::string name = body["name"];
    if (!valid_bucket_name(name)) {
      return gcs_error(400, "invalid", fmt::format("Invalid bucket name: '{}'", name));
    }
    if (auto it = s.buckets.find(name); it != s.buckets.end()) {
      return gcs_error(409, "conflict",
                       it->second.foreign
                           ? "The requested bucket name is not available. The bucket namespace "
                             "is shared by all users of the system. Please select a different "
                             "name and try again."
                           : "Your previous request to create the named bucket succeeded and you "
                             "already own it.");
    }
    Bucket bucket;
    bucket.name = name;
    bucket.location = body.contains("location") ? upper(str_of(body, "location")) : "US";
    bucket.project_number = s.options.project_number;
    bucket.created = std::chrono::system_clock::now();
    body.erase("location");
    bucket.resource = body;
    const json answer = bucket_json(bucket);
    s.buckets[name] = std::move(bucket);
    return json_answer(200, answer);
  }

  auto found = owned(parts[base + 3]);
  if (auto* error = std::get_if<FakeResponse>(&found)) return *error;
  Bucket& bucket = *std::get<Bucket*>(found);
  if (rest == 1) {
    if (req.method == "GET") return json_answer(200, bucket_json(bucket));
    if (req.method == "DELETE") {
      if (!bucket.objects.empty()) {
        return gcs_error(409, "conflict", "The bucket you tried to delete is not empty.");
      }
      s.buckets.erase(bucket.name);
      return no_content();
    }
    return gcs_error(404, "notFound", "Not Found");
  }
  if (parts[base + 4] != "o") return gcs_error(404, "notFound", "Not Found");
  if (rest == 2) {
    if (req.method != "GET") return gcs_error(404, "notFound", "Not Found");
    const std::string prefix = param("prefix").value_or("");
    std::size_t max_results = 1000;
    if (auto m = param("maxResults")) {
      auto n = integer_of(json(*m));
      if (!n || *n < 1) return gcs_error(400, "invalid", "Invalid value for maxResults.");
      max_results = static_cast<std::size_t>(std::min<std::int64_t>(*n, 1000));
    }
    const std::string start = param("pageToken").value_or("");
    json answer = {{"kind", "storage#objects"}};
    std::size_t n = 0;
    for (auto it = bucket.objects.lower_bound(start); it != bucket.objects.end(); ++it) {
      if (it->first.rfind(prefix, 0) != 0) continue;
      if (n == max_results) {
        answer["nextPageToken"] = it->first;  // opaque to clients; the next name here
        break;
      }
      answer["items"].push_back(object_json(bucket, it->first, it->second));
      ++n;
    }
    return json_answer(200, answer);
  }
  if (rest != 3) return gcs_error(404, "notFound", "Not Found");  // an unencoded '/'
  const std::string& name = parts[base + 5];
  auto object = bucket.objects.find(name);
  auto generation = param("generation");
  if (object == bucket.objects.end() ||
      (generation && *generation != std::to_string(object->second.generation))) {
    return gcs_error(404, "notFound", fmt::format("No such object: {}/{}", bucket.name, name));
  }
  if (req.method == "GET") return json_answer(200, object_json(bucket, name, object->second));
  if (req.method == "DELETE") {
    bucket.objects.erase(object);
    return no_content();
  }
  return gcs_error(404, "notFound", "Not Found");
}

// --- BigQuery -----------------------------------------------------------------------------------

// One page of a query job's rows, as jobs.query and jobs.getQueryResults answer it: the schema
// of the 4 columns gridshift selects, rows as {"f": [{"v": ...}]} with FLOATs as strings.
FakeResponse query_page(State& s, const std::string& project, const std::string& job_id,
                        std::size_t from, const char* kind) {
  json answer = {{"kind", kind},
                 {"jobReference", {{"projectId", project}, {"jobId", job_id}, {"location", "EU"}}},
                 {"jobComplete", false}};
  if (s.bigquery_pending > 0) {
    --s.bigquery_pending;
    return json_answer(200, answer);
  }
  const auto& all = s.query_results[job_id];
  const std::size_t size =
      s.bigquery_page_size > 0 ? static_cast<std::size_t>(s.bigquery_page_size) : all.size();
  const std::size_t to = std::min(all.size(), from + size);
  answer["jobComplete"] = true;
  answer["totalRows"] = std::to_string(all.size());
  answer["schema"] = {{"fields",
                       {{{"name", "usage_month"}, {"type", "DATE"}, {"mode", "NULLABLE"}},
                        {{"name", "region"}, {"type", "STRING"}, {"mode", "NULLABLE"}},
                        {{"name", "service"}, {"type", "STRING"}, {"mode", "NULLABLE"}},
                        {{"name", "kg"}, {"type", "FLOAT"}, {"mode", "NULLABLE"}}}}};
  json rows = json::array();
  for (std::size_t i = from; i < to; ++i) {
    const auto& r = all[i];
    rows.push_back({{"f",
                     {{{"v", r.usage_month}},
                      {{"v", r.region}},
                      {{"v", r.service}},
                      {{"v", r.kg ? json(fmt::format("{}", *r.kg)) : json()}}}}});
  }
  if (!rows.empty()) answer["rows"] = std::move(rows);
  if (to < all.size()) answer["pageToken"] = "page-" + std::to_string(to);
  return json_answer(200, answer);
}

FakeResponse bigquery(State& s, const FakeRequest& req) {
  if (auto problem = auth_problem(s, req)) {
    return gcs_error(401, "authError", "Request is missing required authentication credential.");
  }
  const auto parts = split_path(req.path);  // bigquery v2 projects {p} queries [{job}]
  if (parts.size() < 5 || parts[1] != "v2" || parts[2] != "projects" || parts[4] != "queries") {
    return gcs_error(404, "notFound", "Not found: " + req.path);
  }
  const std::string& project = parts[3];
  if (req.method == "POST" && parts.size() == 5) {
    const auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("query") || !body["query"].is_string()) {
      return gcs_error(400, "invalid", "Required parameter is missing: query");
    }
    if (body.value("useLegacySql", true)) {
      return gcs_error(400, "invalid", "this fake answers standard SQL only (useLegacySql: false)");
    }
    const std::string query = body["query"];
    s.queries.push_back(query);
    const auto open = query.find('`');
    const auto close = open == std::string::npos ? open : query.find('`', open + 1);
    if (close == std::string::npos) return gcs_error(400, "invalidQuery", "no table in the query");
    const std::string table = query.substr(open + 1, close - open - 1);
    const auto found = s.footprint_tables.find(table);
    if (found == s.footprint_tables.end()) {
      return gcs_error(404, "notFound", "Not found: Table " + table + " was not found");
    }
    std::vector<FakeFootprintRow> rows = found->second;
    const std::string condition = "service.description = '";
    if (const auto at = query.find(condition); at != std::string::npos) {
      const auto end = query.find('\'', at + condition.size());
      const std::string service = query.substr(at + condition.size(), end - at - condition.size());
      std::erase_if(rows, [&](const FakeFootprintRow& r) { return r.service != service; });
    }
    const std::string job_id = fmt::format("job_fake_{}", s.next_query_job++);
    s.query_results[job_id] = std::move(rows);
    return query_page(s, project, job_id, 0, "bigquery#queryResponse");
  }
  if (req.method == "GET" && parts.size() == 6) {
    if (!s.query_results.contains(parts[5])) {
      return gcs_error(404, "notFound", "Not found: Job " + project + ":EU." + parts[5]);
    }
    const auto params = req.params();
    std::size_t from = 0;
    if (auto it = params.find("pageToken"); it != params.end()) {
      if (!it->second.starts_with("page-")) return gcs_error(400, "invalid", "bad pageToken");
      from = std::stoul(it->second.substr(5));
    }
    return query_page(s, project, parts[5], from, "bigquery#getQueryResultsResponse");
  }
  return gcs_error(404, "notFound", "Not found: " + req.path);
}

// --- dispatch -----------------------------------------------------------------------------------

FakeResponse route(State& s, const FakeRequest& req, Family family, bool duplicate) {
  switch (family) {
    case Family::vertex:
      return vertex(s, req, duplicate);
    case Family::storage:
      return storage(s, req);
    case Family::bigquery:
      return bigquery(s, req);
    case Family::token:
      return token_endpoint(s, req);
    case Family::metadata:
      return metadata(s, req);
    case Family::other:
      break;
  }
  return text_answer(404, "Not Found\n");
}

FakeResponse handle(State& s, const FakeRequest& req) {
  std::lock_guard lock(s.mutex);
  const Family family = family_of(req.path);
  auto fault = s.faults.take(req.method, req.path);
  if (!fault) return route(s, req, family, false);
  FakeResponse r;
  using Kind = GoogleFault::Kind;
  switch (fault->kind) {
    case Kind::status:
      r = injected_error(family, *fault);
      break;
    case Kind::delay:
      r = route(s, req, family, false);
      break;
    case Kind::hang:
      r.hang = true;
      break;
    case Kind::reset:
      r.close = true;
      break;
    case Kind::bad_json:
      r = route(s, req, family, false);
      r.status = 200;
      r.body = R"({"name": "projects/)";
      r.body += "<html><body>502 Bad Gateway</body></html>";
      break;
    case Kind::truncated_body:
      r = route(s, req, family, false);
      r.truncate = true;
      break;
    case Kind::commit_then_fail:
      route(s, req, family, false);
      if (fault->status == 0) {
        r.close = true;
      } else {
        r = injected_error(family, *fault);
      }
      break;
    case Kind::duplicate_on_create:
      r = route(s, req, family, true);
      break;
  }
  if (fault->retry_after && r.status >= 400) {
    r.headers.emplace_back("Retry-After", std::to_string(*fault->retry_after));
  }
  r.delay = fault->delay;
  return r;
}

}  // namespace

// --- FakeGoogle -------------------------------------------------------------------------------

FakeGoogle::FakeGoogle(FakeGoogleOptions options)
    : state_(std::make_shared<State>(std::move(options))) {
  state_->key.reset(EVP_RSA_gen(2048));
  if (!state_->key) throw std::runtime_error("RSA key generation failed");
  state_->private_pem = pem_of(state_->key.get(), true);
  state_->public_pem = pem_of(state_->key.get(), false);
  FakeHttpServerOptions server_options;
  server_options.max_recorded = 100000;
  server_options.redact_authorization = true;
  server_ = std::make_unique<FakeHttpServer>(
      [s = state_.get()](const FakeRequest& request) { return handle(*s, request); },
      server_options);
  std::lock_guard lock(state_->mutex);
  state_->base_url = server_->base_url();
  state_->audiences.insert(state_->base_url + "/token");
}

FakeGoogle::~FakeGoogle() {
  server_.reset();  // the server thread goes first: its handler uses state_
}

std::string FakeGoogle::base_url() const {
  return server_->base_url();
}
std::uint16_t FakeGoogle::port() const {
  return server_->port();
}
std::string FakeGoogle::vertex_endpoint(const std::string& region) const {
  return base_url() + "/r/" + region;
}
std::string FakeGoogle::vertex_dispatch_yaml(const std::string& credentials) const {
  const std::string base = base_url();
  return "dispatch:\n"
         "  type: vertex_ai\n"
         "  vertex_ai:\n"
         "    project: " +
         options().project_id + "\n    credentials: " + credentials + "\n    endpoint: \"" + base +
         "/r/{region}\"\n    storage_endpoint: \"" + base + "\"\n    token_uri: \"" + token_uri() +
         "\"\n    metadata_url: \"" + base + "\"\n";
}

std::string FakeGoogle::token_uri() const {
  return base_url() + "/token";
}
std::string FakeGoogle::metadata_base() const {
  return base_url();
}
std::string FakeGoogle::storage_base() const {
  return base_url();
}
const FakeGoogleOptions& FakeGoogle::options() const {
  return state_->options;
}

std::string FakeGoogle::service_account_key_json(const std::string& token_uri) const {
  std::lock_guard lock(state_->mutex);
  const std::string uri = token_uri.empty() ? state_->base_url + "/token" : token_uri;
  state_->audiences.insert(uri);
  const auto& o = state_->options;
  return json{{"type", "service_account"},
              {"project_id", o.project_id},
              {"private_key_id", state_->private_key_id},
              {"private_key", state_->private_pem},
              {"client_email", o.client_email},
              {"client_id", state_->client_id},
              {"auth_uri", "https://accounts.google.com/o/oauth2/auth"},
              {"token_uri", uri},
              {"auth_provider_x509_cert_url", "https://www.googleapis.com/oauth2/v1/certs"},
              {"client_x509_cert_url",
               "https://www.googleapis.com/robot/v1/metadata/x509/" + o.client_email},
              {"universe_domain", "googleapis.com"}}
      .dump(2);
}

std::string FakeGoogle::authorized_user_json() const {
  std::lock_guard lock(state_->mutex);
  return json{{"account", ""},
              {"client_id", state_->user_client_id},
              {"client_secret", state_->user_client_secret},
              {"quota_project_id", state_->options.project_id},
              {"refresh_token", state_->refresh_token},
              {"type", "authorized_user"},
              {"universe_domain", "googleapis.com"}}
      .dump(2);
}

std::string FakeGoogle::private_key_pem() const {
  return state_->private_pem;
}
std::string FakeGoogle::public_key_pem() const {
  return state_->public_pem;
}

std::string FakeGoogle::issue_token() {
  std::lock_guard lock(state_->mutex);
  return issue(*state_, TokenGrant::direct);
}
void FakeGoogle::set_token_lifetime(std::chrono::seconds lifetime) {
  std::lock_guard lock(state_->mutex);
  state_->options.token_lifetime = lifetime;
}
void FakeGoogle::revoke_all_tokens() {
  std::lock_guard lock(state_->mutex);
  state_->tokens.clear();
}
int FakeGoogle::tokens_issued(TokenGrant grant) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->issued.find(grant);
  return it == state_->issued.end() ? 0 : it->second;
}
void FakeGoogle::set_accept_self_signed_jwt(bool accept) {
  std::lock_guard lock(state_->mutex);
  state_->accept_self_signed = accept;
}
void FakeGoogle::set_on_gce(bool on_gce) {
  std::lock_guard lock(state_->mutex);
  state_->on_gce = on_gce;
}

void FakeGoogle::set_region(const std::string& region, RegionCapacity capacity) {
  std::lock_guard lock(state_->mutex);
  state_->regions[region] = std::move(capacity);
}
void FakeGoogle::set_job_script(JobScript script, const std::string& region) {
  std::lock_guard lock(state_->mutex);
  if (region.empty()) {
    state_->default_script = std::move(script);
  } else {
    state_->region_scripts[region] = std::move(script);
  }
}
bool FakeGoogle::force_job_state(const std::string& name_or_id, const std::string& state,
                                 std::optional<int> error_code, const std::string& error_message) {
  std::lock_guard lock(state_->mutex);
  Job* job = find_job(*state_, name_or_id);
  if (!job) return false;
  const auto now = SteadyClock::now();
  advance(*job, now);
  rescript(*job, {{state, kForever, error_code, error_message}}, now);
  return true;
}
void FakeGoogle::set_list_lag(std::chrono::milliseconds lag) {
  std::lock_guard lock(state_->mutex);
  state_->list_lag = lag;
}
FakeJob FakeGoogle::add_job(const std::string& region, const json& custom_job) {
  std::lock_guard lock(state_->mutex);
  return fake_job_of(create_job(*state_, region, custom_job, {}));
}

std::vector<FakeJob> FakeGoogle::jobs() const {
  std::lock_guard lock(state_->mutex);
  advance_all(*state_);
  std::vector<FakeJob> out;
  for (const auto& job : state_->jobs)
    out.push_back(fake_job_of(job));
  return out;
}
std::vector<FakeJob> FakeGoogle::jobs_with_label(const std::string& key,
                                                 const std::string& value) const {
  std::vector<FakeJob> out;
  for (auto& job : jobs()) {
    auto it = job.labels.find(key);
    if (it != job.labels.end() && it->second == value) out.push_back(std::move(job));
  }
  return out;
}
std::optional<FakeJob> FakeGoogle::job(const std::string& name_or_id) const {
  std::lock_guard lock(state_->mutex);
  Job* job = find_job(*state_, name_or_id);
  if (!job) return std::nullopt;
  advance(*job, SteadyClock::now());
  return fake_job_of(*job);
}

void FakeGoogle::add_foreign_bucket(const std::string& name) {
  std::lock_guard lock(state_->mutex);
  Bucket bucket;
  bucket.name = name;
  bucket.location = "US";
  bucket.project_number = "999999999999";
  bucket.foreign = true;
  bucket.created = std::chrono::system_clock::now();
  state_->buckets[name] = std::move(bucket);
}
void FakeGoogle::set_footprint_table(const std::string& table, std::vector<FakeFootprintRow> rows) {
  std::lock_guard lock(state_->mutex);
  state_->footprint_tables[table] = std::move(rows);
}

void FakeGoogle::set_bigquery_page_size(int rows) {
  std::lock_guard lock(state_->mutex);
  state_->bigquery_page_size = rows;
}

void FakeGoogle::set_bigquery_pending(int answers) {
  std::lock_guard lock(state_->mutex);
  state_->bigquery_pending = answers;
}

std::vector<std::string> FakeGoogle::bigquery_queries() const {
  std::lock_guard lock(state_->mutex);
  return state_->queries;
}

void FakeGoogle::add_bucket(const std::string& name, const std::string& location) {
  std::lock_guard lock(state_->mutex);
  Bucket bucket;
  bucket.name = name;
  bucket.location = upper(location);
  bucket.project_number = state_->options.project_number;
  bucket.resource = json::object();
  bucket.created = std::chrono::system_clock::now();
  state_->buckets[name] = std::move(bucket);
}
void FakeGoogle::add_object(const std::string& bucket, const std::string& name, std::string data,
                            std::string content_type) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->buckets.find(bucket);
  if (it == state_->buckets.end()) throw std::invalid_argument("no such bucket: " + bucket);
  state_->last_generation += 1;
  it->second.objects[name] = Object{std::move(data), std::move(content_type),
                                    state_->last_generation, std::chrono::system_clock::now()};
}

namespace {
FakeBucket fake_bucket_of(const Bucket& b) {
  FakeBucket out;
  out.name = b.name;
  out.location = b.location;
  out.project_number = b.project_number;
  out.labels = string_map(b.resource, "labels");
  for (const auto& [name, object] : b.objects)
    out.objects.push_back({name, object.data, object.content_type, object.generation});
  return out;
}
}  // namespace

std::vector<FakeBucket> FakeGoogle::buckets() const {
  std::lock_guard lock(state_->mutex);
  std::vector<FakeBucket> out;
  for (const auto& [name, bucket] : state_->buckets) {
    if (!bucket.foreign) out.push_back(fake_bucket_of(bucket));
  }
  return out;
}
std::optional<FakeBucket> FakeGoogle::bucket(const std::string& name) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->buckets.find(name);
  if (it == state_->buckets.end() || it->second.foreign) return std::nullopt;
  return fake_bucket_of(it->second);
}

void FakeGoogle::inject(GoogleFault fault) {
  std::lock_guard lock(state_->mutex);
  state_->faults.add(fault.method, fault.path, fault);
}
void FakeGoogle::clear_faults() {
  std::lock_guard lock(state_->mutex);
  state_->faults.clear();
}

std::vector<RecordedRequest> FakeGoogle::requests() const {
  return server_->recorded();
}
std::vector<RecordedRequest> FakeGoogle::requests(const std::string& method,
                                                  const std::string& path_glob) const {
  std::vector<RecordedRequest> out;
  for (auto& r : server_->recorded()) {
    if ((method.empty() || r.method == method) && glob_match(path_glob, r.path)) {
      out.push_back(std::move(r));
    }
  }
  return out;
}
int FakeGoogle::count(const std::string& method, const std::string& path_glob) const {
  return static_cast<int>(requests(method, path_glob).size());
}
void FakeGoogle::clear_requests() {
  server_->clear_recorded();
}
int FakeGoogle::max_concurrent() const {
  return server_->max_concurrent();
}

}  // namespace gridshift::testing
