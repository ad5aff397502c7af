// Google Cloud Carbon Footprint from its BigQuery export, read through the BigQuery REST API
// (jobs.query, then jobs.getQueryResults while the query runs or pages remain) with the same
// credentials as Vertex AI (docs/levers.md, "Google's own report"). All of BigQuery's wire
// knowledge is here. Lives on the daemon's io_context thread; the HttpClient and TokenSource
// must outlive it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/footprint.h"
#include "core/ports/token_source.h"
#include "core/result.h"
#include "net/http_client.h"

namespace gridshift {

// True for "project.dataset.table" where the project is a Google Cloud project id (letters,
// digits, '-', and a domain prefix with '.' and ':') and dataset and table are BigQuery names
// (letters, digits, '_'). Nothing else reaches the SQL text.
bool is_bigquery_table(std::string_view table);

// The standard-SQL query for the Vertex AI rows of a Carbon Footprint export table.
std::string footprint_query(std::string_view table);

// One page of a jobs.query or jobs.getQueryResults answer.
struct QueryPage {
  bool complete = false;   // jobComplete
  std::string job_id;      // jobReference.jobId
  std::string location;    // jobReference.location
  std::string page_token;  // empty: the last page
  std::vector<FootprintRow> rows;
};
// Reads the answer's schema and rows (usage_month, region, service, kg, in the query's
// order; {"v": null} for NULL). Error "bigquery_invalid_answer" naming what is wrong.
Result<QueryPage> parse_query_page(std::string_view body);

struct BigQueryOptions {
  std::string endpoint = "https://bigquery.googleapis.com";
  std::string project;  // the project the query job runs (and is billed) in
  std::chrono::milliseconds request_timeout{30000};
  int max_requests = 20;  // jobs.query plus getQueryResults calls, at most
};

class BigQueryClient {
 public:
  BigQueryClient(HttpClient& http, TokenSource& tokens, BigQueryOptions options);

  // The Vertex AI rows of `table`. Errors: "invalid_request" (a table name that is not
  // project.dataset.table), "bigquery_refused" (BigQuery's own message and status),
  // "bigquery_invalid_answer", "retry" (no token, no answer, or the query did not finish
  // within max_requests).
  boost::asio::awaitable<Result<std::vector<FootprintRow>>> footprint(std::string table);

 private:
  boost::asio::awaitable<Result<QueryPage>> send(HttpRequest request);

  HttpClient& http_;
  TokenSource& tokens_;
  BigQueryOptions options_;
};

}  // namespace gridshift
