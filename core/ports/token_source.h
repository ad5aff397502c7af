// The TokenSource port: OAuth2 access tokens for a remote API, cached and renewed by the
// implementation (deploy/vertex_ai/token_source.h builds one per kind of Google credential).
// Used on the daemon's io_context thread only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "core/result.h"

namespace gridshift {

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

}  // namespace gridshift
