#include "deploy/vertex_ai/bigquery.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "core/error_codes.h"
#include "core/text.h"

namespace gridshift {
namespace {

namespace asio = boost::asio;

bool name_chars(std::string_view s, std::string_view extra) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           extra.find(c) != std::string_view::npos;
  });
}

Error invalid_answer(std::string message) {
  return make_error("bigquery_invalid_answer", "BigQuery answered unexpectedly: " + message);
}

}  // namespace

bool is_bigquery_table(std::string_view table) {
  // The project part may itself hold '.' and ':' (domain-scoped ids: example.com:project), so
  // the dataset and table are the last two dot-separated parts.
  const auto last = table.rfind('.');
  if (last == std::string_view::npos) return false;
  const auto middle = table.rfind('.', last - 1);
  if (middle == std::string_view::npos || last == 0) return false;
  return name_chars(table.substr(0, middle), "-.:") &&
         name_chars(table.substr(middle + 1, last - middle - 1), "_") &&
         name_chars(table.substr(last + 1), "_");
}

std::string footprint_query(std::string_view table) {
  return fmt::format(
      "SELECT usage_month, location.region AS region, service.description AS service, "
      "carbon_footprint_total_kgCO2e.location_based AS kg FROM `{}` "
      "WHERE service.description = 'Vertex AI'",
      table);
}

Result<QueryPage> parse_query_page(std::string_view body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return invalid_answer("the body is not a JSON object");
  QueryPage page;
  page.complete = j.value("jobComplete", false);
  if (const auto ref = j.find("jobReference"); ref != j.end() && ref->is_object()) {
    page.job_id = ref->value("jobId", std::string());
    page.location = ref->value("location", std::string());
  }
  if (const auto token = j.find("pageToken"); token != j.end() && token->is_string()) {
    page.page_token = token->get<std::string>();
  }
  if (!page.complete) return page;
  const auto rows = j.find("rows");
  if (rows == j.end()) return page;  // no rows: an empty result
  if (!rows->is_array()) return invalid_answer("rows is not a list");
  for (const auto& row : *rows) {
    const auto cells = row.find("f");
    if (!row.is_object() || cells == row.end() || !cells->is_array() || cells->size() != 4) {
      return invalid_answer("a row does not hold the 4 columns asked for");
    }
    auto text = [&](std::size_t i) -> std::optional<std::string> {
      const auto& cell = (*cells)[i];
      if (!cell.is_object()) return std::nullopt;
      const auto v = cell.find("v");
      if (v == cell.end() || !v->is_string()) return std::nullopt;
      return v->get<std::string>();
    };
    FootprintRow out;
    const auto month = text(0);
    auto parsed_month = month ? footprint_month(*month) : std::nullopt;
    if (!parsed_month) return invalid_answer("usage_month is not a date");
    out.month = std::move(*parsed_month);
    out.region = text(1).value_or("");
    out.service = text(2).value_or("");
    // FLOAT values come as decimal strings; NULL as {"v": null}.
    if (const auto kg = text(3)) {
      out.kg = parse_number(*kg);
      if (!out.kg) return invalid_answer("kg '" + *kg + "' is not a number");
    }
    page.rows.push_back(std::move(out));
  }
  return page;
}

BigQueryClient::BigQueryClient(HttpClient& http, TokenSource& tokens, BigQueryOptions options)
    : http_(http), tokens_(tokens), options_(std::move(options)) {}

asio::awaitable<Result<QueryPage>> BigQueryClient::send(HttpRequest req) {
  auto token = co_await tokens_.token();
  if (!token) {
    co_return make_error(errc::kRetry, fmt::format("no Google access token ({}): {}",
                                                   tokens_.kind(), token.error().message));
  }
  req.headers.emplace_back("Authorization", "Bearer " + *token);
  if (auto project = tokens_.quota_project(); !project.empty()) {
    req.headers.emplace_back("x-goog-user-project", std::move(project));
  }
  if (!req.body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  req.timeout = options_.request_timeout;
  auto response = co_await http_.request(req);
  if (!response) co_return make_error(errc::kRetry, "BigQuery: " + response.error().message);
  if (response->status < 200 || response->status > 299) {
    // Google's error shape: {"error": {"code", "message", "status"}}.
    std::string message = fmt::format("HTTP {}", response->status);
    const auto j = nlohmann::json::parse(response->body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
      message += ": " + j["error"].value("message", std::string());
    }
    if (response->status == 401) tokens_.invalidate();
    co_return make_error("bigquery_refused", "BigQuery refused the query: " + message);
  }
  co_return parse_query_page(response->body);
}

asio::awaitable<Result<std::vector<FootprintRow>>> BigQueryClient::footprint(std::string table) {
  if (!is_bigquery_table(table)) {
    co_return make_error(
        "invalid_request", "not a BigQuery table: " + table,
        {FieldError{"bigquery", "expected PROJECT.DATASET.TABLE, e.g. my-project.carbon.export"}});
  }
  const std::string base =
      fmt::format("{}/bigquery/v2/projects/{}/queries", options_.endpoint, options_.project);
  HttpRequest first;
  first.method = "POST";
  first.url = base;
  first.body = nlohmann::json{
      {"query", footprint_query(table)},
      {"useLegacySql", false},
      {"maxResults", 1000},
      {"timeoutMs",
       10000}}.dump();
  auto page = co_await send(std::move(first));
  std::vector<FootprintRow> rows;
  for (int requests = 1;; ++requests) {
    if (!page) co_return page.error();
    rows.insert(rows.end(), page->rows.begin(), page->rows.end());
    if (page->complete && page->page_token.empty()) co_return rows;
    if (requests >= options_.max_requests) {
      co_return make_error(errc::kRetry, "BigQuery: the query did not finish in time");
    }
    if (page->job_id.empty()) co_return invalid_answer("no jobReference.jobId to read on from");
    // The query still runs, or more pages remain: jobs.getQueryResults.
    std::string url =
        fmt::format("{}/{}?maxResults=1000&timeoutMs=10000", base, percent_encode(page->job_id));
    if (!page->location.empty()) url += "&location=" + percent_encode(page->location);
    if (page->complete) url += "&pageToken=" + percent_encode(page->page_token);
    HttpRequest next;
    next.method = "GET";
    next.url = std::move(url);
    page = co_await send(std::move(next));
  }
}

}  // namespace gridshift
