#include "common/config_reader.h"

#include <cctype>
#include <cmath>

namespace gridshift {
namespace config_text {

bool is_http_url(std::string_view url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.starts_with(scheme) && url.size() > scheme.size() &&
        url.find_first_of(" \t\r\n") == std::string_view::npos) {
      const char first = url[scheme.size()];
      return first != '/' && first != ':';
    }
  }
  return false;
}

// A POSIX portable user name (as useradd accepts by default): no path or shell characters.
bool is_user_name(std::string_view name) {
  if (name.empty() || name.size() > 32 || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

}  // namespace config_text

using config_text::closest;
using config_text::is_http_url;
using config_text::join;
using Entry = ConfigReader::Entry;
using yaml::describe;
using yaml::is_env_name;
using yaml::is_quoted;

void ConfigReader::add(std::string field, int line, std::string message) {
  errors_.push_back(FieldError{std::move(field), std::move(message), line});
}

std::vector<Entry> ConfigReader::entries(const YAML::Node& map, const std::string& path) {
  return yaml::entries(map, path, errors_);
}

std::optional<std::vector<Entry>> ConfigReader::mapping(const Entry& e) {
  if (e.value.IsNull()) return std::vector<Entry>{};
  if (!e.value.IsMap()) {
    add(e, "expected a mapping, found " + describe(e.value));
    return std::nullopt;
  }
  return entries(e.value, e.path);
}

bool ConfigReader::scalar(const Entry& e, std::string_view what) {
  if (e.value.IsScalar()) return true;
  if (e.value.IsNull()) {
    add(e, fmt::format("a value is required ({})", what));
  } else {
    add(e, fmt::format("expected {}, found {}", what, describe(e.value)));
  }
  return false;
}

std::optional<std::string> ConfigReader::read_string(const Entry& e) {
  if (!scalar(e, "a string")) return std::nullopt;
  return e.value.Scalar();
}

void ConfigReader::read_non_empty(const Entry& e, std::string& out) {
  auto value = read_string(e);
  if (!value) return;
  if (value->empty()) {
    add(e, "must not be empty");
    return;
  }
  out = *value;
}

void ConfigReader::read_bool(const Entry& e, bool& out) {
  if (!scalar(e, "true or false")) return;
  bool value = false;
  if (is_quoted(e.value) || !YAML::convert<bool>::decode(e.value, value)) {
    add(e, fmt::format("expected true or false, found {}", describe(e.value)));
    return;
  }
  out = value;
}

std::optional<long long> ConfigReader::read_integer(const Entry& e) {
  if (!scalar(e, "a whole number")) return std::nullopt;
  long long value = 0;
  if (is_quoted(e.value) || !YAML::convert<long long>::decode(e.value, value)) {
    add(e, fmt::format("expected a whole number, found {}", describe(e.value)));
    return std::nullopt;
  }
  return value;
}

std::optional<double> ConfigReader::read_number(const Entry& e) {
  if (!scalar(e, "a number")) return std::nullopt;
  double value = 0;
  if (is_quoted(e.value) || !YAML::convert<double>::decode(e.value, value) ||
      !std::isfinite(value)) {
    add(e, fmt::format("expected a number, found {}", describe(e.value)));
    return std::nullopt;
  }
  return value;
}

void ConfigReader::read_bounded(const Entry& e, double least, double most, bool below_most,
                                double& out) {
  auto value = read_number(e);
  if (!value) return;
  if (*value < least || (below_most ? *value >= most : *value > most)) {
    add(e, fmt::format("must be at least {} and {} {}, found {}", least,
                       below_most ? "below" : "at most", most, e.value.Scalar()));
    return;
  }
  out = *value;
}

void ConfigReader::read_duration(const Entry& e, Seconds& out, bool positive, Seconds most) {
  if (!scalar(e, "a duration such as 90s, 15m, 4h or 2d")) return;
  auto value = parse_duration(e.value.Scalar());
  if (!value) {
    add(e, fmt::format("invalid duration '{}': {}", e.value.Scalar(), value.error().message));
    return;
  }
  if (positive && value->count() <= 0) {
    add(e, "must be a positive duration");
    return;
  }
  if (*value > most) {
    add(e, fmt::format("must be at most {}, found {}", format_duration(most), e.value.Scalar()));
    return;
  }
  out = *value;
}

std::optional<std::size_t> ConfigReader::read_choice(const Entry& e,
                                                     const std::vector<std::string_view>& names) {
  if (!scalar(e, "one of " + join(names))) return std::nullopt;
  const std::string& text = e.value.Scalar();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == text) return i;
  }
  std::string message = fmt::format("invalid value '{}' (expected one of: {})", text, join(names));
  if (auto suggestion = closest(text, names); !suggestion.empty()) {
    message += fmt::format("; did you mean '{}'?", suggestion);
  }
  add(e, std::move(message));
  return std::nullopt;
}

void ConfigReader::read_url(const Entry& e, std::string& out, bool allow_empty) {
  auto value = read_string(e);
  if (!value) return;
  if (allow_empty && value->empty()) {
    out.clear();
    return;
  }
  if (!is_http_url(*value)) {
    add(e, fmt::format("expected an http:// or https:// URL, found '{}'", *value));
    return;
  }
  out = *value;
}

std::optional<YAML::Node> ConfigReader::sequence(const Entry& e) {
  if (e.value.IsNull()) return YAML::Node(YAML::NodeType::Sequence);
  if (!e.value.IsSequence()) {
    add(e, "expected a list, found " + describe(e.value));
    return std::nullopt;
  }
  return e.value;
}

void ConfigReader::read_secret(const Entry& e, std::optional<SecretSource>& out) {
  auto value = read_string(e);
  if (!value) return;
  const bool env = e.key.ends_with("_env");
  if (env && !is_env_name(*value)) {
    // Not echoed: a value that is no variable name may be the secret itself, pasted here.
    add(e,
        "expected the name of an environment variable (letters, digits and '_'), not "
        "the secret itself");
    return;
  }
  if (!env && value->empty()) {
    add(e, "must not be empty");
    return;
  }
  out = SecretSource{env ? SecretSource::Kind::env : SecretSource::Kind::file, *value, e.path};
}

void ConfigReader::check_secret_pair(const std::vector<Entry>& items, const std::string& path,
                                     int line, std::string_view base) {
  const Entry* env = nullptr;
  const Entry* file = nullptr;
  bool env_later = false;  // in document order
  for (const auto& e : items) {
    if (e.key == fmt::format("{}_env", base)) {
      env = &e;
      env_later = file != nullptr;
    }
    if (e.key == fmt::format("{}_file", base)) {
      file = &e;
      env_later = false;
    }
  }
  if (env != nullptr && file != nullptr) {
    const Entry* later = env_later ? env : file;
    const Entry* earlier = later == env ? file : env;
    add(later->path, later->key_line,
        fmt::format("give either {0}_env or {0}_file, not both ({1} is on line {2})", base,
                    earlier->key, earlier->key_line));
  } else if (env == nullptr && file == nullptr) {
    add(fmt::format("{}.{}_env", path, base), line,
        fmt::format("missing required key: {0}_env or {0}_file", base));
  }
}

std::vector<FieldError> ConfigReader::take_errors() {
  std::stable_sort(errors_.begin(), errors_.end(),
                   [](const FieldError& a, const FieldError& b) { return a.line < b.line; });
  return std::move(errors_);
}

}  // namespace gridshift
