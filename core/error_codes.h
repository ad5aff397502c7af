// The error codes gridshift's code branches on, as named constants: Error::code stays a string
// (it is what the socket API and logs show), but no caller spells one by hand. Codes that are
// only ever reported, never tested (feed parse errors, API validation), stay next to their
// producer. Test with Error::is(code).
#pragma once

#include <string_view>

namespace gridshift::errc {

// Stores (core/ports/job_store.h, dispatch_journal.h).
inline constexpr std::string_view kNotFound = "not_found";  // no such job, object or route
inline constexpr std::string_view kConflict = "conflict";   // the write lost a race or repeats
inline constexpr std::string_view kStorageCorrupt = "storage_corrupt";  // a row cannot be read

// Dispatch targets (core/ports/dispatcher.h).
inline constexpr std::string_view kRetry = "retry";  // transient: the same call may succeed later
// The region cannot take the job now (quota, capacity, accelerator not offered): plan elsewhere.
inline constexpr std::string_view kRegionUnavailable = "region_unavailable";

// Configuration and credentials.
inline constexpr std::string_view kInvalidConfig = "invalid_config";
inline constexpr std::string_view kInvalidCredentials = "invalid_credentials";

// The HTTP client (net/http_client.h): the request never reached a server.
inline constexpr std::string_view kHttpBadUrl = "http_bad_url";
inline constexpr std::string_view kHttpResolveFailed = "http_resolve_failed";
inline constexpr std::string_view kHttpConnectFailed = "http_connect_failed";
inline constexpr std::string_view kHttpTlsFailed = "http_tls_failed";
inline constexpr std::string_view kHttpProxyFailed = "http_proxy_failed";

}  // namespace gridshift::errc
