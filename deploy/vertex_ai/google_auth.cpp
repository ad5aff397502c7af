#include "deploy/vertex_ai/google_auth.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/encoding.h"

namespace gridshift {
namespace {

using json = nlohmann::json;

// Longest piece of server-supplied text quoted in an error message.
constexpr std::size_t kMaxQuoted = 200;
// A token living longer than ten years is a broken response, and would overflow time maths.
constexpr std::int64_t kMaxExpiresIn = 10LL * 365 * 86400;

// OpenSSL's queued error reasons, oldest first ("error:...:DECODER routines::unsupported").
// Reason strings describe the failure, never the input bytes.
std::string openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "no reason given" : out;
}

// Refuses a passphrase prompt: an encrypted key in a key file is an error, never a tty read.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// Printable ASCII only, cut to kMaxQuoted: server text quoted in a one-line error message.
std::string quote_server_text(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxQuoted))
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > kMaxQuoted) out += "...";
  return out;
}

// A required (or optional) non-empty string member; problems go to `errors`.
std::string string_field(const json& doc, const char* name, bool required,
                         std::vector<FieldError>& errors) {
  auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) {
    if (required) errors.push_back({name, "missing"});
    return {};
  }
  if (!it->is_string()) {
    errors.push_back({name, "must be a string"});
    return {};
  }
  const auto& value = it->get_ref<const std::string&>();
  if (value.empty() && required) errors.push_back({name, "must not be empty"});
  return value;
}

Result<ServiceAccountCredentials> parse_service_account(json& doc) {
  std::vector<FieldError> errors;
  ServiceAccountCredentials out;
  out.client_email = string_field(doc, "client_email", true, errors);
  out.private_key_id = string_field(doc, "private_key_id", false, errors);
  out.project_id = string_field(doc, "project_id", false, errors);
  if (auto uri = string_field(doc, "token_uri", false, errors); !uri.empty()) out.token_uri = uri;
  auto key = doc.find("private_key");
  if (key == doc.end() || key->is_null()) {
    errors.push_back({"private_key", "missing"});
  } else if (!key->is_string()) {
    errors.push_back({"private_key", "must be a string holding a PEM private key"});
  } else {
    // Loads straight from the DOM's string so that from_pem wipes the only decoded copy.
    auto loaded = PrivateKey::from_pem(key->get_ref<std::string&>());
    if (loaded) {
      out.private_key = std::move(*loaded);
    } else {
      const auto error = loaded.error();
      errors.insert(errors.end(), error.details.begin(), error.details.end());
    }
  }
  if (!errors.empty()) {
    return make_error(errc::kInvalidCredentials, "invalid service_account credentials",
                      std::move(errors));
  }
  return out;
}

Result<AuthorizedUserCredentials> parse_authorized_user(const json& doc) {
  std::vector<FieldError> errors;
  AuthorizedUserCredentials out;
  out.client_id = string_field(doc, "client_id", true, errors);
  out.client_secret = string_field(doc, "client_secret", true, errors);
  out.refresh_token = string_field(doc, "refresh_token", true, errors);
  out.quota_project_id = string_field(doc, "quota_project_id", false, errors);
  if (auto uri = string_field(doc, "token_uri", false, errors); !uri.empty()) out.token_uri = uri;
  if (!errors.empty()) {
    return make_error(errc::kInvalidCredentials, "invalid authorized_user credentials",
                      std::move(errors));
  }
  return out;
}

Result<std::int64_t> parse_expires_in(const json& value) {
  std::int64_t seconds = 0;
  if (value.is_number_unsigned()) {
    const auto n = value.get<std::uint64_t>();
    seconds = n > static_cast<std::uint64_t>(kMaxExpiresIn) ? -1 : static_cast<std::int64_t>(n);
  } else if (value.is_number_integer()) {
    seconds = value.get<std::int64_t>();
  } else if (value.is_string()) {
    // Some servers send the number as a string; accept plain digits only.
    const auto& s = value.get_ref<const std::string&>();
    if (s.empty() || s.size() > 12 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      seconds = -1;
    } else {
      seconds = std::stoll(s);
    }
  } else {
    seconds = -1;
  }
  if (seconds <= 0 || seconds > kMaxExpiresIn) {
    return make_error("bad_token_response", "the token response is unusable",
                      {{"expires_in", "must be a positive number of seconds"}});
  }
  return seconds;
}

// "invalid_grant (Invalid JWT Signature.)" from an RFC 6749 §5.2 error body, if it is one.
std::string rfc6749_error(std::string_view body) {
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return {};
  auto error = doc.find("error");
  if (error == doc.end() || !error->is_string()) return {};
  std::string out = quote_server_text(error->get_ref<const std::string&>());
  auto description = doc.find("error_description");
  if (description != doc.end() && description->is_string()) {
    out += " (" + quote_server_text(description->get_ref<const std::string&>()) + ")";
  }
  return out;
}

bool header_safe(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

void PrivateKey::Free::operator()(EVP_PKEY* key) const {
  EVP_PKEY_free(key);
}

Result<PrivateKey> PrivateKey::from_pem(std::string& pem) {
  auto fail = [&pem](std::string reason) -> Result<PrivateKey> {
    wipe(pem);
    return make_error(errc::kInvalidCredentials, "cannot load the private key",
                      {{"private_key", std::move(reason)}});
  };
  if (pem.empty()) return fail("must not be empty");
  if (pem.size() > static_cast<std::size_t>(INT_MAX)) return fail("too large");
  ERR_clear_error();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return fail("cannot allocate a buffer: " + openssl_errors());
  PrivateKey key;
  key.key_.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, &no_passphrase, nullptr));
  bio.reset();
  if (!key.key_) return fail("not a PEM private key: " + openssl_errors());
  if (EVP_PKEY_get_base_id(key.key_.get()) != EVP_PKEY_RSA) {
    return fail("not an RSA key (RS256 needs one)");
  }
  wipe(pem);
  return key;
}

