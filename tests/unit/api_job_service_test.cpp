// JobService and ApiRouter without sockets: submission (resolution, group commit, idempotency),
// listing, cancel rules, report, health and metrics, driven on an io_context in the test.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <set>

#include "core/accounting.h"
#include "core/job_spec.h"
#include "daemon/api/api_router.h"
#include "daemon/api/api_server.h"
#include "daemon/api/job_service.h"
#include "daemon/config/config.h"
#include "deploy/registry.h"
#include "storage/memory/memory_store.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;

TimePoint at(int day, int hour) {
  using namespace std::chrono;
  return sys_days{year{2026} / November / day} + hours{hour};
}

class JobServiceTest : public ::testing::Test {
 protected:
  JobServiceTest() : clock_(at(26, 18)), service_(store_, config_, clock_, io_.get_executor()) {
    RegionConfig west2;
    west2.name = "europe-west2";
    west2.pue = 1.1;
    RegionConfig west9;
    west9.name = "europe-west9";
    config_.regions = {west2, west9};
    config_.scheduler.default_deadline = std::chrono::hours(12);
    service_.register_routes(router_);
  }

  ApiResponse request(std::string method, std::string target, std::string body = {},
                      std::uint32_t uid = 1000,
                      std::map<std::string, std::string> headers = {
                          {"content-type", "application/json"}}) {
    ApiRequest r;
    r.method = std::move(method);
    EXPECT_TRUE(parse_target(target, r.path, r.query)) << target;
    r.body = std::move(body);
    r.uid = uid;
    r.headers = std::move(headers);
    ApiResponse response;
    asio::co_spawn(io_, router_.dispatch_async(std::move(r)),
                   [&](std::exception_ptr e, ApiResponse value) {
                     if (e) std::rethrow_exception(e);
                     response = std::move(value);
                   });
    io_.restart();
    io_.run();
    return response;
  }
  nlohmann::json json(const ApiResponse& r) { return nlohmann::json::parse(r.body); }
  std::string submit(const std::string& body, std::uint32_t uid = 1000) {
    auto r = request("POST", "/v1/jobs", body, uid);
    EXPECT_EQ(r.status, 201) << r.body;
    return json(r).value("id", "");
  }
  // A 1-hour, 1 kW job that ran 20:00-21:00 and ended in `state` with these accounting figures.
  void store_ended(JobState state, const char* accounting) {
    const auto id = submit(R"({"name": "a", "duration": "1h", "power_watts": 1000})");
    Job job = **store_.get(id);
    job.state = state;
    job.started_at = at(26, 20);
    job.finished_at = at(26, 21);
    job_accounting_from_json(accounting, job);
    ASSERT_TRUE(store_.update(job, JobEvent{0, id, at(26, 21), "state", "done", ""}));
  }
  void set_state(const std::string& id, JobState state) {
    Job job = **store_.get(id);
    job.state = state;
    ASSERT_TRUE(store_.update(job, JobEvent{0, id, clock_.now(), "state", "test", ""}));
  }

  asio::io_context io_;
  Config config_;
  ManualClock clock_;
  MemoryStore store_;
  JobService service_;
  ApiRouter router_;
};

TEST_F(JobServiceTest, SubmitResolvesDeadlineRegionsAndPowerAndRecordsTheOwner) {
  auto r = request("POST", "/v1/jobs",
                   R"({"name": "n", "duration": "2h", "vertex": {"accelerator_type":
                   "NVIDIA_TESLA_A100", "accelerator_count": 2, "replica_count": 2,
                   "container": {"image_uri": "example/trainer:1"}}})",
                   4242);
  ASSERT_EQ(r.status, 201) << r.body;
  auto job = json(r);
  EXPECT_TRUE(is_valid_job_id(job["id"].get<std::string>()));
  EXPECT_EQ(job["owner_uid"], 4242);
  EXPECT_EQ(job["deadline"], "2026-11-27T06:00:00Z");  // 18:00 + default_deadline 12h
  EXPECT_EQ(job["regions"], nlohmann::json::array({"europe-west2", "europe-west9"}));
  EXPECT_EQ(job["power_watts"], (2 * 400.0 + 150.0) * 2);
  EXPECT_EQ(job["spec"]["name"], "n");
  EXPECT_TRUE(job["accounting"].is_null());
  auto events = *store_.events(job["id"].get<std::string>());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "submitted");
}

