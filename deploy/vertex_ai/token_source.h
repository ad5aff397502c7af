// OAuth2 access tokens for Vertex AI and Cloud Storage: a TokenSource per credential
// (service-account key, gcloud authorized_user, GCE metadata server) with a single-flight cache.
// Lives on the one io_context thread (no locks); must outlive the token() calls it runs, and
// the HttpClient and Clock it was made with must outlive it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/ports/clock.h"
#include "core/result.h"
#include "deploy/vertex_ai/settings.h"
#include "net/http_client.h"

namespace gridshift {

// A cached token is renewed once less than this remains (google-cloud-cpp's slack).
inline constexpr Seconds kTokenRenewBefore{300};
// When a renewal fails while the cached token is still valid, the cached token is served and
// the next renewal attempt waits this long (so a failing endpoint is not asked on every call).
inline constexpr Seconds kTokenRenewRetryAfter{30};
// Token endpoint and metadata requests (write + read), or the HttpClient's read_timeout when
// that is shorter.
inline constexpr std::chrono::milliseconds kTokenRequestTimeout{10000};
// The first metadata request doubles as the "are we on GCP?" probe: connect and answer must
// come within this (or the client's shorter timeouts), so that a host off GCP learns it quickly.
inline constexpr std::chrono::milliseconds kMetadataProbeTimeout{1000};

// Error codes of token(): "retry" (transport failure, timeout, 429 or 5xx: try later),
// "token_rejected" (400/401/403 from the token endpoint: fix the key, clock or grant),
// "bad_token_response", "signing_failed", "no_credentials" (auto found nothing: no file and no
// metadata server answering). No error message or log line carries a token or key.
class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // A valid access token; cached, renewed when less than 5 minutes remain.
  virtual boost::asio::awaitable<Result<std::string>> token() = 0;
  // Forget the cached token (after a 401) so the next token() fetches a fresh one.
  virtual void invalidate() = 0;
  virtual std::string_view kind() const = 0;  // "service_account" | "authorized_user" | "metadata"
  // quota project to send as x-goog-user-project (authorized_user only), empty otherwise
  virtual std::string quota_project() const = 0;
};

// credentials == a path: that key file. "auto": Application Default Credentials order, i.e.
// GOOGLE_APPLICATION_CREDENTIALS, then $HOME/.config/gcloud/application_default_credentials.json,
// then the metadata server at config.metadata_url (probed on the first token(), not here).
// config.token_uri, when set, replaces the file's token_uri. File problems are returned at
// once: code "invalid_credentials", the message naming the file and where its path came from,
// the details naming the JSON field.
Result<std::unique_ptr<TokenSource>> make_token_source(
    const VertexAiConfig& config, HttpClient& http, const Clock& clock,
    std::function<std::optional<std::string>(const std::string&)> getenv);

}  // namespace gridshift
