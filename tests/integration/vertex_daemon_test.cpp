// End to end through the real binaries against the fake Google (Vertex AI, Cloud Storage, OAuth2
// token endpoint): gridshiftd dispatches a job to the cleanest region with a service-account
// key, stages its spec in a bucket, follows the CustomJob to SUCCEEDED and accounts for it; a
// daemon killed by SIGKILL after its create reached Google adopts the job instead of creating a
// second one; a quota refusal in the best region moves the job to the next-best one; a job
// whose accelerator the cleanest region lacks runs there on its hardware alternative; Google's
// Carbon Footprint (from BigQuery with the Vertex AI credentials, or a CSV export) is shown
// beside gridshift's accounting of the job.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/time.h"
#include "fakes/fake_google.h"
#include "support/daemon_fixture.h"
#include "support/hourly_series.h"
#include "support/process.h"

namespace gridshift::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TimePoint this_hour() {
  return std::chrono::floor<std::chrono::hours>(std::chrono::system_clock::now());
}

std::vector<std::string> event_types(const nlohmann::json& job) {
  std::vector<std::string> types;
  for (const auto& e : job["events"])
    types.push_back(e["type"]);
  return types;
}

std::string event_messages(const nlohmann::json& job) {
  std::string all;
  for (const auto& e : job["events"])
    all += e["type"].get<std::string>() + ": " + e["message"].get<std::string>() + "\n";
  return all;
}

class VertexDaemon : public ::testing::Test {
 protected:
  // GB (europe-west2) is at 100 g/kWh, FR (europe-west9) at 300: GB is the cleanest region.
  void SetUp() override {
    const std::string trace =
        trace_csv({"GB", "FR"}, this_hour() - std::chrono::hours(6), 48,
                  [](std::size_t location, int) { return location == 0 ? 100.0 : 300.0; });
    write_file(dir_ / "trace.csv", trace);
    write_file(dir_ / "key.json", google_.service_account_key_json());
    write_file(dir_ / "config.yaml",
               "state_dir: " + (dir_ / "state").string() + "\n" + "socket: {path: " + socket_ +
                   ", mode: \"0660\"}\n" + "log_level: debug\n" +
                   "scheduler: {tick: 1s}\n"
                   "feeds:\n"
                   "  - {name: replay, type: trace_file, actuals: " +
                   (dir_ / "trace.csv").string() + "}\n" +
                   "regions:\n"
                   "  - {name: europe-west2, feeds: [replay], location: GB, pue: 1.0}\n"
                   "  - {name: europe-west9, feeds: [replay], location: FR, pue: 1.0}\n" +
                   google_.vertex_dispatch_yaml((dir_ / "key.json").string()) +
                   "    staging_bucket: {enabled: true, prefix: gs-test, delete_after: true}\n");
  }

  void TearDown() override {
    if (daemon_ && daemon_->running()) {
      daemon_->signal(SIGTERM);
      EXPECT_EQ(daemon_->wait_exit(), 0) << daemon_->stderr_text();
    }
  }

  // Writes into the config which accelerators each region offers (a list, or "" for no
  // `accelerators:` key): data/gcp-accelerators.csv has no GPU rows.
  void offer_accelerators(const std::string& west2, const std::string& west9) {
    std::string config = read_file(dir_ / "config.yaml");
    for (const auto& [location, list] : {std::pair{"GB", west2}, std::pair{"FR", west9}}) {
      if (list.empty()) continue;
      const std::string from = std::string("location: ") + location + ", pue: 1.0}";
      const auto at = config.find(from);
      ASSERT_NE(at, std::string::npos) << from;
      config.replace(
          at, from.size(),
          std::string("location: ") + location + ", pue: 1.0, accelerators: [" + list + "]}");
    }
    write_file(dir_ / "config.yaml", config);
  }

  void start() {
    daemon_ = start_daemon(dir_.path(), dir_ / "config.yaml");
    ASSERT_TRUE(wait_ready(*daemon_)) << daemon_->stderr_text();
  }

  std::string submit(const std::string& spec_text) { return cli_.submit(spec_text); }
  nlohmann::json wait_for_state(const std::string& id, const std::string& state) {
    auto job = cli_.wait_for_state(id, state);
    if (job["state"] != state) ADD_FAILURE() << daemon_->stderr_text();
    return job;
  }