TEST_F(JobServiceTest, ConcurrentSubmitsShareOneCommit) {
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    auto job = service_.prepare(R"({"name": "g", "duration": "1h"})", 1000, std::nullopt);
    ASSERT_TRUE(job);
    asio::co_spawn(io_, service_.submit(*job),
                   [&](std::exception_ptr e, Result<std::pair<Job, bool>> stored) {
                     if (e) std::rethrow_exception(e);
                     ASSERT_TRUE(stored);
                     EXPECT_TRUE(stored->second);
                     ids.push_back(stored->first.id);
                   });
  }
  io_.run();
  EXPECT_EQ(ids.size(), 10u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 10u);
  EXPECT_EQ(service_.commits(), 1u);
  EXPECT_EQ(*store_.count(std::nullopt), 10u);
}

TEST_F(JobServiceTest, IdempotencyKeyAnswers200WithTheFirstJob) {
  const std::map<std::string, std::string> headers = {{"content-type", "application/json"},
                                                      {"idempotency-key", "k1"}};
  auto first = request("POST", "/v1/jobs", R"({"name": "a", "duration": "1h"})", 7, headers);
  auto second = request("POST", "/v1/jobs", R"({"name": "a", "duration": "1h"})", 7, headers);
  auto other_user = request("POST", "/v1/jobs", R"({"name": "a", "duration": "1h"})", 8, headers);
  EXPECT_EQ(first.status, 201);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(json(first)["id"], json(second)["id"]);
  EXPECT_EQ(other_user.status, 201);
  EXPECT_NE(json(first)["id"], json(other_user)["id"]);
}

TEST_F(JobServiceTest, ListPagesThroughEveryJobWithACursor) {
  std::vector<std::string> submitted;
  for (int i = 0; i < 7; ++i)
    submitted.push_back(submit(R"({"name": "p", "duration": "1h"})"));
  std::vector<std::string> seen;
  std::string target = "/v1/jobs?limit=3";
  for (int pages = 0; pages < 5; ++pages) {
    auto page = json(request("GET", target));
    for (const auto& j : page["jobs"])
      seen.push_back(j["id"]);
    if (page["next"].is_null()) break;
    target = "/v1/jobs?limit=3&after=" + page["next"].get<std::string>();
  }
  EXPECT_EQ(seen, submitted);
}

TEST_F(JobServiceTest, OnlyTheOwnerOrRootCancels) {
  const auto id = submit(R"({"name": "c", "duration": "1h"})", 1000);
  auto stranger = request("POST", "/v1/jobs/" + id + "/cancel", "", 2000);
  EXPECT_EQ(stranger.status, 403);
  EXPECT_EQ(json(stranger)["error"]["code"], "forbidden");
  EXPECT_EQ((*store_.get(id))->state, JobState::queued);
  auto root = request("POST", "/v1/jobs/" + id + "/cancel", "", 0);
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(json(root)["state"], "cancelled");
  auto events = *store_.events(id);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, "state");
  EXPECT_EQ(request("POST", "/v1/jobs/" + id + "/cancel", "", 1000).status, 409);
}

TEST_F(JobServiceTest, CancelOfARunningJobRequestsTheRemoteCancel) {
  const auto id = submit(R"({"name": "r", "duration": "1h"})");
  set_state(id, JobState::running);
  std::vector<std::string> remote_cancels;
  service_.on_cancel_requested = [&](const Job& job) { remote_cancels.push_back(job.id); };
  auto r = request("POST", "/v1/jobs/" + id + "/cancel", "", 1000);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(remote_cancels, std::vector<std::string>{id});
  auto events = *store_.events(id);
  EXPECT_EQ(events.back().type, "cancel_requested");
  EXPECT_EQ((*store_.get(id))->state, JobState::cancelled);
}

TEST_F(JobServiceTest, ShowAddsTheEvents) {
  const auto id = submit(R"({"name": "s", "duration": "1h"})");
  auto shown = json(request("GET", "/v1/jobs/" + id));
  ASSERT_EQ(shown["events"].size(), 1u);
  EXPECT_EQ(shown["events"][0]["type"], "submitted");
  EXPECT_EQ(shown["events"][0]["at"], "2026-11-26T18:00:00Z");
}

