// UTF-8 well-formedness, shared by every reader of untrusted text (socket API bodies and
// targets, job specs, configuration). Pure function.
#pragma once

#include <string_view>

namespace gridshift {

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace gridshift