  static std::string spec(const std::string& name) {
    return "name: " + name +
           "\n"
           "duration: 1h\n"
           "policy: now\n"
           "regions: [europe-west9, europe-west2]\n"
           "vertex:\n"
           "  machine_type: n1-standard-8\n"
           "  accelerator_type: NVIDIA_TESLA_T4\n"
           "  accelerator_count: 2\n"
           "  replica_count: 1\n"
           "  container: {image_uri: europe-docker.pkg.dev/p/r/trainer:1, args: [--epochs, "
           "\"10\"], env: {MODE: fast}}\n"
           "  service_account: trainer@gridshift-test.iam.gserviceaccount.com\n"
           "  scheduling: {strategy: SPOT, timeout: 2h}\n"
           "  labels: {team: vision}\n";
  }

  TempDir dir_;
  FakeGoogle google_;
  std::string socket_ = (dir_ / "gridshift.sock").string();
  CliRunner cli_{dir_.path(), socket_};
  std::unique_ptr<ChildProcess> daemon_;
};

TEST_F(VertexDaemon, AJobRunsInTheCleanestRegionAndIsAccountedFromVertexTimes) {
  google_.set_job_script(JobScript::succeed(milliseconds(0), milliseconds(300), seconds(2)));
  start();
  const auto id = submit(spec("resnet"));
  auto job = wait_for_state(id, "succeeded");

  // Exactly one remote job, in the cleanest region, labelled with the gridshift job id.
  const auto remote = google_.jobs_with_label("gridshift-job", id);
  ASSERT_EQ(remote.size(), 1u) << event_messages(job);
  EXPECT_EQ(remote[0].region, "europe-west2");
  EXPECT_EQ(job["region"], "europe-west2");
  EXPECT_EQ(job["remote_name"], remote[0].name);
  EXPECT_EQ(google_.count("POST", "*/customJobs"), 1);

  // The create body, field by field.
  const auto creates = google_.requests("POST", "*/customJobs");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_NE(creates[0].path.find("/r/europe-west2/v1/projects/gridshift-test/locations/"
                                 "europe-west2/customJobs"),
            std::string::npos)
      << creates[0].path;
  EXPECT_EQ(creates[0].headers.at("authorization"), "Bearer <present>");
  const auto body = creates[0].body_json();
  EXPECT_EQ(body["displayName"].get<std::string>().rfind("gridshift-" + id, 0), 0u) << body;
  EXPECT_EQ(body["labels"]["gridshift-job"], id);
  EXPECT_EQ(body["labels"]["managed-by"], "gridshiftd");
  EXPECT_EQ(body["labels"]["team"], "vision");
  const auto& pool = body["jobSpec"]["workerPoolSpecs"][0];
  EXPECT_EQ(pool["machineSpec"]["machineType"], "n1-standard-8");
  EXPECT_EQ(pool["machineSpec"]["acceleratorType"], "NVIDIA_TESLA_T4");
  EXPECT_EQ(pool["machineSpec"]["acceleratorCount"], 2);
  EXPECT_EQ(pool["replicaCount"], "1");
  EXPECT_EQ(pool["containerSpec"]["imageUri"], "europe-docker.pkg.dev/p/r/trainer:1");
  EXPECT_EQ(pool["containerSpec"]["args"], nlohmann::json({"--epochs", "10"}));
  bool has_mode = false;
  bool has_job_id = false;
  for (const auto& e : pool["containerSpec"]["env"]) {
    has_mode = has_mode || (e["name"] == "MODE" && e["value"] == "fast");
    has_job_id = has_job_id || (e["name"] == "GRIDSHIFT_JOB_ID" && e["value"] == id);
  }
  EXPECT_TRUE(has_mode) << pool;
  EXPECT_TRUE(has_job_id) << pool;
  EXPECT_EQ(body["jobSpec"]["scheduling"]["strategy"], "SPOT");
  EXPECT_EQ(body["jobSpec"]["scheduling"]["timeout"], "7200s");
  EXPECT_EQ(body["jobSpec"]["serviceAccount"], "trainer@gridshift-test.iam.gserviceaccount.com");
  const std::string output = body["jobSpec"]["baseOutputDirectory"]["outputUriPrefix"];
  EXPECT_EQ(output.rfind("gs://gs-test-" + id, 0), 0u) << output;

  // Staging: the bucket was created in the region, the spec uploaded once, then all deleted.
  const auto bucket_creates = google_.requests("POST", "/storage/v1/b");
  ASSERT_GE(bucket_creates.size(), 1u);
  EXPECT_EQ(bucket_creates[0].body_json()["name"], "gs-test-" + id);
  EXPECT_GE(google_.count("POST", "/upload/storage/v1/b/*"), 1);
  ASSERT_TRUE(wait_until([&] { return !google_.bucket("gs-test-" + id).has_value(); }))
      << daemon_->stderr_text();

  // Accounting from Vertex's own start and end times.
  const auto& resource = remote[0].resource;
  ASSERT_TRUE(resource.contains("startTime")) << resource;
  auto vertex_start = parse_rfc3339(resource["startTime"].get<std::string>());
  ASSERT_TRUE(vertex_start);
  auto recorded_start = parse_rfc3339(job["started_at"].get<std::string>());
  ASSERT_TRUE(recorded_start);
  EXPECT_LE(std::chrono::abs(*recorded_start - *vertex_start), seconds(1)) << job.dump(2);
  ASSERT_TRUE(job["accounting"].is_object()) << job.dump(2);
  EXPECT_GT(job["accounting"]["actual_g"].get<double>(), 0.0) << job.dump(2);
  const auto types = event_types(job);
  EXPECT_NE(std::find(types.begin(), types.end(), "dispatch"), types.end()) << event_messages(job);
}