TEST_F(JobServiceTest, ReportCountsStatesAndEnergyOfFinishedJobs) {
  const auto id = submit(R"({"name": "e", "duration": "2h", "power_watts": 1000})");
  submit(R"({"name": "q", "duration": "1h"})");
  Job job = **store_.get(id);
  job.state = JobState::succeeded;
  job.region = "europe-west2";  // PUE 1.1
  job.started_at = at(26, 20);
  job.finished_at = at(26, 22);
  ASSERT_TRUE(store_.update(job, JobEvent{0, id, at(26, 22), "state", "done", ""}));
  auto report = json(request("GET", "/v1/report"));
  EXPECT_EQ(report["jobs"]["total"], 2);
  EXPECT_EQ(report["jobs"]["by_state"]["succeeded"], 1);
  EXPECT_EQ(report["jobs"]["by_state"]["queued"], 1);
  EXPECT_NEAR(report["energy_kwh"].get<double>(), 1.0 * 2 * 1.1, 1e-9);
  EXPECT_TRUE(report["emissions_g"].is_null());
}

TEST_F(JobServiceTest, ReportSumsTheAccountingOfFinishedJobsPerSignal) {
  const char* accounting[] = {
      R"({"signal": "average", "actual_g": 100, "baseline_g": 300, "oracle_g": 90})",
      R"({"signal": "average", "actual_g": 50, "baseline_g": 100, "oracle_g": 50})",
      R"({"signal": "marginal", "actual_g": 400, "baseline_g": 500, "oracle_g": null})"};
  for (const char* figures : accounting)
    store_ended(JobState::succeeded, figures);
  auto report = json(request("GET", "/v1/report"));
  EXPECT_EQ(report["jobs_accounted"], 3);
  EXPECT_DOUBLE_EQ(report["emissions_g"].get<double>(), 550.0);
  EXPECT_DOUBLE_EQ(report["baseline_g"].get<double>(), 900.0);
  EXPECT_DOUBLE_EQ(report["saved_g"].get<double>(), 350.0);
  EXPECT_NEAR(report["savings"].get<double>(), 1.0 - 550.0 / 900.0, 1e-12);
  EXPECT_TRUE(report["oracle_g"].is_null());  // one job has no oracle figure
  const auto& average = report["by_signal"]["average"];
  EXPECT_EQ(average["jobs_accounted"], 2);
  EXPECT_DOUBLE_EQ(average["emissions_g"].get<double>(), 150.0);
  EXPECT_DOUBLE_EQ(average["oracle_g"].get<double>(), 140.0);
  EXPECT_NEAR(average["savings"].get<double>(), 0.625, 1e-12);
  EXPECT_DOUBLE_EQ(report["by_signal"]["marginal"]["saved_g"].get<double>(), 100.0);
}

