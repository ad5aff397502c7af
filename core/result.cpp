#include "core/result.h"

#include <stdexcept>

namespace gridshift {

std::string to_string(const FieldError& error) {
  std::string out;
  if (error.line > 0) out += "line " + std::to_string(error.line) + ": ";
  if (!error.field.empty()) out += error.field + ": ";
  out += error.message;
  return out;
}

std::string to_string(const Error& error) {
  std::string out = error.message;
  for (const auto& detail : error.details)
    out += "\n  " + to_string(detail);
  return out;
}

ErrorException::ErrorException(Error error)
    : std::runtime_error(to_string(error)), error_(std::move(error)) {}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw ErrorException(error);
}

}  // namespace gridshift
