// Security promises of docs/design.md, "Promises" against the real gridshiftd: secrets planted
// through `token_env` and `password_file` (really used: the fake feed server refuses other
// credentials) never show in the daemon's log (at trace level), its SQLite files or any API answer,
// through submits, polls, bad requests, feed 401s and a SIGHUP; and the socket file has exactly the
// configured mode and group. A non-owner's cancel being refused (403) is tested in
// api_daemon_test.cpp (ApiDaemonPermissions.InTheGroupAnotherUserSubmitsButCannotCancelOthersJobs),
// connecting from outside the socket's group in
// ApiDaemonPermissions.OutsideTheSocketGroupAnotherUserCannotConnect.
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api_raw_client.h"
#include "fakes/fake_feed_server.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

using nlohmann::json;

const std::string kEmapsToken = "em-tok-SECRET-5b9d2c71";
const std::string kWattTimeUser = "wt-user";
const std::string kWattTimePassword = "wt-pw-SECRET-e41f08aa";

std::string base64(const std::string& in) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(in[i]) << 16) |
                   (static_cast<unsigned char>(in[i + 1]) << 8) |
                   static_cast<unsigned char>(in[i + 2]);
    for (int shift : {18, 12, 6, 0})
      out += kTable[(n >> shift) & 63];
  }
  if (i < in.size()) {
    const bool two = i + 1 < in.size();
    const auto n = (static_cast<unsigned char>(in[i]) << 16) |
                   (two ? static_cast<unsigned char>(in[i + 1]) << 8 : 0);
    out += kTable[(n >> 18) & 63];
    out += kTable[(n >> 12) & 63];
    out += two ? kTable[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Every form a planted secret could leak in: as is, and WattTime's Basic credentials.
std::vector<std::string> secret_forms() {
  return {kEmapsToken, kWattTimePassword, base64(kWattTimeUser + ":" + kWattTimePassword)};
}

void expect_no_secret(const std::string& where, const std::string& text) {
  for (const auto& secret : secret_forms()) {
    EXPECT_EQ(text.find(secret), std::string::npos) << "secret '" << secret << "' in " << where;
  }
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeZone fr;
    fr.intensity = 56;
    fake_.set_emaps_zone("FR", fr);
    fake_.set_emaps_token(kEmapsToken);
    fake_.set_watttime_credentials(kWattTimeUser, kWattTimePassword);
    fake_.set_watttime_region("CAISO_NORTH", 900);
    fake_.set_now(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
    write_file(dir_ / "wt-password", kWattTimePassword + "\n");
    ::chmod((dir_ / "wt-password").c_str(), 0600);
  }

  // `group` empty: the daemon's own.
  void write_config(const std::string& group) {
    write_file(dir_ / "config.yaml",
               "state_dir: " + (dir_ / "state").string() + "\nlog_level: trace\n" +
                   "socket: {path: " + socket() + ", mode: \"0660\"" +
                   (group.empty() ? "" : ", group: " + group) +
                   "}\n"
                   "feeds:\n"
                   "  - {name: emaps, type: electricitymaps, base_url: \"" +
                   fake_.base_url() +
                   "\", token_env: GRIDSHIFT_TEST_EM_TOKEN, poll_interval: 1s, timeout: 2s}\n"
                   "  - {name: wt, type: watttime, base_url: \"" +
                   fake_.base_url() + "\", username_env: GRIDSHIFT_TEST_WT_USER, password_file: " +
                   (dir_ / "wt-password").string() +
                   ", poll_interval: 1s, timeout: 2s}\n"
                   "  - {name: annual, type: gcp_region_dataset, file: " +
                   std::string(GRIDSHIFT_SOURCE_DIR) +
                   "/data/gcp-regions.csv}\n"
                   "regions:\n"
                   "  - {name: europe-west9, feeds: [emaps, annual], location: FR}\n"
                   "  - {name: us-west1, feeds: [wt, annual], location: CAISO_NORTH}\n"
                   "dispatch: {type: dry_run}\n");
  }

  std::unique_ptr<ChildProcess> start() {
    ProcessOptions options;
    options.argv = {GRIDSHIFTD_PATH, "--config", (dir_ / "config.yaml").string()};
    options.cwd = dir_.path();
    options.set_env = {{"GRIDSHIFT_TEST_EM_TOKEN", kEmapsToken},
                       {"GRIDSHIFT_TEST_WT_USER", kWattTimeUser}};
    options.unset_env = {"JOURNAL_STREAM", "HTTPS_PROXY", "HTTP_PROXY",
                         "https_proxy",    "http_proxy",  "CREDENTIALS_DIRECTORY"};
    options.stdout_path = dir_ / "daemon.out";
    options.stderr_path = dir_ / "daemon.err";
    return std::make_unique<ChildProcess>(options);
  }

  std::string socket() const { return (dir_ / "gridshift.sock").string(); }

  // Calls the API and keeps the whole answer (head and body) for the final grep.
  RawReply api(const std::string& method, const std::string& target, const std::string& body = {},
               const std::map<std::string, std::string>& headers = {
                   {"Content-Type", "application/json"}}) {
    auto reply = call(socket(), method, target, body, headers);
    answers_.push_back({method + " " + target, reply.head + "\r\n\r\n" + reply.body});
    return reply;
  }

  json health() { return api("GET", "/v1/health").json(); }

  std::string feed_status(const json& h, const std::string& name) {
    if (!h.is_object() || !h.contains("feeds")) return "";
    for (const auto& f : h["feeds"]) {
      if (f.value("name", "") == name) return f.value("status", "");
    }
    return "";
  }

  std::string state_files() {
    std::string all;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      all += read_file(dir_ / "state" / (std::string("gridshift.db") + suffix));
    }
    return all;
  }

  TempDir dir_;
  FakeFeedServer fake_;
  std::vector<std::pair<std::string, std::string>> answers_;
};

TEST_F(SecurityTest, PlantedSecretsNeverShowInLogsDatabaseOrApiAnswers) {
  write_config("");
  auto daemon = start();
  // Both feeds deliver: the daemon really sent the token and the password.
  ASSERT_TRUE(wait_until([&] {
    auto h = health();
    return feed_status(h, "emaps") == "ok" && feed_status(h, "wt") == "ok";
  })) << daemon->stderr_text();
  ASSERT_GE(fake_.watttime_logins(), 1);

  const std::string spec = R"({"name": "secure", "duration": "1h", "power_watts": 300,
    "not_before": "2099-01-01T00:00:00Z", "deadline": "2099-01-02T00:00:00Z"})";
  auto created = api("POST", "/v1/jobs", spec,
                     {{"Content-Type", "application/json"}, {"Idempotency-Key", "security-1"}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = created.json()["id"];
  EXPECT_EQ(api("POST", "/v1/jobs", spec,
                {{"Content-Type", "application/json"}, {"Idempotency-Key", "security-1"}})
                .status,
            200);
  // Bad requests of every kind: their error bodies are grepped too.
  EXPECT_EQ(api("POST", "/v1/jobs", "{").status, 400);
  EXPECT_EQ(api("POST", "/v1/jobs", R"({"name": "x", "duration": "1h", "colour": 1})").status, 400);
  EXPECT_EQ(api("POST", "/v1/jobs", spec, {{"Content-Type", "text/plain"}}).status, 415);
  EXPECT_EQ(api("GET", "/v1/jobs?state=bogus").status, 400);
  EXPECT_EQ(api("GET", "/v1/jobs/j-nope").status, 404);
  EXPECT_EQ(api("DELETE", "/v1/jobs").status, 405);
  EXPECT_EQ(api("GET", "/v1/regions/nowhere/forecast").status, 404);
  EXPECT_EQ(api("POST", "/v1/plan", R"({"name": 1})").status, 400);

  // Feed 401s: WattTime's token expires (the daemon logs in again with the password), and
  // Electricity Maps starts refusing the daemon's token.
  const int logins = fake_.watttime_logins();
  fake_.expire_watttime_tokens();
  ASSERT_TRUE(wait_until([&] { return fake_.watttime_logins() > logins; }))
      << daemon->stderr_text();
  fake_.set_emaps_token("rotated-elsewhere");
  ASSERT_TRUE(wait_until([&] { return feed_status(health(), "emaps") == "failing"; }))
      << daemon->stderr_text();

  // A reload re-reads the configuration and the secrets.
  daemon->signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] {
    return daemon->stderr_text().find("configuration reloaded") != std::string::npos;
  })) << daemon->stderr_text();

  for (const auto& target :
       {"/v1/health", "/v1/regions", "/v1/regions/europe-west9/forecast",
        "/v1/regions/us-west1/forecast", "/v1/jobs", "/v1/report", "/metrics"}) {
    EXPECT_EQ(api("GET", target).status, 200) << target;
  }
  EXPECT_EQ(api("GET", "/v1/jobs/" + id).status, 200);
  EXPECT_EQ(api("POST", "/v1/jobs/" + id + "/cancel").status, 200);
  api("POST", "/v1/plan", spec);  // 200 or 503 (planner): either answer is grepped

  const std::string running_state = state_files();
  ASSERT_FALSE(running_state.empty());
  expect_no_secret("the database files of the running daemon", running_state);

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
  const std::string log = daemon->stderr_text() + daemon->stdout_text();
  // The error paths did run (so the log had the chance to leak).
  EXPECT_NE(log.find("401"), std::string::npos) << log;
  expect_no_secret("the daemon's log", log);
  expect_no_secret("the database files after the stop", state_files());
  ASSERT_GE(answers_.size(), 20u);
  for (const auto& [what, text] : answers_)
    expect_no_secret("the answer to " + what, text);
}

