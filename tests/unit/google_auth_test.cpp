// Google credentials without client libraries: key file parsing, the RS256 JWT assertion
// (checked with a key pair generated here), form bodies and token responses. Errors must
// name the field and never carry key material or tokens.
#include "deploy/vertex_ai/google_auth.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gridshift {
namespace {

using json = nlohmann::json;

const TimePoint kNow =
    TimePoint{std::chrono::sys_days(std::chrono::year(2026) / 11 / 26)} + std::chrono::hours(18);

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// A fresh key pair: the private key as PKCS#8 PEM (what Google key files hold), the public
// key as SubjectPublicKeyInfo PEM.
struct TestKeyPair {
  std::string private_pem;
  std::string public_pem;
};

TestKeyPair generate_key(const char* type = "RSA") {
  PkeyPtr key(std::string_view(type) == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", 2048)
                                              : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
              &EVP_PKEY_free);
  if (!key) throw std::runtime_error("keygen failed");
  BioPtr priv(BIO_new(BIO_s_mem()), &BIO_free);
  BioPtr pub(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub.get(), key.get());
  return {bio_text(priv.get()), bio_text(pub.get())};
}

const TestKeyPair& rsa_key() {
  static const TestKeyPair pair = generate_key();
  return pair;
}

std::string base64url_decode(std::string text) {
  for (char& c : text) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  std::size_t padding = 0;
  while (text.size() % 4 != 0) {
    text += '=';
    ++padding;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) throw std::runtime_error("bad base64url");
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts(1);
  for (char c : text) {
    if (c == sep) {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  return parts;
}

bool verify_rs256(const std::string& public_pem, const std::string& data,
                  const std::string& signature) {
  BioPtr bio(BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size())), &BIO_free);
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key) throw std::runtime_error("bad public key");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1;
}

json service_account_json(const std::string& pem) {
  return {{"type", "service_account"},
          {"project_id", "proj-1"},
          {"private_key_id", "kid-123"},
          {"private_key", pem},
          {"client_email", "sa@proj-1.iam.gserviceaccount.com"},
          {"client_id", "1234"},
          {"token_uri", "https://tokens.example/token"}};
}

json authorized_user_json() {
  return {{"type", "authorized_user"},
          {"client_id", "client-id-1.apps.googleusercontent.com"},
          {"client_secret", "CLIENT-SECRET-VALUE"},
          {"refresh_token", "1//REFRESH-TOKEN-VALUE"},
          {"quota_project_id", "billing-proj"}};
}

ServiceAccountCredentials load_service_account(const json& doc) {
  auto parsed = parse_google_credentials(doc.dump());
  if (!parsed) throw std::runtime_error(to_string(parsed.error()));
  return std::move(std::get<ServiceAccountCredentials>(*parsed));
}

