// A secret value (API token, password, key) that cannot be printed by accident: formatting
// it, streaming it or logging it yields "<redacted>". Only reveal() gives the text, at the
// point where it goes on the wire.
#pragma once

#include <fmt/format.h>

#include <ostream>
#include <string>
#include <utility>

namespace gridshift {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

  friend std::ostream& operator<<(std::ostream& os, const Secret&) { return os << "<redacted>"; }
  bool operator==(const Secret&) const = default;

 private:
  std::string value_;
};

}  // namespace gridshift

template <>
struct fmt::formatter<gridshift::Secret> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const gridshift::Secret&, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format("<redacted>", ctx);
  }
};
