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
#include "core/ports/token_source.h"
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