TEST_F(JobServiceTest, ReportSumsFailedAndCancelledGramsApart) {
  // One success, and a failed job whose (older, pre-outcome) accounting still carried a
  // baseline: it must not count as saving anything.
  const std::pair<JobState, const char*> jobs[] = {
      {JobState::succeeded, R"({"signal": "average", "actual_g": 100, "baseline_g": 300})"},
      {JobState::failed, R"({"signal": "average", "actual_g": 0.5, "baseline_g": 400})"},
      {JobState::cancelled, R"({"signal": "average", "outcome": "cancelled", "actual_g": 2})"}};
  for (const auto& [state, figures] : jobs)
    store_ended(state, figures);
  auto report = json(request("GET", "/v1/report"));
  EXPECT_EQ(report["jobs_accounted"], 1);
  EXPECT_DOUBLE_EQ(report["emissions_g"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(report["saved_g"].get<double>(), 200.0);
  EXPECT_EQ(report["failed_or_cancelled"]["jobs_accounted"], 2);
  EXPECT_DOUBLE_EQ(report["failed_or_cancelled"]["emissions_g"].get<double>(), 2.5);
}

TEST_F(JobServiceTest, ReportGroupsByRegionMonthAndOwnerWithinARange) {
  store_ended(
      JobState::succeeded,
      R"({"region": "europe-west2", "signal": "average", "actual_g": 100, "baseline_g": 300})");
  store_ended(
      JobState::succeeded,
      R"({"region": "europe-west9", "signal": "average", "actual_g": 50, "baseline_g": 60})");
  auto by_region = json(request("GET", "/v1/report?group_by=region"));
  ASSERT_EQ(by_region["groups"].size(), 2u) << by_region.dump(2);
  EXPECT_EQ(by_region["groups"][0]["key"], "europe-west2");
  EXPECT_DOUBLE_EQ(by_region["groups"][0]["saved_g"].get<double>(), 200.0);
  EXPECT_EQ(by_region["groups"][1]["key"], "europe-west9");
  auto by_month = json(request("GET", "/v1/report?group_by=month"));
  ASSERT_EQ(by_month["groups"].size(), 1u);
  EXPECT_EQ(by_month["groups"][0]["key"], "2026-11");  // both ended 2026-11-26T21:00Z
  EXPECT_EQ(by_month["groups"][0]["jobs_accounted"], 2);
  auto by_owner = json(request("GET", "/v1/report?group_by=owner"));
  EXPECT_EQ(by_owner["groups"][0]["key"], "1000");
  // Runs that ended at 21:00 are inside [21:00, 22:00) and outside [20:00, 21:00).
  auto inside =
      json(request("GET", "/v1/report?from=2026-11-26T21:00:00Z&to=2026-11-26T22:00:00Z"));
  EXPECT_EQ(inside["jobs_accounted"], 2);
  auto outside = json(request("GET", "/v1/report?to=2026-11-26T21:00:00Z"));
  EXPECT_EQ(outside["jobs_accounted"], 0);
  for (const char* bad :
       {"/v1/report?group_by=week", "/v1/report?from=yesterday", "/v1/report?colour=red"}) {
    auto r = request("GET", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(json(r)["error"]["code"], "invalid_query") << r.body;
    EXPECT_EQ(json(r)["error"]["details"].size(), 1u) << r.body;
  }
}

TEST_F(JobServiceTest, TheJobShowsItsExclusionsApartFromItsAccounting) {
  const auto id = submit(R"({"name": "x", "duration": "1h"})");
  Job job = **store_.get(id);
  job_accounting_from_json(
      R"({"planned_score": 10, "excluded": [{"region": "r", "reason": "no fresh data"}]})", job);
  ASSERT_TRUE(store_.update(job, JobEvent{0, id, at(26, 18), "planned", "held", ""}));
  auto shown = json(request("GET", "/v1/jobs/" + id));
  ASSERT_EQ(shown["excluded"].size(), 1u);
  EXPECT_EQ(shown["excluded"][0]["reason"], "no fresh data");
  EXPECT_FALSE(shown["accounting"].contains("excluded"));
}

TEST_F(JobServiceTest, HealthTakesTheFeedsFromTheHook) {
  submit(R"({"name": "h", "duration": "1h"})");
  auto ok = json(request("GET", "/v1/health"));
  EXPECT_EQ(ok["status"], "ok");
  EXPECT_EQ(ok["queue_depth"], 1);
  service_.feeds_health = [] {
    FeedsHealth h;
    h.feeds.push_back({{"name", "uk"}, {"status", "failing"}});
    h.degraded = true;
    return h;
  };
  auto degraded = json(request("GET", "/v1/health"));
  EXPECT_EQ(degraded["status"], "degraded");
  EXPECT_EQ(degraded["feeds"][0]["name"], "uk");
}

TEST_F(JobServiceTest, MetricsListJobsByStateAndExtraSections) {
  submit(R"({"name": "m", "duration": "1h"})");
  service_.metrics_sections.push_back([] { return std::string("gridshift_extra 3\n"); });
  auto r = request("GET", "/metrics");
  EXPECT_EQ(r.content_type.rfind("text/plain", 0), 0u);
  EXPECT_NE(r.body.find("gridshift_jobs{state=\"queued\"} 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("gridshift_jobs{state=\"running\"} 0\n"), std::string::npos);
  EXPECT_NE(r.body.find("gridshift_extra 3\n"), std::string::npos);
}

TEST_F(JobServiceTest, PlanUsesThePlannerHookOnceThereIsOne) {
  EXPECT_EQ(request("POST", "/v1/plan", R"({"name": "x", "duration": "1h"})").status, 503);
  service_.plan = [](const JobSpec& spec, const ApiRequest&) {
    return ApiResponse::json(200, {{"name", spec.name}});
  };
  auto r = request("POST", "/v1/plan", R"({"name": "x", "duration": "1h"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json(r)["name"], "x");
  EXPECT_EQ(*store_.count(std::nullopt), 0u);
}

TEST(MakeJobId, IsAValidOpaqueIdAndDiffersEachTime) {
  std::mt19937_64 random(1);
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    auto id = make_job_id(random);
    EXPECT_TRUE(is_valid_job_id(id)) << id;
    EXPECT_LE(id.size(), 40u);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(ApiRouter, MatchesParametersAndAnswers404And405) {
  ApiRouter router;
  router.add("GET", "/v1/jobs/{id}", [](const ApiRequest& r) {
    return ApiResponse::json(200, {{"id", r.path_params.at("id")}});
  });
  router.add("POST", "/v1/jobs/{id}/cancel",
             [](const ApiRequest&) { return ApiResponse::json(200, nlohmann::json::object()); });
  ApiRequest get;
  get.method = "GET";
  get.path = "/v1/jobs/j-1";
  auto found = router.dispatch(get);
  EXPECT_EQ(found.status, 200);
  EXPECT_EQ(nlohmann::json::parse(found.body)["id"], "j-1");
  get.path = "/v1/jobs/j-1/cancel";
  auto wrong_method = router.dispatch(get);
  EXPECT_EQ(wrong_method.status, 405);
  ASSERT_EQ(wrong_method.headers.size(), 1u);
  EXPECT_EQ(wrong_method.headers[0], std::make_pair(std::string("Allow"), std::string("POST")));
  get.path = "/v1/jobs/";
  EXPECT_EQ(router.dispatch(get).status, 404);
  get.path = "/v1/jobs/j-1/cancel/more";
  EXPECT_EQ(router.dispatch(get).status, 404);
}

TEST(ApiServerParsing, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8c\x8d"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc0\x80"));          // overlong NUL
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // cut short
}

TEST(ApiServerParsing, TargetsAreDecoded) {
  std::string path;
  std::map<std::string, std::string> query;
  ASSERT_TRUE(parse_target("/v1/regions/europe%2Dwest2/forecast?a=1&b=x+y&c", path, query));
  EXPECT_EQ(path, "/v1/regions/europe-west2/forecast");
  EXPECT_EQ(query, (std::map<std::string, std::string>{{"a", "1"}, {"b", "x y"}, {"c", ""}}));
  EXPECT_FALSE(parse_target("v1/jobs", path, query));
  EXPECT_FALSE(parse_target("/v1/%4", path, query));
  EXPECT_FALSE(parse_target("/v1/%00", path, query));
  EXPECT_FALSE(parse_target("/v1/jobs?x=%ff", path, query));
}

}  // namespace
}  // namespace gridshift

// ---- hardening (issue 13): limits, what other users see, idempotency, numbers ----

namespace gridshift {
namespace {

TEST_F(JobServiceTest, ASpecBeyondMaxSpecBytesIs413NamingTheLimit) {
  config_.limits.max_spec_bytes = 1024;
  const std::string padding(1100, 'x');
  auto r = request(
      "POST", "/v1/jobs",
      R"({"name": "big", "duration": "1h", "local": {"command": ["echo", ")" + padding + R"("]}})");
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(json(r)["error"]["code"], "payload_too_large");
  EXPECT_EQ(json(r)["error"]["details"][0]["field"], "spec");
  EXPECT_NE(json(r)["error"]["message"].get<std::string>().find("max_spec_bytes is 1024"),
            std::string::npos);
  EXPECT_EQ(*store_.count(std::nullopt), 0u);
  config_.limits.max_spec_bytes = 64 * 1024;
  EXPECT_EQ(request("POST", "/v1/jobs",
                    R"({"name": "big", "duration": "1h", "local": {"command": ["echo", ")" +
                        padding + R"("]}})")
                .status,
            201);
}

