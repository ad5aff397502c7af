// resolve_secrets (common/config_slices.h): reads the `*_env` / `*_file` secrets the feeds name.
// Messages name the config key and where the value was looked for, never the value itself.
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>

#include "common/config_slices.h"
#include "common/file_io.h"
#include "common/scrub.h"

namespace gridshift {
namespace {

// A token or password is a few hundred bytes; anything this big is the wrong file.
constexpr std::size_t kMaxSecretBytes = 64 * 1024;

// Editors and `echo` add one newline; a secret never ends with one on purpose.
void strip_one_newline(std::string& text) {
  if (text.ends_with("\r\n")) {
    text.resize(text.size() - 2);
  } else if (text.ends_with('\n')) {
    text.pop_back();
  }
}

// Why a secret value cannot be used, or nothing. CR and LF would split the HTTP header it is
// sent in (header injection); a very short one could not be scrubbed from logs reliably.
// A username is an identifier more than a secret: short ones are allowed (and not scrubbed).
std::optional<std::string> unusable_secret(const std::string& value, bool username) {
  if (value.empty()) return "is empty";
  if (value.find_first_of("\r\n") != std::string::npos) {
    return "holds a line break (CR or LF): refused, it would split the HTTP header it is sent in";
  }
  if (value.find('\0') != std::string::npos) return "holds a NUL byte";
  if (!username && value.size() < kMinScrubbedLength) {
    return fmt::format("is shorter than {} characters: too short to keep out of logs",
                       kMinScrubbedLength);
  }
  return std::nullopt;
}

// A relative name is first looked up in systemd's credentials directory (LoadCredential=).
std::string locate(const std::string& name, const std::string& credentials_directory) {
  namespace fs = std::filesystem;
  const fs::path path(name);
  if (path.is_absolute() || credentials_directory.empty()) return name;
  const fs::path candidate = fs::path(credentials_directory) / path;
  std::error_code ec;
  if (fs::exists(candidate, ec)) return candidate.string();
  return name;
}

}  // namespace

Result<ResolvedSecrets> resolve_secrets(
    const ServiceConfig& config,
    const std::function<std::optional<std::string>(const std::string&)>& getenv,
    const std::string& credentials_directory) {
  ResolvedSecrets resolved;
  std::vector<FieldError> errors;
  const auto resolve = [&](const SecretSource& s, int line) {
    const bool username = s.identifier;
    if (s.kind == SecretSource::Kind::env) {
      auto value = getenv(s.name);
      if (!value) {
        errors.push_back({s.key, fmt::format("environment variable {} is not set", s.name), line});
      } else if (auto bad = unusable_secret(*value, username)) {
        errors.push_back({s.key, fmt::format("environment variable {} {}", s.name, *bad), line});
      } else {
        resolved.emplace(s.key, Secret(std::move(*value)));
      }
      return;
    }
    const std::string path = locate(s.name, credentials_directory);
    auto content = read_text_file(path, kMaxSecretBytes);
    if (!content) {
      std::string where = fmt::format("'{}'", path);
      if (path == s.name && !credentials_directory.empty() &&
          !std::filesystem::path(s.name).is_absolute()) {
        where +=
            fmt::format(" (not found in credentials directory '{}' either)", credentials_directory);
      }
      errors.push_back(
          {s.key, fmt::format("cannot read secret file {}: {}", where, content.error().message),
           line});
      return;
    }
    std::string text = std::move(*content);
    strip_one_newline(text);
    if (auto bad = unusable_secret(text, username)) {
      errors.push_back({s.key, fmt::format("secret file '{}' {}", path, *bad), line});
      return;
    }
    resolved.emplace(s.key, Secret(std::move(text)));
  };
  for (const auto& feed : config.feeds) {
    for (const auto& [base, s] : feed.secrets)
      resolve(s, feed.line);
  }
  // The PostgreSQL connection string may hold a password: a secret like the feeds' tokens.
  if (config.storage.type == StorageType::postgres && config.storage.dsn) {
    resolve(*config.storage.dsn, config.storage.line);
  }
  if (!errors.empty()) {
    const std::size_t n = errors.size();
    return make_error(
        "invalid_config",
        fmt::format("secrets could not be resolved ({} error{})", n, n == 1 ? "" : "s"),
        std::move(errors));
  }
  return resolved;
}

}  // namespace gridshift