// The secret pieces of the test inputs, none of which may appear in an error.
void expect_no_secrets(const Error& error) {
  const auto text = to_string(error);
  for (const char* secret : {"BEGIN", "PRIVATE KEY", "MII", "CLIENT-SECRET-VALUE",
                             "REFRESH-TOKEN-VALUE", "ya29.", "SENTINEL"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in: " << text;
  }
}

bool has_field(const Error& error, const std::string& field) {
  for (const auto& d : error.details) {
    if (d.field == field) return true;
  }
  return false;
}

TEST(GoogleAuthTest, Base64UrlMatchesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  // 0xfb 0xff is "+/8=" in the standard alphabet.
  EXPECT_EQ(base64url_encode(std::string("\xfb\xff", 2)), "-_8");
}

TEST(GoogleAuthTest, ParsesServiceAccountKeyFile) {
  auto sa = load_service_account(service_account_json(rsa_key().private_pem));
  EXPECT_EQ(sa.client_email, "sa@proj-1.iam.gserviceaccount.com");
  EXPECT_EQ(sa.private_key_id, "kid-123");
  EXPECT_EQ(sa.project_id, "proj-1");
  EXPECT_EQ(sa.token_uri, "https://tokens.example/token");
  EXPECT_TRUE(sa.private_key);

  auto minimal = service_account_json(rsa_key().private_pem);
  minimal.erase("token_uri");
  minimal.erase("private_key_id");
  minimal.erase("project_id");
  auto defaults = load_service_account(minimal);
  EXPECT_EQ(defaults.token_uri, "https://oauth2.googleapis.com/token");
  EXPECT_EQ(defaults.private_key_id, "");
}

TEST(GoogleAuthTest, ParsesAuthorizedUser) {
  auto parsed = parse_google_credentials(authorized_user_json().dump());
  ASSERT_TRUE(parsed) << to_string(parsed.error());
  const auto& user = std::get<AuthorizedUserCredentials>(*parsed);
  EXPECT_EQ(user.client_id, "client-id-1.apps.googleusercontent.com");
  EXPECT_EQ(user.client_secret, "CLIENT-SECRET-VALUE");
  EXPECT_EQ(user.refresh_token, "1//REFRESH-TOKEN-VALUE");
  EXPECT_EQ(user.quota_project_id, "billing-proj");
  EXPECT_EQ(user.token_uri, "https://oauth2.googleapis.com/token");
}

TEST(GoogleAuthTest, JwtAssertionHasGoogleClaimsAndVerifiesWithThePublicKey) {
  auto sa = load_service_account(service_account_json(rsa_key().private_pem));
  auto jwt = make_jwt_assertion(sa, kNow);
  ASSERT_TRUE(jwt) << to_string(jwt.error());
  EXPECT_EQ(jwt->find('='), std::string::npos);
  const auto parts = split(*jwt, '.');
  ASSERT_EQ(parts.size(), 3u);

  const auto header = json::parse(base64url_decode(parts[0]));
  EXPECT_EQ(header, json({{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "kid-123"}}));

  const auto claims = json::parse(base64url_decode(parts[1]));
  const auto now_s = kNow.time_since_epoch().count();
  EXPECT_EQ(claims.at("iss"), "sa@proj-1.iam.gserviceaccount.com");
  EXPECT_EQ(claims.at("scope"), "https://www.googleapis.com/auth/cloud-platform");
  EXPECT_EQ(claims.at("aud"), "https://tokens.example/token");
  EXPECT_EQ(claims.at("iat").get<std::int64_t>(), now_s - 10);
  EXPECT_EQ(claims.at("exp").get<std::int64_t>(), now_s - 10 + 3600);
  EXPECT_EQ(claims.size(), 5u);

  const auto signature = base64url_decode(parts[2]);
  EXPECT_EQ(signature.size(), 256u);  // RSA-2048
  const std::string signed_part = parts[0] + "." + parts[1];
  EXPECT_TRUE(verify_rs256(rsa_key().public_pem, signed_part, signature));
  // The check above can fail: another key or other claims do not verify.
  EXPECT_FALSE(verify_rs256(generate_key().public_pem, signed_part, signature));
  auto tampered = json::parse(base64url_decode(parts[1]));
  tampered["iss"] = "attacker@example.com";
  EXPECT_FALSE(verify_rs256(rsa_key().public_pem,
                            parts[0] + "." + base64url_encode(tampered.dump()), signature));
}

TEST(GoogleAuthTest, JwtHeaderOmitsKidWithoutAKeyId) {
  auto doc = service_account_json(rsa_key().private_pem);
  doc.erase("private_key_id");
  auto sa = load_service_account(doc);
  auto jwt = make_jwt_assertion(sa, kNow);
  ASSERT_TRUE(jwt);
  EXPECT_EQ(json::parse(base64url_decode(split(*jwt, '.')[0])),
            json({{"alg", "RS256"}, {"typ", "JWT"}}));
}

TEST(GoogleAuthTest, PrivateKeyLoadingWipesThePem) {
  std::string pem = rsa_key().private_pem;
  auto key = PrivateKey::from_pem(pem);
  ASSERT_TRUE(key);
  EXPECT_TRUE(pem.empty());
  std::string bad = "-----BEGIN PRIVATE KEY-----\nSENTINEL\n-----END PRIVATE KEY-----\n";
  EXPECT_FALSE(PrivateKey::from_pem(bad));
  EXPECT_TRUE(bad.empty());
}

struct BadFileCase {
  const char* name;
  json doc;
  std::string field;
};

TEST(GoogleAuthTest, BadKeyFilesNameTheFieldAndNoSecret) {
  auto without = [](json doc, const char* field) {
    doc.erase(field);
    return doc;
  };
  auto with = [](json doc, const char* field, json value) {
    doc[field] = std::move(value);
    return doc;
  };
  const auto sa = service_account_json(rsa_key().private_pem);
  const auto user = authorized_user_json();
  const std::string garbage_pem =
      "-----BEGIN PRIVATE KEY-----\nMIISENTINELnotbase64!!\n-----END PRIVATE KEY-----\n";
  const std::vector<BadFileCase> cases = {
      {"sa without client_email", without(sa, "client_email"), "client_email"},
      {"sa without private_key", without(sa, "private_key"), "private_key"},
      {"sa empty client_email", with(sa, "client_email", ""), "client_email"},
      {"sa numeric private_key", with(sa, "private_key", 42), "private_key"},
      {"sa garbage PEM", with(sa, "private_key", garbage_pem), "private_key"},
      {"sa not PEM at all", with(sa, "private_key", "SENTINEL-not-a-key"), "private_key"},
      {"sa EC key", with(sa, "private_key", generate_key("EC").private_pem), "private_key"},
      {"sa token_uri not a string", with(sa, "token_uri", json::array()), "token_uri"},
      {"user without refresh_token", without(user, "refresh_token"), "refresh_token"},
      {"user without client_secret", without(user, "client_secret"), "client_secret"},
      {"user without client_id", without(user, "client_id"), "client_id"},
      {"no type", without(sa, "type"), "type"},
      {"external_account", with(user, "type", "external_account"), "type"},
  };
  for (const auto& c : cases) {
    auto r = parse_google_credentials(c.doc.dump());
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error().code, "invalid_credentials") << c.name;
    EXPECT_TRUE(has_field(r.error(), c.field)) << c.name << ": " << to_string(r.error());
    expect_no_secrets(r.error());
  }
  auto external = parse_google_credentials(with(user, "type", "external_account").dump());
  ASSERT_FALSE(external);
  EXPECT_NE(to_string(external.error()).find("external_account"), std::string::npos);
}