TEST_F(JobServiceTest, QueuedJobsPerUserAreLimitedAndRootIsExempt) {
  config_.limits.max_queued_per_user = 2;
  submit(R"({"name": "a", "duration": "1h"})", 1000);
  submit(R"({"name": "b", "duration": "1h"})", 1000);
  auto third = request("POST", "/v1/jobs", R"({"name": "c", "duration": "1h"})", 1000);
  EXPECT_EQ(third.status, 429) << third.body;
  EXPECT_EQ(json(third)["error"]["code"], "queue_full");
  EXPECT_EQ(json(third)["error"]["details"][0]["field"], "limits.max_queued_per_user");
  // Another user and root are not held back by uid 1000's queue.
  submit(R"({"name": "d", "duration": "1h"})", 1001);
  submit(R"({"name": "e", "duration": "1h"})", 0);
  submit(R"({"name": "f", "duration": "1h"})", 0);
  submit(R"({"name": "g", "duration": "1h"})", 0);
  // A job that leaves the queue frees its place.
  auto jobs = *store_.list(JobQuery{});
  set_state(jobs.jobs.front().id, JobState::running);
  EXPECT_EQ(request("POST", "/v1/jobs", R"({"name": "c", "duration": "1h"})", 1000).status, 201);
}

TEST_F(JobServiceTest, OtherUsersSeeJobsWithoutEnvCommandsOrArgs) {
  const std::string id = submit(
      R"({"name": "secretive", "duration": "1h", "local": {"command": ["train", "--token=abc123"]},
          "vertex": {"machine_type": "n1-standard-4", "container": {"image_uri": "img:1",
          "args": ["--key", "hunter2"], "env": {"HF_TOKEN": "hf_live_value"}}}})",
      1000);
  for (const std::string& target : {"/v1/jobs/" + id, std::string("/v1/jobs")}) {
    const auto other = request("GET", target, "", 2000);
    ASSERT_EQ(other.status, 200) << other.body;
    for (const char* hidden : {"abc123", "hunter2", "hf_live_value", "HF_TOKEN", "img:1"}) {
      EXPECT_EQ(other.body.find(hidden), std::string::npos) << target << ": " << hidden;
    }
    const auto shown = target == "/v1/jobs" ? json(other)["jobs"][0] : json(other);
    EXPECT_EQ(shown["spec_complete"], false);
    EXPECT_EQ(shown["spec"]["name"], "secretive");
    EXPECT_EQ(shown["spec"]["vertex"]["machine_type"], "n1-standard-4");
  }
  // The owner and root see the whole spec of one job (lists carry summaries for everyone).
  for (std::uint32_t viewer : {1000u, 0u}) {
    const auto mine = request("GET", "/v1/jobs/" + id, "", viewer);
    EXPECT_NE(mine.body.find("hf_live_value"), std::string::npos) << viewer;
    EXPECT_NE(mine.body.find("--token=abc123"), std::string::npos) << viewer;
    EXPECT_EQ(json(mine)["spec_complete"], true);
  }
  EXPECT_EQ(request("GET", "/v1/jobs", "", 1000).body.find("hf_live_value"), std::string::npos);
}

