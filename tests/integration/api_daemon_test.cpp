// The socket API against the real gridshiftd: submits over raw HTTP and with the CLI, restart
// and recovery of every job with its history, the socket file's rules (mode, stale file,
// second daemon) and permissions with a second uid (those need root: skipped otherwise).
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "api_raw_client.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

const std::string kDaemon = GRIDSHIFTD_PATH;
const std::string kCli = GRIDSHIFT_CLI_PATH;
const std::string kSourceDir = GRIDSHIFT_SOURCE_DIR;

// Not before 2099, so the scheduler holds it in the queue whatever the intensities are.
const std::string kSpec = R"({"name": "resnet50-nightly", "duration": "2h",
  "not_before": "2099-01-01T00:00:00Z", "deadline": "2099-01-02T00:00:00Z",
  "regions": ["europe-west2"], "vertex": {"machine_type": "a2-highgpu-1g",
  "accelerator_type": "NVIDIA_TESLA_A100", "accelerator_count": 1,
  "container": {"image_uri": "europe-docker.pkg.dev/p/r/trainer:1"}}})";

class Daemon {
 public:
  explicit Daemon(const TempDir& dir, const std::string& socket_extra = "", int n = 0)
      : dir_(dir), socket_((dir / "gridshift.sock").string()) {
    config_ = (dir / "config.yaml").string();
    write_file(config_, "state_dir: " + (dir / "state").string() + "\nsocket: {path: " + socket_ +
                            socket_extra +
                            "}\nfeeds:\n  - {name: annual, type: gcp_region_dataset, "
                            "file: " +
                            kSourceDir +
                            "/data/gcp-regions.csv}\n"
                            "regions:\n  - {name: europe-west2, feeds: [annual]}\n"
                            "  - {name: europe-west9, feeds: [annual]}\n");
    ProcessOptions options;
    options.argv = {kDaemon, "--config", config_};
    options.stdout_path = dir / ("daemon" + std::to_string(n) + ".out");
    options.stderr_path = dir / ("daemon" + std::to_string(n) + ".err");
    child_ = std::make_unique<ChildProcess>(options);
  }
  bool wait_ready() {
    return wait_until([&] {
             return child_->stderr_text().find("gridshiftd ready") != std::string::npos ||
                    !child_->running();
           }) &&
           child_->running();
  }
  int stop() {
    child_->signal(SIGTERM);
    return child_->wait_exit().value_or(-1);
  }
  const std::string& socket() const { return socket_; }
  ChildProcess& child() { return *child_; }

 private:
  const TempDir& dir_;
  std::string socket_;
  std::string config_;
  std::unique_ptr<ChildProcess> child_;
};

