// Whole-file reads for the daemon and CLI (configuration, secrets, job specs, data files).
// Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "core/result.h"

namespace gridshift {

inline constexpr std::size_t kDefaultMaxFileBytes = 256u * 1024u * 1024u;

// The file's bytes. Error code "io_error" whose message is the reason only (strerror text, or
// "larger than N KiB"), so that callers can say which file and what for.
Result<std::string> read_text_file(const std::string& path,
                                   std::size_t max_bytes = kDefaultMaxFileBytes);

}  // namespace gridshift