TEST_F(JobServiceTest, AnIdempotencyKeyReusedWithAnotherSpecIs409) {
  const std::map<std::string, std::string> headers = {{"content-type", "application/json"},
                                                      {"idempotency-key", "k9"}};
  auto first = request("POST", "/v1/jobs", R"({"name": "a", "duration": "1h"})", 7, headers);
  auto other = request("POST", "/v1/jobs", R"({"name": "b", "duration": "2h"})", 7, headers);
  EXPECT_EQ(first.status, 201);
  EXPECT_EQ(other.status, 409) << other.body;
  EXPECT_EQ(json(other)["error"]["code"], "idempotency_conflict");
  EXPECT_NE(json(other)["error"]["message"].get<std::string>().find(json(first)["id"]),
            std::string::npos);
  EXPECT_EQ(*store_.count(std::nullopt), 1u);
}

TEST_F(JobServiceTest, NumbersOutOfRangeAre400NamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("power_watts": 1e400)", "power_watts"},
      {R"("power_watts": 1e308)", "power_watts"},
      {R"("threshold": 1e300, "policy": "threshold")", "threshold"},
      {R"("vertex": {"accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 2147483647,
         "container": {"image_uri": "i"}})",
       "vertex.accelerator_count"},
      {R"("vertex": {"replica_count": 2147483647, "container": {"image_uri": "i"}})",
       "vertex.replica_count"},
      {R"("vertex": {"replica_count": 99999999999, "container": {"image_uri": "i"}})",
       "vertex.replica_count"},
  };
  for (const auto& [fields, field] : cases) {
    auto r = request("POST", "/v1/jobs", R"({"name": "n", "duration": "1h", )" + fields + "}");
    EXPECT_EQ(r.status, 400) << fields << ": " << r.body;
    if (r.status != 400) continue;
    const auto details = json(r)["error"]["details"];
    EXPECT_TRUE(std::any_of(details.begin(), details.end(),
                            [&](const auto& d) { return d["field"] == field; }))
        << fields << ": " << r.body;
  }
  auto r = request("POST", "/v1/jobs", R"({"name": "n", "duration": "9999d"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(*store_.count(std::nullopt), 0u);
}

