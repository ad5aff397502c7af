// Tests of resolve_secrets (common/config_slices.h) and of Secret's redaction (common/secret.h).
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "common/secret.h"
#include "daemon/config/config.h"
#include "daemon/feeds/registry.h"

namespace gridshift {
namespace {

using testing::HasSubstr;
using testing::Not;

using Env = std::map<std::string, std::string>;

std::function<std::optional<std::string>(const std::string&)> env_of(Env env) {
  return [env = std::move(env)](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

Config config_of(const std::string& feeds_yaml) {
  auto config = parse_config("feeds:\n" + feeds_yaml, "secrets.yaml", feed_schemas());
  EXPECT_TRUE(config) << (config ? "" : to_string(config.error()));
  return config ? *config : Config{};
}

class Secrets : public testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    root_ = std::filesystem::temp_directory_path() /
            ("gridshift-secrets-test-" + std::to_string(random()));
    credentials_ = root_ / "credentials";
    work_ = root_ / "work";
    std::filesystem::create_directories(credentials_);
    std::filesystem::create_directories(work_);
    old_cwd_ = std::filesystem::current_path();
    std::filesystem::current_path(work_);
  }
  void TearDown() override {
    std::filesystem::current_path(old_cwd_);
    std::filesystem::remove_all(root_);
  }

  static void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }

  std::filesystem::path root_, credentials_, work_, old_cwd_;
};

TEST_F(Secrets, NoSecretsNoLookups) {
  const Config config = config_of("  - {name: uk, type: carbon_intensity_uk}\n");
  int lookups = 0;
  auto resolved = resolve_secrets(
      config,
      [&](const std::string&) -> std::optional<std::string> {
        ++lookups;
        return std::nullopt;
      },
      credentials_.string());
  ASSERT_TRUE(resolved);
  EXPECT_TRUE(resolved->empty());
  EXPECT_EQ(lookups, 0);
}

TEST_F(Secrets, EnvironmentVariableFound) {
  const Config config = config_of(
      "  - {name: em, type: electricitymaps, token_env: EM_TOKEN}\n"
      "  - {name: wt, type: watttime, username_env: WT_USER, password_env: WT_PASS}\n");
  auto resolved = resolve_secrets(
      config, env_of({{"EM_TOKEN", "tok-1"}, {"WT_USER", "alice"}, {"WT_PASS", "pw-2"}}), "");
  ASSERT_TRUE(resolved) << to_string(resolved.error());
  ASSERT_EQ(resolved->size(), 3u);
  EXPECT_EQ(resolved->at("feeds[0].token_env").reveal(), "tok-1");
  EXPECT_EQ(resolved->at("feeds[1].username_env").reveal(), "alice");
  EXPECT_EQ(resolved->at("feeds[1].password_env").reveal(), "pw-2");
}

TEST_F(Secrets, ThePostgresDsnIsASecretReadLikeTheFeedsTokens) {
  auto config =
      parse_config("storage: {type: postgres, dsn_file: pg-dsn}\n", "secrets.yaml", feed_schemas());
  ASSERT_TRUE(config) << to_string(config.error());
  auto missing = resolve_secrets(*config, env_of({}), credentials_.string());
  ASSERT_FALSE(missing);
  ASSERT_EQ(missing.error().details.size(), 1u);
  EXPECT_EQ(missing.error().details[0].field, "storage.dsn_file");
  EXPECT_EQ(missing.error().details[0].line, 1);

  write(credentials_ / "pg-dsn", "host=db.internal dbname=gridshift password=s3cret-pw\n");
  auto resolved = resolve_secrets(*config, env_of({}), credentials_.string());
  ASSERT_TRUE(resolved) << to_string(resolved.error());
  EXPECT_EQ(resolved->at("storage.dsn_file").reveal(),
            "host=db.internal dbname=gridshift password=s3cret-pw");
}

TEST_F(Secrets, EnvironmentVariableMissingOrEmpty) {
  const Config config = config_of(
      "  - {name: em, type: electricitymaps, token_env: EM_TOKEN}\n"
      "  - {name: wt, type: watttime, username_env: WT_USER, password_env: WT_PASS}\n");
  auto resolved = resolve_secrets(config, env_of({{"WT_USER", ""}, {"WT_PASS", "ok-pass"}}), "");
  ASSERT_FALSE(resolved);
  EXPECT_EQ(resolved.error().code, "invalid_config");
  ASSERT_EQ(resolved.error().details.size(), 2u) << to_string(resolved.error());
  EXPECT_EQ(resolved.error().details[0].field, "feeds[0].token_env");
  EXPECT_THAT(resolved.error().details[0].message, HasSubstr("EM_TOKEN is not set"));
  EXPECT_EQ(resolved.error().details[0].line, 2);
  EXPECT_EQ(resolved.error().details[1].field, "feeds[1].username_env");
  EXPECT_THAT(resolved.error().details[1].message, HasSubstr("WT_USER is empty"));
}

TEST_F(Secrets, RelativeFileFoundInCredentialsDirectoryFirst) {
  write(credentials_ / "em-token", "from-credentials\n");
  write(work_ / "em-token", "from-working-directory\n");
  const Config config = config_of("  - {name: em, type: electricitymaps, token_file: em-token}\n");
  auto resolved = resolve_secrets(config, env_of({}), credentials_.string());
  ASSERT_TRUE(resolved) << to_string(resolved.error());
  EXPECT_EQ(resolved->at("feeds[0].token_file").reveal(), "from-credentials");
}

TEST_F(Secrets, RelativeFileFallsBackToWorkingDirectory) {
  write(work_ / "em-token", "from-working-directory");
  const Config config = config_of("  - {name: em, type: electricitymaps, token_file: em-token}\n");
  auto resolved = resolve_secrets(config, env_of({}), credentials_.string());
  ASSERT_TRUE(resolved) << to_string(resolved.error());
  EXPECT_EQ(resolved->at("feeds[0].token_file").reveal(), "from-working-directory");

  auto without_credentials = resolve_secrets(config, env_of({}), "");
  ASSERT_TRUE(without_credentials);
  EXPECT_EQ(without_credentials->at("feeds[0].token_file").reveal(), "from-working-directory");
}

TEST_F(Secrets, AbsoluteFileIgnoresCredentialsDirectory) {
  write(credentials_ / "pw", "wrong");
  const auto absolute = root_ / "pw";
  write(absolute, "right\n");
  const Config config = config_of(
      "  - {name: wt, type: watttime, username_env: U, password_file: " + absolute.string() +
      "}\n");
  auto resolved = resolve_secrets(config, env_of({{"U", "bob"}}), credentials_.string());
  ASSERT_TRUE(resolved) << to_string(resolved.error());
  EXPECT_EQ(resolved->at("feeds[0].password_file").reveal(), "right");
}

TEST_F(Secrets, OnlyOneTrailingNewlineIsStripped) {
  write(credentials_ / "a", "value-a\n");
  write(credentials_ / "c", "value-c\r\n");
  write(credentials_ / "d", "  spaced value  ");
  const Config config = config_of(
      "  - {name: e1, type: electricitymaps, token_file: a}\n"
      "  - {name: e3, type: electricitymaps, token_file: c}\n"
      "  - {name: e4, type: electricitymaps, token_file: d}\n");
  auto resolved = resolve_secrets(config, env_of({}), credentials_.string());
  ASSERT_TRUE(resolved) << to_string(resolved.error());
  EXPECT_EQ(resolved->at("feeds[0].token_file").reveal(), "value-a");
  EXPECT_EQ(resolved->at("feeds[1].token_file").reveal(), "value-c");
  EXPECT_EQ(resolved->at("feeds[2].token_file").reveal(), "  spaced value  ");
}

// A line break inside a secret would split the HTTP header it is sent in (header injection).
TEST_F(Secrets, LineBreaksAndTooShortValuesAreRefusedNamingTheKey) {
  write(credentials_ / "b", "value-b\n\n");
  write(credentials_ / "inner", "tok\r\nX-Injected: 1");
  const Config config = config_of(
      "  - {name: e1, type: electricitymaps, token_file: b}\n"
      "  - {name: e2, type: electricitymaps, token_file: inner}\n"
      "  - {name: e3, type: electricitymaps, token_env: EM_TOKEN}\n"
      "  - {name: e4, type: electricitymaps, token_env: SHORT}\n");
  auto resolved = resolve_secrets(config, env_of({{"EM_TOKEN", "abc\rdef"}, {"SHORT", "abc"}}),
                                  credentials_.string());
  ASSERT_FALSE(resolved);
  ASSERT_EQ(resolved.error().details.size(), 4u) << to_string(resolved.error());
  EXPECT_EQ(resolved.error().details[0].field, "feeds[0].token_file");
  EXPECT_THAT(resolved.error().details[0].message, HasSubstr("line break"));
  EXPECT_EQ(resolved.error().details[1].field, "feeds[1].token_file");
  EXPECT_THAT(resolved.error().details[1].message, HasSubstr("line break"));
  EXPECT_EQ(resolved.error().details[2].field, "feeds[2].token_env");
  EXPECT_THAT(resolved.error().details[2].message, HasSubstr("line break"));
  EXPECT_EQ(resolved.error().details[3].field, "feeds[3].token_env");
  EXPECT_THAT(resolved.error().details[3].message, HasSubstr("shorter than 4"));
  EXPECT_THAT(to_string(resolved.error()), Not(HasSubstr("X-Injected")));
}

TEST_F(Secrets, EmptyFileIsAnError) {
  write(credentials_ / "empty", "");
  write(credentials_ / "newline", "\n");
  const Config config = config_of(
      "  - {name: e1, type: electricitymaps, token_file: empty}\n"
      "  - {name: e2, type: electricitymaps, token_file: newline}\n");
  auto resolved = resolve_secrets(config, env_of({}), credentials_.string());
  ASSERT_FALSE(resolved);
  ASSERT_EQ(resolved.error().details.size(), 2u);
  EXPECT_EQ(resolved.error().details[0].field, "feeds[0].token_file");
  EXPECT_THAT(resolved.error().details[0].message, HasSubstr("is empty"));
  EXPECT_EQ(resolved.error().details[1].field, "feeds[1].token_file");
  EXPECT_THAT(resolved.error().details[1].message, HasSubstr("is empty"));
}

TEST_F(Secrets, MissingFileNamesKeyAndPath) {
  const Config config = config_of(
      "  - name: wt\n    type: watttime\n    username_env: U\n    password_file: "
      "wt-password\n");
  auto resolved = resolve_secrets(config, env_of({{"U", "bob"}}), credentials_.string());
  ASSERT_FALSE(resolved);
  EXPECT_EQ(resolved.error().code, "invalid_config");
  EXPECT_THAT(resolved.error().message, HasSubstr("1 error"));
  ASSERT_EQ(resolved.error().details.size(), 1u);
  const Error error = resolved.error();  // error() returns a copy
  const FieldError& e = error.details[0];
  EXPECT_EQ(e.field, "feeds[0].password_file");
  EXPECT_EQ(e.line, 2);
  EXPECT_THAT(e.message, HasSubstr("wt-password"));
  EXPECT_THAT(e.message, HasSubstr(credentials_.string()));
  EXPECT_THAT(e.message, HasSubstr("No such file or directory"));
}

TEST_F(Secrets, ValuesNeverAppearInErrors) {
  // Some secrets resolve (their values must not leak into the failure), some fail.
  write(credentials_ / "good", "PLANTED-FILE-VALUE-1\n");
  write(credentials_ / "empty", "\n");
  const Config config = config_of(
      "  - {name: e1, type: electricitymaps, token_file: good}\n"
      "  - {name: e2, type: electricitymaps, token_env: GOOD_ENV}\n"
      "  - {name: e3, type: electricitymaps, token_file: empty}\n"
      "  - {name: wt, type: watttime, username_env: WT_USER, password_file: missing}\n");
  auto resolved = resolve_secrets(
      config, env_of({{"GOOD_ENV", "PLANTED-ENV-VALUE-2"}, {"WT_USER", "PLANTED-USER-3"}}),
      credentials_.string());
  ASSERT_FALSE(resolved);
  EXPECT_EQ(resolved.error().details.size(), 2u);
  const std::string text = to_string(resolved.error());
  EXPECT_THAT(text, Not(HasSubstr("PLANTED")));
  std::ostringstream streamed;
  for (const auto& d : resolved.error().details)
    streamed << d.field << d.message;
  EXPECT_THAT(streamed.str(), Not(HasSubstr("PLANTED")));
}

TEST_F(Secrets, UnreadableFileIsAnError) {
  // A directory opens but cannot be read, whoever runs the test (root ignores permissions).
  std::filesystem::create_directories(credentials_ / "token-dir");
  const Config config = config_of("  - {name: em, type: electricitymaps, token_file: token-dir}\n");
  auto resolved = resolve_secrets(config, env_of({}), credentials_.string());
  ASSERT_FALSE(resolved);
  const Error error = resolved.error();
  ASSERT_EQ(error.details.size(), 1u);
  EXPECT_EQ(error.details[0].field, "feeds[0].token_file");
  EXPECT_THAT(error.details[0].message, HasSubstr("token-dir"));
  EXPECT_THAT(error.details[0].message, HasSubstr("Is a directory"));
}

TEST(Secret, FormattingRedacts) {
  const Secret secret("PLANTED-FORMAT-VALUE");
  EXPECT_EQ(fmt::format("{}", secret), "<redacted>");
  EXPECT_EQ(fmt::format("token={}!", secret), "token=<redacted>!");
  std::ostringstream os;
  os << secret;
  EXPECT_EQ(os.str(), "<redacted>");
  EXPECT_EQ(secret.reveal(), "PLANTED-FORMAT-VALUE");
  EXPECT_FALSE(secret.empty());
  EXPECT_TRUE(Secret().empty());
}

}  // namespace
}  // namespace gridshift
