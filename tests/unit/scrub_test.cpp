// Secret scrubbing (common/scrub.h): every registered value and its usual encodings are replaced
// in any text (the log formatter and the API server apply it: see security_test).
#include "common/scrub.h"

#include <gtest/gtest.h>

#include "core/encoding.h"

namespace gridshift {
namespace {

class Scrub : public ::testing::Test {
 protected:
  ~Scrub() override { set_scrubbed_secrets({}); }
};

TEST_F(Scrub, ReplacesRawPercentAndJsonEscapedForms) {
  set_scrubbed_secrets({"tok/en+\"quoted\"", "other-secret"});
  EXPECT_EQ(scrub_secrets("Authorization: tok/en+\"quoted\" failed"),
            "Authorization: <redacted> failed");
  EXPECT_EQ(scrub_secrets("url ?token=" + percent_encode("tok/en+\"quoted\"")),
            "url ?token=<redacted>");
  EXPECT_EQ(scrub_secrets(R"({"echo": "tok/en+\"quoted\""})"), R"({"echo": "<redacted>"})");
  EXPECT_EQ(scrub_secrets("other-secretother-secret"), "<redacted><redacted>");
  EXPECT_TRUE(contains_secret("x other-secret y"));
  EXPECT_FALSE(contains_secret("nothing here"));
  EXPECT_EQ(scrub_secrets("nothing here"), "nothing here");
}

TEST_F(Scrub, ANewSetReplacesTheOldOneAndShortValuesAreIgnored) {
  set_scrubbed_secrets({"first-secret"});
  set_scrubbed_secrets({"second-secret", "abc"});
  EXPECT_EQ(scrub_secrets("first-secret second-secret abc"), "first-secret <redacted> abc");
}

TEST_F(Scrub, RecentRuntimeSecretsAreScrubbedBesideTheConfiguredOnes) {
  set_scrubbed_secrets({"configured-secret"});
  for (std::size_t i = 0; i <= kRecentRuntimeSecrets; ++i)
    add_runtime_secret("ya29.runtime-token-" + std::to_string(i));
  // The oldest token has dropped out (it expired long ago); the newer ones and the configured
  // secret are all scrubbed, also after the configured set is replaced.
  set_scrubbed_secrets({"configured-secret"});
  EXPECT_EQ(scrub_secrets("ya29.runtime-token-0"), "ya29.runtime-token-0");
  EXPECT_EQ(scrub_secrets("ya29.runtime-token-1 ya29.runtime-token-" +
                          std::to_string(kRecentRuntimeSecrets) + " configured-secret"),
            "<redacted> <redacted> <redacted>");
}

}  // namespace
}  // namespace gridshift