TEST(ApiDaemon, ReadyLineNamesTheSocketWhichHasTheConfiguredMode) {
  TempDir dir;
  Daemon daemon(dir, ", mode: \"0600\"");
  ASSERT_TRUE(daemon.wait_ready()) << daemon.child().stderr_text();
  EXPECT_NE(daemon.child().stderr_text().find("socket " + daemon.socket()), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(daemon.socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_FALSE(std::filesystem::exists(daemon.socket()));  // removed on a clean stop
}

TEST(ApiDaemon, SubmitsWithRawHttpAndTheCliSurviveARestartWithTheirHistory) {
  TempDir dir;
  std::vector<std::string> ids;
  nlohmann::json before;
  {
    Daemon daemon(dir);
    ASSERT_TRUE(daemon.wait_ready()) << daemon.child().stderr_text();
    auto created = call(daemon.socket(), "POST", "/v1/jobs", kSpec);
    ASSERT_EQ(created.status, 201) << created.body;
    auto job = created.json();
    EXPECT_EQ(job["state"], "queued");
    EXPECT_EQ(job["owner_uid"], ::getuid());
    EXPECT_EQ(job["power_watts"], 550.0);  // A100 400 W + host 150 W
    EXPECT_EQ(job["regions"], nlohmann::json::array({"europe-west2"}));
    EXPECT_NE(created.head.find("Location: /v1/jobs/" + job["id"].get<std::string>()),
              std::string::npos);
    ids.push_back(job["id"]);

    write_file(dir / "job.yaml",
               "name: from-cli\nduration: 1h\npower_watts: 900\n"
               "not_before: 2099-01-01T00:00:00Z\ndeadline: 2099-01-02T00:00:00Z\n");
    auto cli = run_command(
        {kCli, "--socket", daemon.socket(), "submit", "--json", (dir / "job.yaml").string()},
        dir.path());
    ASSERT_EQ(cli.exit_code, 0) << cli.err;
    auto cli_job = nlohmann::json::parse(cli.out);
    EXPECT_EQ(cli_job["name"], "from-cli");
    EXPECT_EQ(cli_job["regions"], nlohmann::json::array({"europe-west2", "europe-west9"}));
    ids.push_back(cli_job["id"]);

    auto cancelled = call(daemon.socket(), "POST", "/v1/jobs/" + ids[1] + "/cancel");
    ASSERT_EQ(cancelled.status, 200) << cancelled.body;
    EXPECT_EQ(cancelled.json()["state"], "cancelled");
    for (const auto& id : ids)
      before[id] = call(daemon.socket(), "GET", "/v1/jobs/" + id).json();
    EXPECT_EQ(daemon.stop(), 0);
  }
  Daemon again(dir, "", 1);
  ASSERT_TRUE(again.wait_ready()) << again.child().stderr_text();
  for (const auto& id : ids) {
    auto shown = call(again.socket(), "GET", "/v1/jobs/" + id);
    ASSERT_EQ(shown.status, 200) << shown.body;
    EXPECT_EQ(shown.json(), before[id]);
  }
  const auto history = before[ids[1]]["events"];
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0]["type"], "submitted");
  EXPECT_EQ(history[1]["type"], "state");
  auto list = call(again.socket(), "GET", "/v1/jobs?state=queued");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json()["jobs"].size(), 1u);
  EXPECT_EQ(list.json()["jobs"][0]["id"], ids[0]);
  EXPECT_EQ(again.stop(), 0);
}

TEST(ApiDaemon, IdempotencyKeyReturnsTheSameJobWith200) {
  TempDir dir;
  Daemon daemon(dir);
  ASSERT_TRUE(daemon.wait_ready());
  const std::map<std::string, std::string> headers = {{"Content-Type", "application/json"},
                                                      {"Idempotency-Key", "nightly-2026-11-26"}};
  auto first = call(daemon.socket(), "POST", "/v1/jobs", kSpec, headers);
  auto second = call(daemon.socket(), "POST", "/v1/jobs", kSpec, headers);
  ASSERT_EQ(first.status, 201) << first.body;
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(first.json()["id"], second.json()["id"]);
  EXPECT_EQ(call(daemon.socket(), "GET", "/v1/jobs").json()["jobs"].size(), 1u);
}

TEST(ApiDaemon, CancelRules) {
  TempDir dir;
  Daemon daemon(dir);
  ASSERT_TRUE(daemon.wait_ready());
  const std::string id = call(daemon.socket(), "POST", "/v1/jobs", kSpec).json()["id"];
  EXPECT_EQ(call(daemon.socket(), "POST", "/v1/jobs/" + id + "/cancel").status, 200);
  auto again = call(daemon.socket(), "POST", "/v1/jobs/" + id + "/cancel");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.error_code(), "conflict");
  auto unknown = call(daemon.socket(), "POST", "/v1/jobs/j-nope/cancel");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.error_code(), "not_found");
}