TEST_F(SecurityTest, SocketHasExactlyTheConfiguredModeAndGroup) {
  // A group other than the daemon's primary one when the system has one we may use.
  std::string group_name;
  gid_t expected_gid = ::getegid();
  if (::geteuid() == 0) {
    if (const group* users = ::getgrnam("users"); users != nullptr) {
      group_name = "users";
      expected_gid = users->gr_gid;
    }
  }
  write_config(group_name);
  auto daemon = start();
  ASSERT_TRUE(wait_until([&] {
    return daemon->stderr_text().find("gridshiftd ready") != std::string::npos;
  })) << daemon->stderr_text();
  struct stat st {};
  ASSERT_EQ(::lstat(socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, expected_gid);
  EXPECT_EQ(st.st_uid, ::geteuid());
  // The private staging directory the socket was bound in is gone.
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().rfind(".gridshift-socket-", 0), std::string::npos)
        << entry.path();
  }
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
}

// A feed that echoes the daemon's credentials inside its error message (as misbehaving proxies
// and APIs do): the echo reaches neither the log, nor health, nor any other answer.
TEST_F(SecurityTest, SecretsEchoedByAnUpstreamAreScrubbed) {
  // The zone field quotes the credentials; the parser names the zone it got in its error.
  FakeFault echo;
  echo.status = 200;
  echo.body = R"({"zone": "auth-token )" + kEmapsToken + R"( Basic )" +
              base64(kWattTimeUser + ":" + kWattTimePassword) +
              R"(", "carbonIntensity": 56, "datetime": "2026-11-26T18:00:00.000Z"})";
  echo.times = -1;
  fake_.inject("/v4/carbon-intensity/latest", echo);
  write_config("");
  auto daemon = start();
  ASSERT_TRUE(wait_until([&] { return feed_status(health(), "emaps") == "failing"; }))
      << daemon->stderr_text();
  const auto h = api("GET", "/v1/health");
  // The upstream's message is there, without the secret.
  EXPECT_NE(h.body.find("<redacted>"), std::string::npos) << h.body;
  api("GET", "/v1/regions");
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
  const std::string log = daemon->stderr_text() + daemon->stdout_text();
  EXPECT_NE(log.find("<redacted>"), std::string::npos) << log;
  expect_no_secret("the daemon's log", log);
  expect_no_secret("the database files", state_files());
  for (const auto& [what, text] : answers_)
    expect_no_secret("the answer to " + what, text);
}

// The database holds other users' job specs (env values): only the daemon's user reads it.
TEST_F(SecurityTest, StateFilesAreNotReadableByOthers) {
  write_config("");
  auto daemon = start();
  ASSERT_TRUE(wait_until([&] {
    return daemon->stderr_text().find("gridshiftd ready") != std::string::npos;
  })) << daemon->stderr_text();
  ASSERT_EQ(api("POST", "/v1/jobs",
                R"({"name": "m", "duration": "1h", "not_before": "2099-01-01T00:00:00Z",
                    "deadline": "2099-01-02T00:00:00Z"})")
                .status,
            201);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0711u) << std::oct << (st.st_mode & 0777);
  for (const char* name :
       {"gridshift.db", "gridshift.db-wal", "gridshift.db-shm", "gridshiftd.lock"}) {
    ASSERT_EQ(::stat((dir_ / "state" / name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 0077, 0u) << name << ": " << std::oct << (st.st_mode & 0777);
  }
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_exit(), 0) << daemon->stderr_text();
}

}  // namespace
}  // namespace gridshift::testing