Result<GoogleCredentials> parse_google_credentials(std::string text) {
  // No parser message: it may quote the input, which can be key material.
  auto doc = json::parse(text, nullptr, false);
  wipe(text);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(errc::kInvalidCredentials, "invalid Google credentials",
                      {{"", "not a JSON object"}});
  }
  auto type = doc.find("type");
  if (type == doc.end() || !type->is_string()) {
    return make_error(errc::kInvalidCredentials, "invalid Google credentials",
                      {{"type", "missing; expected service_account or authorized_user"}});
  }
  const auto& name = type->get_ref<const std::string&>();
  if (name == "service_account") {
    auto sa = parse_service_account(doc);
    if (!sa) return sa.error();
    return GoogleCredentials(std::move(*sa));
  }
  if (name == "authorized_user") {
    auto user = parse_authorized_user(doc);
    if (!user) return user.error();
    return GoogleCredentials(std::move(*user));
  }
  return make_error(errc::kInvalidCredentials, "unsupported Google credentials",
                    {{"type", fmt::format("credentials of type \"{}\" are not supported; use a "
                                          "service_account key or authorized_user credentials",
                                          quote_server_text(name))}});
}

Result<std::string> sign_rs256(const PrivateKey& key, std::string_view data) {
  if (!key) return make_error("signing_failed", "no private key loaded");
  ERR_clear_error();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSignUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestSignFinal(ctx.get(), nullptr, &size) != 1) {
    return make_error("signing_failed", "cannot sign the JWT: " + openssl_errors());
  }
  std::string signature(size, '\0');
  if (EVP_DigestSignFinal(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size) !=
      1) {
    return make_error("signing_failed", "cannot sign the JWT: " + openssl_errors());
  }
  signature.resize(size);
  return signature;
}

Result<std::string> make_jwt_assertion(const ServiceAccountCredentials& credentials,
                                       TimePoint now) {
  nlohmann::ordered_json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (!credentials.private_key_id.empty()) header["kid"] = credentials.private_key_id;
  const auto iat = (now - kJwtBackdate).time_since_epoch().count();
  const nlohmann::ordered_json claims = {{"iss", credentials.client_email},
                                         {"scope", kCloudPlatformScope},
                                         {"aud", credentials.token_uri},
                                         {"iat", iat},
                                         {"exp", iat + kJwtLifetime.count()}};
  std::string signing_input =
      base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
  auto signature = sign_rs256(credentials.private_key, signing_input);
  if (!signature) return signature.error();
  return signing_input + "." + base64url_encode(*signature);
}

std::string form_encode(const std::vector<std::pair<std::string_view, std::string_view>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += percent_encode(name);
    out += '=';
    out += percent_encode(value);
  }
  return out;
}

std::string jwt_bearer_form(std::string_view assertion) {
  return form_encode(
      {{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"}, {"assertion", assertion}});
}

std::string refresh_token_form(const AuthorizedUserCredentials& credentials) {
  return form_encode({{"grant_type", "refresh_token"},
                      {"refresh_token", credentials.refresh_token},
                      {"client_id", credentials.client_id},
                      {"client_secret", credentials.client_secret}});
}

Result<AccessToken> parse_token_response(int status, std::string_view body) {
  if (status < 200 || status > 299) {
    const bool transient = status == 429 || status >= 500;
    const auto reason = rfc6749_error(body);
    std::vector<FieldError> details;
    if (!reason.empty()) details.push_back({"error", reason});
    return make_error(transient ? errc::kRetry : "token_rejected",
                      fmt::format("the token endpoint answered HTTP {}{}{}", status,
                                  reason.empty() ? "" : ": ", reason),
                      std::move(details));
  }
  auto bad = [](std::vector<FieldError> details) -> Result<AccessToken> {
    return make_error("bad_token_response", "the token response is unusable", std::move(details));
  };
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return bad({{"", "not a JSON object"}});
  std::vector<FieldError> errors;
  AccessToken out;
  out.value = string_field(doc, "access_token", true, errors);
  if (!out.value.empty() && !header_safe(out.value)) {
    errors.push_back({"access_token", "contains characters not allowed in a header"});
  }
  out.token_type = string_field(doc, "token_type", true, errors);
  if (!out.token_type.empty()) {
    std::string lower = out.token_type;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower != "bearer") {
      errors.push_back({"token_type", fmt::format("is \"{}\", expected Bearer",
                                                  quote_server_text(out.token_type))});
    }
  }
  auto expires_in = doc.find("expires_in");
  if (expires_in == doc.end() || expires_in->is_null()) {
    errors.push_back({"expires_in", "missing"});
  } else if (auto seconds = parse_expires_in(*expires_in); !seconds) {
    const auto error = seconds.error();
    errors.insert(errors.end(), error.details.begin(), error.details.end());
  } else {
    out.expires_in = Seconds{*seconds};
  }
  if (!errors.empty()) {
    wipe(out.value);
    return bad(std::move(errors));
  }
  return out;
}

}  // namespace gridshift
