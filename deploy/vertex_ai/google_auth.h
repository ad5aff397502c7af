// Google OAuth2 credentials without Google's client libraries: credentials JSON files
// (service_account, authorized_user), the RS256 JWT assertion, token request bodies and token
// responses. Pure: no network, no clock reads (callers pass `now`). Values are move-only (they
// own an OpenSSL key); a loaded PrivateKey is safe to use from one thread at a time.
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/encoding.h"  // base64url_encode for JWTs
#include "core/result.h"
#include "core/time.h"

namespace gridshift {

inline constexpr std::string_view kGoogleTokenUri = "https://oauth2.googleapis.com/token";
inline constexpr std::string_view kCloudPlatformScope =
    "https://www.googleapis.com/auth/cloud-platform";
// Google clients back-date `iat` so that a server clock slightly behind ours accepts it.
inline constexpr Seconds kJwtBackdate{10};
inline constexpr Seconds kJwtLifetime{3600};

// An RSA (or other) private key loaded once from PEM; freed with the object.
class PrivateKey {
 public:
  PrivateKey() = default;
  // Error code "invalid_credentials" naming field "private_key"; the message carries OpenSSL's
  // reasons, never the PEM text. Wipes `pem` whether or not it loads.
  static Result<PrivateKey> from_pem(std::string& pem);

  EVP_PKEY* get() const { return key_.get(); }
  explicit operator bool() const { return key_ != nullptr; }

 private:
  struct Free {
    void operator()(EVP_PKEY* key) const;
  };
  std::unique_ptr<EVP_PKEY, Free> key_;
};

struct ServiceAccountCredentials {
  std::string client_email;
  std::string private_key_id;  // the JWT's "kid"; optional
  std::string token_uri = std::string(kGoogleTokenUri);
  std::string project_id;  // optional
  PrivateKey private_key;
};

// What `gcloud auth application-default login` writes.
struct AuthorizedUserCredentials {
  std::string client_id;
  std::string client_secret;
  std::string refresh_token;
  std::string quota_project_id;  // optional; sent as x-goog-user-project
  std::string token_uri = std::string(kGoogleTokenUri);
};

using GoogleCredentials = std::variant<ServiceAccountCredentials, AuthorizedUserCredentials>;

// Parses a credentials JSON file's text, dispatching on "type". Error code
// "invalid_credentials" with one FieldError per problem, each naming the JSON field ("type",
// "client_email", "private_key", ...); messages never contain key material or secrets. The
// text (and the DOM's copy of the PEM) is wiped before returning.
Result<GoogleCredentials> parse_google_credentials(std::string text);

// RSASSA-PKCS1-v1_5 SHA-256 signature of `data` (raw bytes). Error code "signing_failed".
Result<std::string> sign_rs256(const PrivateKey& key, std::string_view data);

// The signed JWT-bearer assertion: header {"alg":"RS256","typ":"JWT"[,"kid"]}, claims iss,
// scope (cloud-platform), aud = token_uri, iat = now - 10 s, exp = iat + 3600.
Result<std::string> make_jwt_assertion(const ServiceAccountCredentials& credentials, TimePoint now);

// application/x-www-form-urlencoded body; names and values are percent-encoded (RFC 3986
// unreserved characters pass through).
std::string form_encode(const std::vector<std::pair<std::string_view, std::string_view>>& fields);

// The RFC 7523 jwt-bearer grant body for `assertion`.
std::string jwt_bearer_form(std::string_view assertion);
// The refresh_token grant body (refresh_token, client_id, client_secret).
std::string refresh_token_form(const AuthorizedUserCredentials& credentials);

struct AccessToken {
  std::string value;
  std::string token_type;  // "Bearer"
  Seconds expires_in{0};
};

// Judges a token endpoint's (or metadata server's) answer. Errors never echo the body's token:
//  - "retry": 429 or 5xx (transient; the caller may try again later);
//  - "token_rejected": any other non-2xx; the RFC 6749 "error"/"error_description" are quoted;
//  - "bad_token_response": a 2xx whose body is not JSON or lacks access_token, expires_in
//    (positive integer) or token_type "Bearer" (the FieldError names which).
Result<AccessToken> parse_token_response(int status, std::string_view body);

}  // namespace gridshift
