// Scrubbing secrets from every text the daemon writes or serves (logs, API answers, job events
// and errors), even when an upstream echoes a secret back inside its own error message. The
// daemon registers the resolved secret values at startup and on reload; the forms a secret
// travels in (as is, percent-encoded, JSON-escaped, and any extra forms such as a Basic
// authorization value) are all replaced by "<redacted>". Values shorter than
// kMinScrubbedLength are not scrubbed (they would match ordinary text); such secrets are
// refused at load instead. Thread-safe: the set is swapped atomically, so the log formatter may
// read it from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gridshift {

inline constexpr std::size_t kMinScrubbedLength = 4;
inline constexpr std::string_view kRedacted = "<redacted>";

// Replaces the set of scrubbed values (the configuration's secrets) by `values` and their
// usual encodings.
void set_scrubbed_secrets(const std::vector<std::string>& values);

// Adds a value obtained at run time (an OAuth2 access token) to the scrubbed ones, apart from
// the configured set; the newest kRecentRuntimeSecrets are kept (tokens expire).
inline constexpr std::size_t kRecentRuntimeSecrets = 8;
void add_runtime_secret(const std::string& value);

// `text` with every scrubbed value replaced by "<redacted>".
std::string scrub_secrets(std::string_view text);

// True when some scrubbed value occurs in `text` (cheap check before copying).
bool contains_secret(std::string_view text);

}  // namespace gridshift