TEST_F(VertexDaemon, AnAlternativeRunsWhereItsAcceleratorIsOffered) {
  // The cleanest region (europe-west2, 100 g/kWh) offers T4s but no L4s; europe-west9 (300
  // g/kWh) offers both. The main spec (1 x L4: 72 + 150 = 222 W) can run only in europe-west9:
  // 1 h x 222 W x 300 g/kWh = 66.6 g. Its alternative (2 x T4: 2 x 70 + 150 = 290 W) runs in
  // europe-west2: 1 h x 290 W x 100 = 29 g. The alternative wins, in europe-west2.
  offer_accelerators("NVIDIA_TESLA_T4", "NVIDIA_L4, NVIDIA_TESLA_T4");
  google_.set_job_script(JobScript::succeed(milliseconds(0), milliseconds(300), seconds(2)));
  start();
  const std::string spec_text =
      "name: choose-hardware\n"
      "duration: 1h\n"
      "policy: now\n"
      "regions: [europe-west2, europe-west9]\n"
      "vertex:\n"
      "  machine_type: g2-standard-8\n"
      "  accelerator_type: NVIDIA_L4\n"
      "  accelerator_count: 1\n"
      "  container: {image_uri: europe-docker.pkg.dev/p/r/trainer:1, args: [--epochs, \"3\"]}\n"
      "alternatives:\n"
      "  - vertex: {machine_type: n1-standard-8, accelerator_type: NVIDIA_TESLA_T4, "
      "accelerator_count: 2}\n";

  // `gridshift check` names the region the main spec cannot use.
  write_file(dir_ / "hardware.yaml", spec_text);
  const auto check = cli_.run(
      {"check", "--config", (dir_ / "config.yaml").string(), (dir_ / "hardware.yaml").string()});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("excluded europe-west2: accelerator_unavailable: NVIDIA_L4"),
            std::string::npos)
      << check.out;

  // `gridshift plan` lists both options with their grams and marks the chosen one.
  const auto plan = cli_.run({"plan", (dir_ / "hardware.yaml").string(), "--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  const auto planned = nlohmann::json::parse(plan.out);
  EXPECT_EQ(planned["alternative"], 1) << planned.dump(2);
  ASSERT_EQ(planned["options"].size(), 2u) << planned.dump(2);
  EXPECT_EQ(planned["options"][0]["region"], "europe-west9");
  EXPECT_NEAR(planned["options"][0]["emissions_g"].get<double>(), 66.6, 1e-6);
  EXPECT_EQ(planned["options"][1]["region"], "europe-west2");
  EXPECT_NEAR(planned["options"][1]["emissions_g"].get<double>(), 29.0, 1e-6);

  const auto id = submit(spec_text);
  auto job = wait_for_state(id, "succeeded");
  EXPECT_EQ(job["alternative"], 1) << job.dump(2);
  EXPECT_EQ(job["region"], "europe-west2");
  EXPECT_DOUBLE_EQ(job["power_watts"].get<double>(), 290.0);
  const auto remote = google_.jobs_with_label("gridshift-job", id);
  ASSERT_EQ(remote.size(), 1u) << event_messages(job);
  EXPECT_EQ(remote[0].region, "europe-west2");
  // The create body carries the alternative's hardware and the main spec's container.
  const auto creates = google_.requests("POST", "*/customJobs");
  ASSERT_EQ(creates.size(), 1u);
  const auto body = creates[0].body_json();
  const auto& pool = body["jobSpec"]["workerPoolSpecs"][0];
  EXPECT_EQ(pool["machineSpec"]["machineType"], "n1-standard-8") << body;
  EXPECT_EQ(pool["machineSpec"]["acceleratorType"], "NVIDIA_TESLA_T4") << body;
  EXPECT_EQ(pool["machineSpec"]["acceleratorCount"], 2) << body;
  EXPECT_EQ(pool["containerSpec"]["args"], nlohmann::json({"--epochs", "3"})) << body;
  // The accounting knows no price, WUE or embodied figure here: null, never invented.
  ASSERT_TRUE(job["accounting"].is_object()) << job.dump(2);
  EXPECT_TRUE(job["accounting"]["cost_usd"].is_null()) << job.dump(2);
  EXPECT_TRUE(job["accounting"]["water_l"].is_null()) << job.dump(2);
  EXPECT_TRUE(job["accounting"]["embodied_g"].is_null()) << job.dump(2);
}

TEST_F(VertexDaemon, AnAlternativeRefusedForQuotaIsRankedAgainWithTheMainSpec) {
  // As above, but europe-west2's T4 quota is 1 and the alternative asks for 2: its create is
  // refused, the region cools down for T4s, and the job is planned again over both options:
  // the main spec in europe-west9 (222 W x 300 = 66.6 g) now beats the T4s there (290 W x
  // 300 = 87 g). The job runs on the main spec, at the main spec's power.
  offer_accelerators("NVIDIA_TESLA_T4", "NVIDIA_L4, NVIDIA_TESLA_T4");
  google_.set_job_script(JobScript::succeed(milliseconds(0), milliseconds(100), seconds(1)));
  google_.set_region("europe-west2", RegionCapacity{{{"NVIDIA_TESLA_T4", 1}}});
  start();
  const auto id = submit(
      "name: requeued-hardware\nduration: 1h\npolicy: now\n"
      "regions: [europe-west2, europe-west9]\n"
      "vertex: {machine_type: g2-standard-8, accelerator_type: NVIDIA_L4, accelerator_count: 1,\n"
      "         container: {image_uri: europe-docker.pkg.dev/p/r/trainer:1}}\n"
      "alternatives:\n"
      "  - vertex: {machine_type: n1-standard-8, accelerator_type: NVIDIA_TESLA_T4, "
      "accelerator_count: 2}\n");
  auto job = wait_for_state(id, "succeeded");
  const auto messages = event_messages(job);
  EXPECT_NE(messages.find("dispatch_failed: region_unavailable"), std::string::npos) << messages;
  EXPECT_EQ(job["region"], "europe-west9") << messages;
  EXPECT_EQ(job["alternative"], 0) << job.dump(2);
  EXPECT_DOUBLE_EQ(job["power_watts"].get<double>(), 222.0);
  const auto remote = google_.jobs_with_label("gridshift-job", id);
  ASSERT_EQ(remote.size(), 1u) << messages;
  const auto creates = google_.requests("POST", "*/customJobs");
  ASSERT_EQ(creates.size(), 2u) << messages;  // the refused T4 create, then the L4 one
  EXPECT_EQ(
      creates[1].body_json()["jobSpec"]["workerPoolSpecs"][0]["machineSpec"]["acceleratorType"],
      "NVIDIA_L4");
}

TEST_F(VertexDaemon, AJobNoRegionCanRunIsRefusedAtSubmissionNamingTheField) {
  offer_accelerators("NVIDIA_TESLA_T4", "");
  start();
  write_file(dir_ / "l4.yaml",
             "name: l4-only\nduration: 1h\nregions: [europe-west2]\n"
             "vertex: {machine_type: g2-standard-8, accelerator_type: NVIDIA_L4, "
             "accelerator_count: 1, container: {image_uri: img}}\n");
  const auto r = cli_.run({"submit", (dir_ / "l4.yaml").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("vertex.accelerator_type"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("europe-west2"), std::string::npos) << r.err;
  EXPECT_EQ(google_.count("POST", "*/customJobs"), 0);
}

TEST_F(VertexDaemon, GooglesFootprintStandsBesideTheAccountingFromBigQueryAndFromACsvExport) {
  // The bigquery_endpoint of the config points at the fake.
  std::string config = read_file(dir_ / "config.yaml");
  const std::string storage = "    storage_endpoint: \"" + google_.base_url() + "\"\n";
  ASSERT_NE(config.find(storage), std::string::npos);
  config.replace(config.find(storage), storage.size(),
                 storage + "    bigquery_endpoint: \"" + google_.base_url() + "\"\n");
  write_file(dir_ / "config.yaml", config);
  google_.set_job_script(JobScript::succeed(milliseconds(0), milliseconds(300), seconds(2)));
  start();
  const auto id = submit(spec("footprint"));
  auto job = wait_for_state(id, "succeeded");
  ASSERT_TRUE(job["accounting"]["actual_g"].is_number()) << job.dump(2);
  const double gridshift_kg = job["accounting"]["actual_g"].get<double>() / 1000.0;
  ASSERT_GT(gridshift_kg, 0.0);
  const std::string month = job["finished_at"].get<std::string>().substr(0, 7);

  // The export: 2 Vertex AI rows in the job's month and region (0.004 + 0.006 kg), one of
  // another service, one of another month. Paged 1 row at a time, and still running at first:
  // jobs.query, then getQueryResults until done.
  google_.set_footprint_table("gridshift-test.carbon.export",
                              {{month + "-01", "europe-west2", "Vertex AI", 0.004},
                               {month + "-01", "europe-west2", "Vertex AI", 0.006},
                               {month + "-01", "europe-west2", "Compute Engine", 7.0},
                               {"2020-01-01", "europe-west2", "Vertex AI", 1.0}});
  google_.set_bigquery_page_size(1);
  google_.set_bigquery_pending(1);
  const auto r = cli_.run({"footprint", "--bigquery", "gridshift-test.carbon.export", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out << daemon_->stderr_text();
  const auto answer = nlohmann::json::parse(r.out);
  EXPECT_EQ(answer["source"], "bigquery");
  EXPECT_EQ(answer["vertex_ai_rows"], 3) << answer.dump(2);
  nlohmann::json line;
  for (const auto& l : answer["lines"]) {
    if (l["month"] == month && l["region"] == "europe-west2") line = l;
  }
  ASSERT_TRUE(line.is_object()) << answer.dump(2);
  EXPECT_NEAR(line["google_kg"].get<double>(), 0.010, 1e-12);
  EXPECT_NEAR(line["gridshift_kg"].get<double>(), gridshift_kg, 1e-12);
  EXPECT_EQ(line["jobs"], 1);
  EXPECT_NEAR(line["ratio"].get<double>(), 0.010 / gridshift_kg, 1e-9);
  // The query went out once, for that table, with the daemon's token; the rest were reads.
  const auto queries = google_.bigquery_queries();
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_NE(queries[0].find("`gridshift-test.carbon.export`"), std::string::npos) << queries[0];
  const auto posts = google_.requests("POST", "/bigquery/v2/projects/*/queries");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].headers.at("authorization"), "Bearer <present>");
  EXPECT_GE(google_.count("GET", "/bigquery/v2/projects/*/queries/*"), 3);

  // A CSV export of the same rows gives the same line, without BigQuery.
  write_file(dir_ / "export.csv",
             "usage_month,service.description,location.region,"
             "carbon_footprint_total_kgCO2e.location_based\n" +
                 month + "-01,Vertex AI,europe-west2,0.004\n" + month +
                 "-01,Vertex AI,europe-west2,0.006\n" + month +
                 "-01,Compute Engine,europe-west2,7\n");
  const auto csv = cli_.run({"footprint", (dir_ / "export.csv").string(), "--json"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  const auto from_csv = nlohmann::json::parse(csv.out);
  EXPECT_EQ(from_csv["source"], "csv");
  bool found = false;
  for (const auto& l : from_csv["lines"]) {
    if (l["month"] != month || l["region"] != "europe-west2") continue;
    found = true;
    EXPECT_NEAR(l["google_kg"].get<double>(), 0.010, 1e-12);
    EXPECT_NEAR(l["gridshift_kg"].get<double>(), gridshift_kg, 1e-12);
  }
  EXPECT_TRUE(found) << from_csv.dump(2);
  // The table as people read it.
  const auto text = cli_.run({"footprint", (dir_ / "export.csv").string()});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("GOOGLE (VERTEX AI)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("0.010 kg"), std::string::npos) << text.out;

  // Bad input names what is wrong and changes nothing.
  const auto bad_table = cli_.run({"footprint", "--bigquery", "x`; DROP TABLE y"});
  EXPECT_NE(bad_table.exit_code, 0);
  EXPECT_NE(bad_table.err.find("bigquery"), std::string::npos) << bad_table.err;
  const auto missing = cli_.run({"footprint", "--bigquery", "gridshift-test.carbon.nothing"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;
  const auto neither = cli_.run({"footprint"});
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_NE(neither.err.find("--bigquery"), std::string::npos) << neither.err;
  write_file(dir_ / "not-an-export.csv", "month,kg\n2026-11,1\n");
  const auto bad_csv = cli_.run({"footprint", (dir_ / "not-an-export.csv").string()});
  EXPECT_EQ(bad_csv.exit_code, 2);
  EXPECT_NE(bad_csv.err.find("usage_month"), std::string::npos) << bad_csv.err;
  EXPECT_EQ(google_.bigquery_queries().size(), 2u);
}

TEST_F(VertexDaemon, AKilledDaemonAdoptsTheJobItCreatedInsteadOfCreatingAnother) {
  google_.set_job_script(JobScript::succeed(milliseconds(0), milliseconds(300), seconds(2)));
  // The create reaches Google and the job is made, but the answer never comes back in time.
  GoogleFault lost = GoogleFault::of(GoogleFault::Kind::commit_then_fail, "POST", "*/customJobs");
  lost.status = 0;
  lost.delay = seconds(120);
  google_.inject(lost);
  start();
  const auto id = submit(spec("crashy"));
  ASSERT_TRUE(wait_until([&] { return google_.jobs_with_label("gridshift-job", id).size() == 1; },
                         seconds(30)))
      << daemon_->stderr_text();
  daemon_->signal(SIGKILL);
  EXPECT_EQ(daemon_->wait_exit(), 128 + SIGKILL);
  google_.clear_faults();

  start();
  auto job = wait_for_state(id, "succeeded");
  const auto remote = google_.jobs_with_label("gridshift-job", id);
  ASSERT_EQ(remote.size(), 1u) << event_messages(job);
  EXPECT_EQ(job["remote_name"], remote[0].name);
  EXPECT_EQ(google_.count("POST", "*/customJobs"), 1) << "the restarted daemon created again";
  EXPECT_GE(google_.count("GET", "*/customJobs"), 1) << "no LIST by label before deciding";
  EXPECT_NE(event_messages(job).find("adopted"), std::string::npos) << event_messages(job);
}

TEST_F(VertexDaemon, AQuotaRefusalMovesTheJobToTheNextBestRegion) {
  google_.set_job_script(JobScript::succeed(milliseconds(0), milliseconds(100), seconds(1)));
  google_.set_region("europe-west2", RegionCapacity{{{"NVIDIA_TESLA_T4", 1}}});
  start();
  const auto id = submit(spec("quota"));  // asks for 2 T4s: over europe-west2's quota of 1
  auto job = wait_for_state(id, "succeeded");
  EXPECT_EQ(job["region"], "europe-west9") << event_messages(job);
  const auto remote = google_.jobs_with_label("gridshift-job", id);
  ASSERT_EQ(remote.size(), 1u);
  EXPECT_EQ(remote[0].region, "europe-west9");
  const auto messages = event_messages(job);
  EXPECT_NE(messages.find("dispatch_failed: region_unavailable"), std::string::npos) << messages;
  EXPECT_NE(messages.find("custom_model_training_nvidia_t4_gpus"), std::string::npos) << messages;
  EXPECT_NE(messages.find("trying the next-best region"), std::string::npos) << messages;
}

}  // namespace
}  // namespace gridshift::testing