TEST(GoogleAuthTest, AllMissingFieldsAreReportedAtOnce) {
  auto r = parse_google_credentials(R"({"type": "authorized_user"})");
  ASSERT_FALSE(r);
  EXPECT_TRUE(has_field(r.error(), "client_id"));
  EXPECT_TRUE(has_field(r.error(), "client_secret"));
  EXPECT_TRUE(has_field(r.error(), "refresh_token"));
}

TEST(GoogleAuthTest, BrokenJsonIsNotQuoted) {
  // A truncated file: the parser's own message would quote the key text.
  const auto text = service_account_json(rsa_key().private_pem).dump();
  auto r = parse_google_credentials(text.substr(0, text.size() / 2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_credentials");
  EXPECT_NE(to_string(r.error()).find("not a JSON object"), std::string::npos);
  expect_no_secrets(r.error());
}

TEST(GoogleAuthTest, EncryptedKeyIsRefusedWithoutAPrompt) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", 2048), &EVP_PKEY_free);
  ASSERT_TRUE(key);
  BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
  char passphrase[] = "passphrase";
  ASSERT_EQ(
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), passphrase,
                                    static_cast<int>(sizeof passphrase - 1), nullptr, nullptr),
      1);
  auto r = parse_google_credentials(
      service_account_json(bio_text(bio.get())).dump());  // the test would hang on a prompt
  ASSERT_FALSE(r);
  EXPECT_TRUE(has_field(r.error(), "private_key"));
  expect_no_secrets(r.error());
}

