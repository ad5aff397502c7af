// Result types for expected failures (bad input, storage refusals, network trouble).
// Plain values, safe to copy across threads; an Error mirrors the socket API's error body.
#pragma once

#include <boost/system/result.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error_codes.h"

namespace gridshift {

// One problem with one field of some input. `field` is a dotted path into the input
// ("vertex.accelerator_count", "feeds[2].poll_interval"); `line` is 1-based, 0 when unknown.
struct FieldError {
  std::string field;
  std::string message;
  int line = 0;

  bool operator==(const FieldError&) const = default;
};

// `code` is machine-readable ("invalid_job", "invalid_config", "not_found", "conflict",
// "storage_unavailable", ...); `message` is one line for people; `details` lists field errors.
//
// The constructors are user-declared on purpose: as a C++20 aggregate, Error would be
// constructible from a lone std::string, and Result<std::string> could not tell a value from
// an error.
struct Error {
  Error() = default;
  Error(std::string code_in, std::string message_in, std::vector<FieldError> details_in = {})
      : code(std::move(code_in)), message(std::move(message_in)), details(std::move(details_in)) {}

  std::string code;
  std::string message;
  std::vector<FieldError> details;

  // Whether this is the error `code` names (core/error_codes.h).
  bool is(std::string_view code_name) const { return code == code_name; }

  bool operator==(const Error&) const = default;
};

// Note: boost::system::result<T, E>::error() returns a copy; do not bind references into it.

// Renders "field: message" or "line N: field: message".
std::string to_string(const FieldError& error);
// Renders the message followed by one indented line per detail.
std::string to_string(const Error& error);

// Thrown by Result<T>::value() on an error; startup code lets it escape to main.
class ErrorException : public std::runtime_error {
 public:
  explicit ErrorException(Error error);
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

// Found by ADL from boost::system::result<T, Error>::value().
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;
using Status = Result<void>;

inline Error make_error(std::string_view code, std::string message,
                        std::vector<FieldError> details = {}) {
  return Error{std::string(code), std::move(message), std::move(details)};
}

}  // namespace gridshift