TEST(ApiDaemon, PlanValidatesThenAnswersWithoutStoringAnything) {
  TempDir dir;
  Daemon daemon(dir);
  ASSERT_TRUE(daemon.wait_ready());
  auto bad = call(daemon.socket(), "POST", "/v1/plan", R"({"name": "x"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.fields(), std::vector<std::string>{"duration"});
  auto good = call(daemon.socket(), "POST", "/v1/plan", kSpec);
  ASSERT_EQ(good.status, 200) << good.body;
  const auto plan = good.json();
  EXPECT_TRUE(plan["action"] == "dispatch" || plan["action"] == "hold") << good.body;
  for (const char* key : {"region", "start", "end", "emissions_g", "baseline_g", "savings",
                          "reason", "deadline", "power_watts"}) {
    EXPECT_TRUE(plan.contains(key)) << key << " missing from " << good.body;
  }
  EXPECT_FALSE(plan["reason"].get<std::string>().empty());
  EXPECT_EQ(call(daemon.socket(), "GET", "/v1/jobs").json()["jobs"].size(), 0u);
}

TEST(ApiDaemon, HealthReportAndMetrics) {
  TempDir dir;
  Daemon daemon(dir);
  ASSERT_TRUE(daemon.wait_ready());
  ASSERT_EQ(call(daemon.socket(), "POST", "/v1/jobs", kSpec).status, 201);
  auto health = call(daemon.socket(), "GET", "/v1/health").json();
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["queue_depth"], 1);
  EXPECT_EQ(health["database"], "ok");
  EXPECT_TRUE(health["feeds"].is_array());
  auto report = call(daemon.socket(), "GET", "/v1/report").json();
  EXPECT_EQ(report["jobs"]["total"], 1);
  EXPECT_EQ(report["jobs"]["by_state"]["queued"], 1);
  EXPECT_TRUE(report["emissions_g"].is_null());
  auto metrics = call(daemon.socket(), "GET", "/metrics");
  EXPECT_NE(metrics.head.find("text/plain"), std::string::npos);
  EXPECT_NE(metrics.body.find("gridshift_jobs{state=\"queued\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.body.find("gridshift_build_info{version="), std::string::npos);
}

// ---- malformed requests: each gets its 4xx and the daemon keeps serving ----

struct Malformed {
  std::string what;
  std::string bytes;
  int status;
  std::string code;   // expected error code ("" = do not check)
  std::string field;  // a field the details must name ("" = do not check)
};

std::string post_job(const std::string& body) {
  return http_request("POST", "/v1/jobs", body);
}

std::string nested(std::size_t depth) {
  return R"({"name": "deep", "duration": "1h", "labels": )" + std::string(depth, '[') +
         std::string(depth, ']') + "}";
}

std::vector<Malformed> malformed_requests() {
  const std::string big(1024 * 1024 + 1, 'x');
  std::vector<Malformed> cases = {
      {"truncated JSON", post_job("{"), 400, "invalid_json", ""},
      {"not JSON", post_job("not json"), 400, "invalid_json", ""},
      {"empty body", post_job(""), 400, "invalid_json", ""},
      {"array", post_job("[]"), 400, "invalid_job", ""},
      {"string", post_job(R"("job")"), 400, "invalid_job", ""},
      {"null", post_job("null"), 400, "invalid_job", ""},
      {"number", post_job("42"), 400, "invalid_job", ""},
      {"trailing comma", post_job(R"({"name": "a", "duration": "1h",})"), 400, "invalid_json", ""},
      {"missing comma", post_job(R"({"name": "a" "duration": "1h"})"), 400, "invalid_json", ""},
      {"single quotes", post_job(R"({'name': 'a'})"), 400, "invalid_json", ""},
      {"name is a number", post_job(R"({"name": 5, "duration": "1h"})"), 400, "invalid_job",
       "name"},
      {"name is an object", post_job(R"({"name": {}, "duration": "1h"})"), 400, "invalid_job",
       "name"},
      {"bad name", post_job(R"({"name": "bad name!", "duration": "1h"})"), 400, "invalid_job",
       "name"},
      {"duration without unit", post_job(R"({"name": "a", "duration": 3600})"), 400, "invalid_job",
       "duration"},
      {"duration a list", post_job(R"({"name": "a", "duration": ["1h"]})"), 400, "invalid_job",
       "duration"},
      {"regions a string", post_job(R"({"name": "a", "duration": "1h", "regions": "x"})"), 400,
       "invalid_job", "regions"},
      {"unknown region", post_job(R"({"name": "a", "duration": "1h", "regions": ["mars-1"]})"), 400,
       "invalid_job", "regions[0]"},
      {"policy a number", post_job(R"({"name": "a", "duration": "1h", "policy": 7})"), 400,
       "invalid_job", "policy"},
      {"unknown policy", post_job(R"({"name": "a", "duration": "1h", "policy": "later"})"), 400,
       "invalid_job", "policy"},
      {"threshold a string", post_job(R"({"name": "a", "duration": "1h", "threshold": "x"})"), 400,
       "invalid_job", "threshold"},
      {"power a string", post_job(R"({"name": "a", "duration": "1h", "power_watts": "lots"})"), 400,
       "invalid_job", "power_watts"},
      {"deadline not a time", post_job(R"({"name": "a", "duration": "1h", "deadline": "soon"})"),
       400, "invalid_job", "deadline"},
      {"deadline in the past",
       post_job(R"({"name": "a", "duration": "1h", "deadline": "2001-01-01T00:00:00Z"})"), 400,
       "invalid_job", "deadline"},
      {"vertex a list", post_job(R"({"name": "a", "duration": "1h", "vertex": []})"), 400,
       "invalid_job", "vertex"},
      {"accelerator count a word",
       post_job(R"({"name": "a", "duration": "1h", "vertex": {"accelerator_count": "two"}})"), 400,
       "invalid_job", "vertex.accelerator_count"},
      {"missing name", post_job(R"({"duration": "1h"})"), 400, "invalid_job", "name"},
      {"missing duration", post_job(R"({"name": "a"})"), 400, "invalid_job", "duration"},
      {"unknown field", post_job(R"({"name": "a", "duration": "1h", "colour": "red"})"), 400,
       "invalid_job", "colour"},
      {"unknown nested field", post_job(R"({"name": "a", "duration": "1h", "vertex": {"gpu": 1}})"),
       400, "invalid_job", "vertex.gpu"},
      {"unknown local field", post_job(R"({"name": "a", "duration": "1h", "local": {"x": 1}})"),
       400, "invalid_job", "local.x"},
      {"invalid UTF-8 byte", post_job("{\"name\": \"a\xff\", \"duration\": \"1h\"}"), 400,
       "invalid_utf8", ""},
      {"overlong UTF-8", post_job("{\"name\": \"\xc0\x80\", \"duration\": \"1h\"}"), 400,
       "invalid_utf8", ""},
      {"UTF-8 surrogate", post_job("{\"name\": \"\xed\xa0\x80\", \"duration\": \"1h\"}"), 400,
       "invalid_utf8", ""},
      {"cut UTF-8 sequence", post_job("{\"name\": \"a\"}\xe2\x82"), 400, "invalid_utf8", ""},
      {"nested 100 deep", post_job(nested(100)), 400, "invalid_json", ""},
      {"nested 65 deep", post_job(nested(65)), 400, "invalid_json", ""},
      {"body over 1 MiB", post_job(big), 413, "payload_too_large", ""},
      {"huge Content-Length",
       "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       "Content-Length: 999999999\r\n\r\n{}",
       413, "payload_too_large", ""},
      {"chunked body over 1 MiB",
       "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       "Transfer-Encoding: chunked\r\n\r\n100001\r\n" +
           big.substr(0, 0x100001) + "\r\n0\r\n\r\n",
       413, "payload_too_large", ""},
      {"headers over 16 KiB",
       "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'h') + "\r\n\r\n", 431,
       "headers_too_large", ""},
      {"text/plain body",
       http_request("POST", "/v1/jobs", R"({"name": "a", "duration": "1h"})",
                    {{"Content-Type", "text/plain"}}),
       415, "unsupported_media_type", "Content-Type"},
      {"no Content-Type",
       http_request("POST", "/v1/jobs", R"({"name": "a", "duration": "1h"})", {}), 415,
       "unsupported_media_type", "Content-Type"},
      {"Idempotency-Key too long",
       http_request(
           "POST", "/v1/jobs", R"({"name": "a", "duration": "1h"})",
           {{"Content-Type", "application/json"}, {"Idempotency-Key", std::string(200, 'k')}}),
       400, "invalid_request", "Idempotency-Key"},
      {"plan with a bad spec", http_request("POST", "/v1/plan", R"({"name": 1})"), 400,
       "invalid_job", "name"},
      {"plan not JSON", http_request("POST", "/v1/plan", "]["), 400, "invalid_json", ""},
      {"DELETE jobs", http_request("DELETE", "/v1/jobs"), 405, "method_not_allowed", ""},
      {"PUT a job", http_request("PUT", "/v1/jobs/j-abc", "{}"), 405, "method_not_allowed", ""},
      {"GET cancel", http_request("GET", "/v1/jobs/j-abc/cancel"), 405, "method_not_allowed", ""},
      {"POST health", http_request("POST", "/v1/health", "{}"), 405, "method_not_allowed", ""},
      {"unknown path", http_request("GET", "/v1/nope"), 404, "not_found", ""},
      {"root path", http_request("GET", "/"), 404, "not_found", ""},
      {"v2", http_request("GET", "/v2/jobs"), 404, "not_found", ""},
      {"unknown job", http_request("GET", "/v1/jobs/j-unknown"), 404, "not_found", ""},
      {"cancel unknown job", http_request("POST", "/v1/jobs/j-unknown/cancel", "{}"), 404,
       "not_found", ""},
      {"bad state filter", http_request("GET", "/v1/jobs?state=bogus"), 400, "invalid_request",
       "state"},
      {"limit zero", http_request("GET", "/v1/jobs?limit=0"), 400, "invalid_request", "limit"},
      {"limit too big", http_request("GET", "/v1/jobs?limit=5000"), 400, "invalid_request",
       "limit"},
      {"limit a word", http_request("GET", "/v1/jobs?limit=ten"), 400, "invalid_request", "limit"},
      {"bad cursor", http_request("GET", "/v1/jobs?after=NOT_AN_ID"), 400, "invalid_request",
       "after"},
      {"unknown parameter", http_request("GET", "/v1/jobs?colour=red"), 400, "invalid_request",
       "colour"},
      {"bad percent escape", http_request("GET", "/v1/jobs/%zz"), 400, "bad_request", ""},
      {"NUL in path", http_request("GET", "/v1/health%00"), 400, "bad_request", ""},
      {"asterisk target", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request", ""},
      {"truncated headers", "GET /v1/health HTTP/1.1\r\nHost: x\r\n", 400, "bad_request", ""},
      {"truncated body",
       "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       "Content-Length: 100\r\n\r\n{\"name\"",
       400, "bad_request", ""},
      {"garbage request line", "HELLO\r\n\r\n", 400, "bad_request", ""},
      {"header without colon", "GET /v1/health HTTP/1.1\r\nHost x\r\n\r\n", 400, "bad_request", ""},
      {"bad chunk size",
       "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
       "bad_request", ""},
  };
  return cases;
}

TEST(ApiDaemon, AnswersEveryMalformedRequestWithItsErrorAndKeepsServing) {
  TempDir dir;
  Daemon daemon(dir);
  ASSERT_TRUE(daemon.wait_ready()) << daemon.child().stderr_text();
  const auto cases = malformed_requests();
  ASSERT_GE(cases.size(), 50u);
  for (const auto& c : cases) {
    auto reply = raw_exchange(daemon.socket(), c.bytes);
    EXPECT_EQ(reply.status, c.status) << c.what << ": " << reply.body;
    if (!c.code.empty()) {
      EXPECT_EQ(reply.error_code(), c.code) << c.what << ": " << reply.body;
    }
    if (!c.field.empty()) {
      const auto fields = reply.fields();
      EXPECT_NE(std::find(fields.begin(), fields.end(), c.field), fields.end())
          << c.what << ": " << reply.body;
    }
    ASSERT_TRUE(daemon.child().running()) << c.what;
    // Still serving, and nothing half-written.
    auto list = call(daemon.socket(), "GET", "/v1/jobs");
    ASSERT_EQ(list.status, 200) << c.what;
    EXPECT_EQ(list.json()["jobs"].size(), 0u) << c.what;
  }
  EXPECT_EQ(call(daemon.socket(), "POST", "/v1/jobs", kSpec).status, 201);
  EXPECT_EQ(daemon.stop(), 0);
}

TEST(ApiDaemon, StopsCleanlyWithAConnectionStillOpen) {
  TempDir dir;
  Daemon daemon(dir);
  ASSERT_TRUE(daemon.wait_ready());
  int error = 0;
  const int fd = connect_unix(daemon.socket(), error);
  ASSERT_GE(fd, 0);
  const std::string partial = "GET /v1/health HTTP/1.1\r\n";
  ASSERT_GT(::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL), 0);
  EXPECT_EQ(daemon.stop(), 0) << daemon.child().stderr_text();
  ::close(fd);
}

// ---- the socket file ----

TEST(ApiDaemon, ASecondDaemonOnTheSameSocketRefusesToStart) {
  TempDir dir;
  Daemon first(dir);
  ASSERT_TRUE(first.wait_ready());
  // Another state dir (the same one is refused by the state's lock: hardening_test), the same
  // socket: the live socket is not taken over.
  TempDir other_state;
  write_file(other_state / "config.yaml",
             replace_all(read_file(dir / "config.yaml"), (dir / "state").string(),
                         (other_state / "state").string()));
  ProcessOptions options;
  options.argv = {kDaemon, "--config", (other_state / "config.yaml").string()};
  options.stdout_path = other_state / "daemon.out";
  options.stderr_path = other_state / "daemon.err";
  ChildProcess second(options);
  auto code = second.wait_exit();
  EXPECT_EQ(code, 1);
  EXPECT_NE(second.stderr_text().find("already listening on " + first.socket()), std::string::npos)
      << second.stderr_text();
  EXPECT_EQ(call(first.socket(), "GET", "/v1/health").status, 200);
}

TEST(ApiDaemon, ReplacesAStaleSocketButNotAnotherFile) {
  TempDir dir;
  const auto path = (dir / "gridshift.sock").string();
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
    ::close(fd);  // the file stays, nobody listens: stale
  }
  {
    Daemon daemon(dir);
    ASSERT_TRUE(daemon.wait_ready()) << daemon.child().stderr_text();
    EXPECT_EQ(call(daemon.socket(), "GET", "/v1/health").status, 200);
    EXPECT_EQ(daemon.stop(), 0);
  }
  write_file(path, "not a socket");
  Daemon refused(dir, "", 1);
  EXPECT_EQ(refused.child().wait_exit(), 1);
  EXPECT_NE(refused.child().stderr_text().find("is not a socket"), std::string::npos);
  EXPECT_EQ(read_file(path), "not a socket");
}

TEST(ApiDaemon, UnknownSocketGroupIsAStartupError) {
  TempDir dir;
  Daemon daemon(dir, ", group: no-such-group-gridshift");
  EXPECT_EQ(daemon.child().wait_exit(), 2);
  EXPECT_NE(daemon.child().stderr_text().find("socket.group"), std::string::npos)
      << daemon.child().stderr_text();
}

// ---- a second uid (needs root) ----

// Runs `body` in a child that dropped to uid/gid 64000 with the given supplementary group;
// returns the child's exit code.
int as_other_user(gid_t extra_group, const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const gid_t groups[] = {extra_group};
    if (::setgroups(1, groups) != 0 || ::setgid(64000) != 0 || ::setuid(64000) != 0) ::_exit(99);
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(ApiDaemonPermissions, OutsideTheSocketGroupAnotherUserCannotConnect) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to a second uid";
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  Daemon daemon(dir, ", group: root");  // the child is not in group root
  ASSERT_TRUE(daemon.wait_ready()) << daemon.child().stderr_text();
  const auto socket = daemon.socket();
  const int code = as_other_user(64000, [&] {
    int error = 0;
    const int fd = connect_unix(socket, error);
    return fd < 0 && error == EACCES ? 0 : 1;
  });
  EXPECT_EQ(code, 0);
}

TEST(ApiDaemonPermissions, InTheGroupAnotherUserSubmitsButCannotCancelOthersJobs) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to a second uid";
  const group* users = ::getgrnam("users");
  if (users == nullptr) GTEST_SKIP() << "no group 'users' on this system";
  const gid_t users_gid = users->gr_gid;
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  Daemon daemon(dir, ", group: users");
  ASSERT_TRUE(daemon.wait_ready()) << daemon.child().stderr_text();
  const auto socket = daemon.socket();
  const std::string roots_job = call(socket, "POST", "/v1/jobs", kSpec).json()["id"];

  // Exit code bits: 1 submit failed, 2 cancel of root's job not 403, 4 own cancel failed.
  const int code = as_other_user(users_gid, [&] {
    int result = 0;
    auto mine = call(socket, "POST", "/v1/jobs", kSpec);
    if (mine.status != 201 || mine.json()["owner_uid"] != 64000) result |= 1;
    auto theirs = call(socket, "POST", "/v1/jobs/" + roots_job + "/cancel");
    if (theirs.status != 403 || theirs.error_code() != "forbidden") result |= 2;
    if (mine.status == 201) {
      const std::string id = mine.json()["id"];
      if (call(socket, "POST", "/v1/jobs/" + id + "/cancel").status != 200) result |= 4;
    }
    return result;
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(call(socket, "GET", "/v1/jobs/" + roots_job).json()["state"], "queued");
  // Root may cancel anybody's job.
  auto jobs = call(socket, "GET", "/v1/jobs").json()["jobs"];
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(call(socket, "POST", "/v1/jobs/" + roots_job + "/cancel").status, 200);
}

}  // namespace
}  // namespace gridshift::testing