TEST(GoogleAuthTest, FormBodiesArePercentEncoded) {
  EXPECT_EQ(jwt_bearer_form("aGVhZA.Y2xhaW1z.c2ln-_"),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
            "&assertion=aGVhZA.Y2xhaW1z.c2ln-_");
  AuthorizedUserCredentials user;
  user.client_id = "id.apps";
  user.client_secret = "s&c=r t+";
  user.refresh_token = "1//0g~x";
  EXPECT_EQ(refresh_token_form(user),
            "grant_type=refresh_token&refresh_token=1%2F%2F0g~x&client_id=id.apps"
            "&client_secret=s%26c%3Dr%20t%2B");
  EXPECT_EQ(form_encode({{"k", "\xc3\xa9"}}), "k=%C3%A9");
}

struct TokenCase {
  const char* name;
  int status;
  std::string body;
  std::string code;   // empty: success
  std::string field;  // the field an error names ("" = none)
};

TEST(GoogleAuthTest, TokenResponsesAreJudged) {
  const std::string token = "ya29.a0SECRET";
  const std::vector<TokenCase> cases = {
      {"ok", 200, R"({"access_token":"ya29.a0SECRET","expires_in":3599,"token_type":"Bearer"})", "",
       ""},
      {"expires_in as string", 200,
       R"({"access_token":"ya29.a0SECRET","expires_in":"3599","token_type":"bearer"})", "", ""},
      {"no access_token", 200, R"({"expires_in":3599,"token_type":"Bearer"})", "bad_token_response",
       "access_token"},
      {"no expires_in", 200, R"({"access_token":"ya29.a0SECRET","token_type":"Bearer"})",
       "bad_token_response", "expires_in"},
      {"no token_type", 200, R"({"access_token":"ya29.a0SECRET","expires_in":3599})",
       "bad_token_response", "token_type"},
      {"zero expires_in", 200,
       R"({"access_token":"ya29.a0SECRET","expires_in":0,"token_type":"Bearer"})",
       "bad_token_response", "expires_in"},
      {"negative expires_in", 200,
       R"({"access_token":"ya29.a0SECRET","expires_in":-5,"token_type":"Bearer"})",
       "bad_token_response", "expires_in"},
      {"fractional expires_in", 200,
       R"({"access_token":"ya29.a0SECRET","expires_in":1.5,"token_type":"Bearer"})",
       "bad_token_response", "expires_in"},
      {"MAC token", 200, R"({"access_token":"ya29.a0SECRET","expires_in":3599,"token_type":"MAC"})",
       "bad_token_response", "token_type"},
      {"token with a newline", 200,
       R"({"access_token":"ya29.a0SECRET\r\nX: y","expires_in":3599,"token_type":"Bearer"})",
       "bad_token_response", "access_token"},
      {"not JSON", 200, "ya29.a0SECRET", "bad_token_response", ""},
      {"invalid_grant", 400,
       R"({"error":"invalid_grant","error_description":"Invalid JWT Signature."})",
       "token_rejected", "error"},
      {"unauthorized_client", 401, R"({"error":"unauthorized_client"})", "token_rejected", "error"},
      {"HTML 403", 403, "<html>denied</html>", "token_rejected", ""},
      {"500", 500, R"({"error":"internal_failure"})", "retry", "error"},
      {"503 HTML", 503, "<html>ya29.a0SECRET</html>", "retry", ""},
      {"429", 429, "", "retry", ""},
  };
  for (const auto& c : cases) {
    auto r = parse_token_response(c.status, c.body);
    if (c.code.empty()) {
      ASSERT_TRUE(r) << c.name << ": " << to_string(r.error());
      EXPECT_EQ(r->value, token) << c.name;
      EXPECT_EQ(r->expires_in, Seconds(3599)) << c.name;
      continue;
    }
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error().code, c.code) << c.name;
    if (!c.field.empty()) {
      EXPECT_TRUE(has_field(r.error(), c.field)) << c.name;
    }
    EXPECT_EQ(to_string(r.error()).find("SECRET"), std::string::npos) << c.name;
  }
  auto rejected = parse_token_response(
      400, R"({"error":"invalid_grant","error_description":"Invalid JWT Signature."})");
  ASSERT_FALSE(rejected);
  EXPECT_NE(rejected.error().message.find("400"), std::string::npos);
  EXPECT_NE(rejected.error().message.find("invalid_grant (Invalid JWT Signature.)"),
            std::string::npos);
}

}  // namespace
}  // namespace gridshift