TEST_F(JobServiceTest, TheErrorCountMatchesTheDetails) {
  auto r = request("POST", "/v1/jobs", R"({"name": 5, "duration": "1h"})");
  ASSERT_EQ(r.status, 400) << r.body;
  const auto error = json(r)["error"];
  ASSERT_EQ(error["details"].size(), 1u) << r.body;
  EXPECT_EQ(error["message"], "job spec is invalid (1 error)");
}

TEST_F(JobServiceTest, EscapedSurrogatePairsAreValidJson) {
  // Python's json.dumps writes an emoji as a surrogate pair.
  auto r = request("POST", "/v1/jobs",
                   R"({"name": "emoji", "duration": "1h", "vertex": {"container": {"image_uri":
                   "i", "env": {"GREETING": "hi \ud83d\ude00"}}}})");
  ASSERT_EQ(r.status, 201) << r.body;
  const auto id = json(r)["id"].get<std::string>();
  EXPECT_EQ((*store_.get(id))->spec.vertex->container->env.at("GREETING"), "hi \xF0\x9F\x98\x80");
}

TEST_F(JobServiceTest, ANotFoundAnswerNeverEchoesALongId) {
  const std::string id(10000, 'a');
  auto r = request("GET", "/v1/jobs/" + id);
  EXPECT_EQ(r.status, 404);
  EXPECT_LT(r.body.size(), 400u) << r.body.size();
  EXPECT_EQ(r.body.find(std::string(50, 'a')), std::string::npos);
  auto cancel = request("POST", "/v1/jobs/" + id + "/cancel");
  EXPECT_EQ(cancel.status, 404);
  EXPECT_LT(cancel.body.size(), 400u);
}

TEST_F(JobServiceTest, HealthIsDegradedWithTheReasonsOtherSubsystemsReport) {
  EXPECT_EQ(json(request("GET", "/v1/health"))["status"], "ok");
  service_.problems = [] { return std::vector<std::string>{"job j-1 was quarantined: x"}; };
  const auto health = json(request("GET", "/v1/health"));
  EXPECT_EQ(health["status"], "degraded");
  EXPECT_EQ(health["problems"][0], "job j-1 was quarantined: x");
}

}  // namespace
}  // namespace gridshift

namespace gridshift {
namespace {

TEST_F(JobServiceTest, ASpecTheTargetCannotRunIsRefusedAtSubmitAndPlan) {
  // The daemon's wiring: the configured target's own checks (deploy/registry.h).
  service_.check_for_target = [this](const JobSpec& spec) {
    return check_job_for_target(config_.dispatch, spec);
  };
  config_.dispatch.type = DispatchType::vertex_ai;
  config_.dispatch.vertex_ai.staging_bucket.enabled = false;
  const std::string interruptible =
      R"({"name": "split", "duration": "3h", "interruptible": {"max_segments": 2,
          "min_segment": "1h"}, "vertex": {"container": {"image_uri": "example/trainer:1"}}})";
  for (const char* path : {"/v1/jobs", "/v1/plan"}) {
    auto r = request("POST", path, interruptible);
    ASSERT_EQ(r.status, 400) << path << r.body;
    const auto details = json(r)["error"]["details"];
    ASSERT_EQ(details.size(), 1U) << r.body;
    EXPECT_EQ(details[0]["field"], "interruptible");
    EXPECT_NE(details[0]["message"].get<std::string>().find("staging_bucket"), std::string::npos);
  }
  EXPECT_EQ(*store_.count(JobState::queued), 0U);  // nothing stored
  // A job that is not interruptible is fine there; with the bucket, so is the interruptible one.
  submit(R"({"name": "block", "duration": "3h",
             "vertex": {"container": {"image_uri": "example/trainer:1"}}})");
  config_.dispatch.vertex_ai.staging_bucket.enabled = true;
  submit(interruptible);
  // Other targets keep the checkpoint themselves.
  config_.dispatch.vertex_ai.staging_bucket.enabled = false;
  config_.dispatch.type = DispatchType::local;
  submit(interruptible);
  EXPECT_EQ(*store_.count(JobState::queued), 3U);
}

}  // namespace
}  // namespace gridshift
