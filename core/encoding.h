// Text encodings shared by the HTTP adapters (feeds, OAuth2, Vertex AI, Cloud Storage):
// RFC 3986 percent-encoding and RFC 4648 base64. Pure functions, no state.
#pragma once

#include <string>
#include <string_view>

namespace gridshift {

// Percent-encodes every byte but the unreserved characters A-Z a-z 0-9 - . _ ~ ('/' included),
// as query values, form fields and single path segments need.
std::string percent_encode(std::string_view text);

// RFC 4648 §4 base64 with '=' padding.
std::string base64_encode(std::string_view bytes);
// RFC 4648 §5 base64url without padding, as JWTs use.
std::string base64url_encode(std::string_view bytes);

}  // namespace gridshift
