// Google Cloud Carbon Footprint beside gridshift's accounting (docs/levers.md): the CSV export
// reader, the BigQuery answer reader and table check, and the comparison, with hand-computed
// figures.
#include "core/footprint.h"

#include <gtest/gtest.h>

#include "deploy/vertex_ai/bigquery.h"

namespace gridshift {
namespace {

// The export's columns as a BigQuery CSV export writes them (a subset of the schema, in its
// order, with a quoted description holding a comma).
constexpr const char* kExport =
    "usage_month,billing_account_id,project.id,service.id,service.description,"
    "location.location,location.region,carbon_footprint_kgCO2e.scope1,"
    "carbon_footprint_total_kgCO2e.location_based\r\n"
    "2026-11-01,01A2B3,proj,C7E2,Vertex AI,europe-west2,europe-west2,0.01,1.25\r\n"
    "2026-11-01,01A2B3,proj,C7E2,Vertex AI,europe-west2,europe-west2,0,0.75\r\n"
    "2026-11-01,01A2B3,proj,6F81,\"Compute Engine, VMs\",europe-west2,europe-west2,0,9.5\r\n"
    "2026-10-01,01A2B3,proj,C7E2,Vertex AI,europe-west9,europe-west9,,\r\n";

TEST(FootprintCsv, ReadsTheExportsColumnsByName) {
  auto rows = parse_footprint_csv(kExport);
  ASSERT_TRUE(rows) << to_string(rows.error());
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ((*rows)[0], (FootprintRow{"2026-11", "europe-west2", "Vertex AI", 1.25}));
  EXPECT_EQ((*rows)[2].service, "Compute Engine, VMs");
  EXPECT_FALSE((*rows)[3].kg);  // NULL in the export: unknown, not zero
}

TEST(FootprintCsv, BadExportsNameTheColumnOrLine) {
  auto missing = parse_footprint_csv("usage_month,service.description,location.region\n");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "invalid_footprint");
  EXPECT_EQ(missing.error().details.at(0).field, "carbon_footprint_total_kgCO2e.location_based");
  const std::string header =
      "usage_month,service.description,location.region,"
      "carbon_footprint_total_kgCO2e.location_based\n";
  auto bad_kg = parse_footprint_csv(header + "2026-11-01,Vertex AI,r1,lots\n");
  ASSERT_FALSE(bad_kg);
  EXPECT_EQ(bad_kg.error().details.at(0).line, 2);
  auto bad_month = parse_footprint_csv(header + "\n2026-13-01,Vertex AI,r1,1\n");
  ASSERT_FALSE(bad_month);
  EXPECT_EQ(bad_month.error().details.at(0).field, "usage_month");
  EXPECT_EQ(bad_month.error().details.at(0).line, 3);
  EXPECT_FALSE(parse_footprint_csv(header + "2026-11-01,\"Vertex AI,r1,1\n"));
  EXPECT_FALSE(parse_footprint_csv(header + "2026-11-01,Vertex AI,r1\n"));
  EXPECT_FALSE(parse_footprint_csv(""));
}

Job ended_job(std::string region, const char* finished, double grams,
              std::optional<double> embodied = std::nullopt) {
  Job job;
  job.id = "j-" + region + finished;
  job.region = std::move(region);
  job.finished_at = *parse_rfc3339(finished);
  Accounting a;
  a.actual_g = grams;
  a.embodied_g = embodied;
  job.accounting = a;
  return job;
}

TEST(FootprintComparison, VertexRowsBesideTheJobsOfTheSameMonthAndRegion) {
  auto rows = parse_footprint_csv(kExport);
  ASSERT_TRUE(rows);
  const std::vector<Job> jobs = {
      ended_job("europe-west2", "2026-11-03T04:00:00Z", 800, 40),  // 0.8 kg
      ended_job("europe-west2", "2026-11-20T04:00:00Z", 200),      // 0.2 kg
      ended_job("europe-west2", "2026-12-01T00:30:00Z", 500),      // December: its own line
  };
  const auto lines = compare_footprint(*rows, jobs);
  ASSERT_EQ(lines.size(), 3u);
  // 2026-10 europe-west9: Google's only row is NULL, no job: nothing known.
  EXPECT_EQ(lines[0].month, "2026-10");
  EXPECT_FALSE(lines[0].google_kg);
  EXPECT_FALSE(lines[0].gridshift_kg);
  // 2026-11 europe-west2: Vertex AI 1.25 + 0.75 = 2 kg (Compute Engine left out); gridshift
  // 0.8 + 0.2 = 1 kg over 2 jobs; ratio 2.
  EXPECT_EQ(lines[1].month, "2026-11");
  EXPECT_EQ(lines[1].region, "europe-west2");
  EXPECT_DOUBLE_EQ(*lines[1].google_kg, 2.0);
  EXPECT_DOUBLE_EQ(*lines[1].gridshift_kg, 1.0);
  EXPECT_EQ(lines[1].jobs, 2);
  EXPECT_DOUBLE_EQ(*lines[1].ratio, 2.0);
  EXPECT_DOUBLE_EQ(*lines[1].embodied_kg, 0.04);
  // 2026-12: gridshift only (Google's data lags by weeks): no ratio.
  EXPECT_EQ(lines[2].month, "2026-12");
  EXPECT_FALSE(lines[2].google_kg);
  EXPECT_FALSE(lines[2].ratio);
}

TEST(BigQuery, OnlyProjectDatasetTableReachesTheQuery) {
  EXPECT_TRUE(is_bigquery_table("my-project.carbon.export_v1"));
  EXPECT_TRUE(is_bigquery_table("example.com:proj.carbon.export"));
  EXPECT_FALSE(is_bigquery_table("carbon.export"));
  EXPECT_FALSE(is_bigquery_table("p.d.t`; DROP TABLE x; --"));
  EXPECT_FALSE(is_bigquery_table("p.d-x.t"));
  EXPECT_FALSE(is_bigquery_table("p..t"));
  EXPECT_FALSE(is_bigquery_table(""));
  const auto query = footprint_query("p.d.t");
  EXPECT_NE(query.find("FROM `p.d.t`"), std::string::npos) << query;
  EXPECT_NE(query.find("service.description = 'Vertex AI'"), std::string::npos) << query;
}

TEST(BigQuery, ReadsAnAnswersRowsAndPaging) {
  auto page = parse_query_page(R"({
    "kind": "bigquery#queryResponse",
    "schema": {"fields": [{"name": "usage_month", "type": "DATE"}, {"name": "region"},
                          {"name": "service"}, {"name": "kg", "type": "FLOAT"}]},
    "jobReference": {"projectId": "p", "jobId": "job_1", "location": "EU"},
    "totalRows": "3", "pageToken": "tok", "jobComplete": true,
    "rows": [{"f": [{"v": "2026-11-01"}, {"v": "europe-west2"}, {"v": "Vertex AI"},
                    {"v": "1.5E0"}]},
             {"f": [{"v": "2026-11-01"}, {"v": "europe-west9"}, {"v": "Vertex AI"},
                    {"v": null}]}]})");
  ASSERT_TRUE(page) << to_string(page.error());
  EXPECT_TRUE(page->complete);
  EXPECT_EQ(page->job_id, "job_1");
  EXPECT_EQ(page->location, "EU");
  EXPECT_EQ(page->page_token, "tok");
  ASSERT_EQ(page->rows.size(), 2u);
  EXPECT_EQ(page->rows[0], (FootprintRow{"2026-11", "europe-west2", "Vertex AI", 1.5}));
  EXPECT_FALSE(page->rows[1].kg);
  auto running = parse_query_page(R"({"jobComplete": false, "jobReference": {"jobId": "j"}})");
  ASSERT_TRUE(running);
  EXPECT_FALSE(running->complete);
  EXPECT_FALSE(parse_query_page("not json"));
  EXPECT_FALSE(parse_query_page(R"({"jobComplete": true, "rows": [{"f": [{"v": "x"}]}]})"));
  EXPECT_FALSE(parse_query_page(
      R"({"jobComplete": true, "rows": [{"f": [{"v": "2026-11-01"}, {"v": "r"}, {"v": "s"},
          {"v": "many"}]}]})"));
}

}  // namespace
}  // namespace gridshift
