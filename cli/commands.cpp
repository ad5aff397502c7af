#include "cli/commands.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>
#include <tuple>
#include <variant>

#include "cli/api_client.h"
#include "cli/format.h"
#include "cli/html_report.h"
#include "cli/local_time.h"
#include "common/file_io.h"
#include "core/encoding.h"
#include "core/footprint.h"
#include "core/job_spec.h"

namespace gridshift {
namespace {

using Json = nlohmann::json;
using Render = std::function<std::string(const Json&)>;

// Where a spec came from, so that field errors found after parsing (local times, the daemon's
// checks) can name the file's lines. The lines are read only when an error needs them.
struct SpecSource {
  std::string name;  // the file, or <stdin>, or the command line
  std::string text;  // the file's text; empty when there is no file to point into
  mutable std::optional<std::map<std::string, int>> lines;
};

int line_in(const SpecSource& source, const std::string& field) {
  if (!source.lines) source.lines = job_spec_lines(source.text);
  return job_spec_field_line(*source.lines, field);
}

std::string error_lines(const std::string& name, const std::vector<FieldError>& details) {
  std::string out;
  for (const auto& e : details) {
    out += fmt::format("{}{}: {}{}\n", name, e.line > 0 ? fmt::format(":{}", e.line) : "",
                       e.field.empty() ? "" : e.field + ": ", e.message);
  }
  return out;
}

Json error_json(const std::string& code, const std::string& message,
                const std::vector<FieldError>& details) {
  Json list = Json::array();
  for (const auto& d : details) {
    Json item = {{"field", d.field}, {"message", d.message}};
    if (d.line > 0) item["line"] = d.line;
    list.push_back(std::move(item));
  }
  return {{"error", {{"code", code}, {"message", message}, {"details", std::move(list)}}}};
}

struct Reply {
  int status = 0;
  Json body;
};

// One request. Failures are printed (as cli_fail does) and returned as the exit code.
std::variant<Reply, int> call(const CliContext& context, const std::string& method,
                              const std::string& target, const std::string& body = "",
                              const std::map<std::string, std::string>& headers = {}) {
  auto reply =
      socket_request(context.socket_path, method, target, body, headers, context.request_timeout);
  if (!reply) return cli_fail(context, 1, reply.error().code, reply.error().message);
  auto parsed = Json::parse(reply->body, nullptr, false);
  if (parsed.is_discarded()) {
    return cli_fail(context, 1, "bad_response",
                    fmt::format("the daemon answered HTTP {} with invalid JSON", reply->status));
  }
  return Reply{reply->status, std::move(parsed)};
}

// A non-2xx answer: the API's body on stdout with --json, its text on stderr always (with the
// spec file's lines when the error is about a spec).
int print_api_error(const CliContext& context, const Reply& reply,
                    const SpecSource* source = nullptr) {
  if (context.json) context.out << reply.body.dump() << '\n';
  const auto& e = reply.body.value("error", Json::object());
  std::vector<FieldError> details;
  for (const auto& d : e.value("details", Json::array())) {
    FieldError f{d.value("field", std::string()), d.value("message", std::string()),
                 d.value("line", 0)};
    if (source) f.line = line_in(*source, f.field);
    details.push_back(std::move(f));
  }
  if (source && !details.empty()) {
    context.err << fmt::format("gridshift: {}\n", localize_times(e.value("message", std::string())))
                << error_lines(source->name, details);
  } else {
    context.err << localize_times(render_error(reply.status, reply.body.dump()));
  }
  return exit_code_for_status(reply.status);
}

int request_and_print(const CliContext& context, const std::string& method,
                      const std::string& target, const std::string& body, const Render& render,
                      const std::map<std::string, std::string>& headers = {},
                      const SpecSource* source = nullptr) {
  auto result = call(context, method, target, body, headers);
  if (auto* code = std::get_if<int>(&result)) return *code;
  const auto& reply = std::get<Reply>(result);
  if (reply.status < 200 || reply.status >= 300) return print_api_error(context, reply, source);
  if (context.json) {
    context.out << reply.body.dump() << '\n';
    return 0;
  }
  context.out << render(reply.body);
  return 0;
}

std::optional<std::string> read_spec(const CliContext& context, const std::string& file) {
  if (file == "-") return context.stdin_text;
  auto text = read_text_file(file);
  if (!text) {
    cli_fail(context, 2, "unreadable_file",
             fmt::format("cannot read {}: {}", file, text.error().message));
    return std::nullopt;
  }
  return std::move(*text);
}

// A spec (file text plus flags) checked here for structure, so that errors name the file's
// lines, with local clock times resolved in the caller's zone; sent as the canonical JSON the
// API takes (+DURATION stays relative: the daemon counts it from the submission).
std::optional<std::string> spec_as_json(const CliContext& context, const std::string& text,
                                        const SpecFlags& flags, const SpecSource& source) {
  auto spec = parse_job_spec(text, flags.overrides());
  std::vector<FieldError> errors;
  if (!spec) {
    errors = spec.error().details;
    if (errors.empty()) errors.push_back({"", spec.error().message, 0});
  } else {
    const auto resolver = local_time_resolver(context.now);
    errors = resolve_spec_times(*spec, std::nullopt, &resolver);
    for (auto& e : errors)
      e.line = line_in(source, e.field);
  }
  if (!errors.empty()) {
    cli_fail(context, 2, "invalid_job", "the job spec is invalid", errors, source.name);
    return std::nullopt;
  }
  return job_spec_to_json(*spec);
}

std::string state_text(const CliContext& context, const Json& job) {
  return paint_state(job.value("state", std::string("?")), context.colour);
}

// "plan: europe-west2, start 2026-12-02 23:00 +0000 (in 5 h), 412 g instead of 1.93 kg if
// started now (saves 79 %)" from a POST /v1/plan answer.
std::string plan_line(const Json& plan, TimePoint now) {
  // An interruptible job's plan: "start ... (first of 3 segments)".
  const auto segments = plan.value("segments", Json::array());
  std::string out = fmt::format(
      "plan: {}, start {}{}, {} instead of {} if started now",
      plan.value("region", Json()).is_string() ? plan["region"].get<std::string>() : "-",
      format_time_field(plan.value("start", Json()), now),
      segments.size() > 1 ? fmt::format(" (first of {} segments)", segments.size()) : "",
      format_grams(plan.value("emissions_g", Json())),
      format_grams(plan.value("baseline_g", Json())));
  const auto savings = plan.value("savings", Json());
  if (savings.is_number()) out += fmt::format(" (saves {:.0f} %)", savings.get<double>() * 100.0);
  return out + "\n";
}

// Submits the spec JSON, then echoes the job and the plan the daemon would make for it now.
int submit_json(const CliContext& context, const std::string& body, const SpecSource& source,
                const std::optional<std::string>& idempotency_key) {
  std::map<std::string, std::string> headers;
  if (idempotency_key) headers["Idempotency-Key"] = *idempotency_key;
  auto result = call(context, "POST", "/v1/jobs", body, headers);
  if (auto* code = std::get_if<int>(&result)) return *code;
  const auto& reply = std::get<Reply>(result);
  if (reply.status < 200 || reply.status >= 300) return print_api_error(context, reply, &source);
  if (context.json) {
    context.out << reply.body.dump() << '\n';
    return 0;
  }
  const auto& job = reply.body;
  context.out << fmt::format("submitted {} ({}), {}, deadline {}\n",
                             job.value("id", std::string("?")), job.value("name", std::string("?")),
                             state_text(context, job),
                             format_time_field(job.value("deadline", Json()), context.now));
  // The plan is a dry run of the same decision; the job itself is already stored.
  auto plan = call(context, "POST", "/v1/plan", job.value("spec", Json::object()).dump());
  if (const auto* answer = std::get_if<Reply>(&plan); answer && answer->status == 200) {
    context.out << plan_line(answer->body, context.now);
  } else {
    context.out << "plan: not available now (see `gridshift show` once the scheduler decides)\n";
  }
  return 0;
}

bool is_terminal(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

// Calls `visit` with every job (the list's summaries, in submission order), a page of 1,000 at
// a time; 0, or the exit code of a failure it printed.
int for_each_job(const CliContext& context, const std::function<void(const Json&)>& visit) {
  std::string target = "/v1/jobs?limit=1000";
  for (;;) {
    auto page = call(context, "GET", target);
    if (auto* code = std::get_if<int>(&page)) return *code;
    const auto& list = std::get<Reply>(page);
    if (list.status != 200) return print_api_error(context, list);
    for (const auto& job : list.body.value("jobs", Json::array()))
      visit(job);
    const auto next = list.body.value("next", Json());
    if (!next.is_string()) return 0;
    target = "/v1/jobs?limit=1000&after=" + percent_encode(next.get<std::string>());
  }
}

// The job `ref` names: an id, a unique id prefix or a unique name. Errors are printed.
std::variant<Json, int> find_job(const CliContext& context, const std::string& ref) {
  auto direct = call(context, "GET", "/v1/jobs/" + percent_encode(ref));
  if (auto* code = std::get_if<int>(&direct)) return *code;
  auto& reply = std::get<Reply>(direct);
  if (reply.status == 200) return std::move(reply.body);
  if (reply.status != 404 && reply.status != 400) return print_api_error(context, reply);
  std::vector<std::pair<std::string, std::string>> matches;  // id, name
  const int listed = for_each_job(context, [&](const Json& job) {
    const auto id = job.value("id", std::string());
    const auto name = job.value("name", std::string());
    if (id.starts_with(ref) || name == ref) matches.emplace_back(id, name);
  });
  if (listed != 0) return listed;
  if (matches.empty()) {
    return cli_fail(context, 2, "not_found",
                    fmt::format("no job with the id, id prefix or name '{}'", ref));
  }
  if (matches.size() > 1) {
    std::string list;
    for (std::size_t i = 0; i < matches.size() && i < 10; ++i)
      list += fmt::format("{}  {} ({})", i == 0 ? "" : "\n", matches[i].first, matches[i].second);
    return cli_fail(
        context, 2, "ambiguous",
        fmt::format("'{}' matches {} jobs; give more of the id:\n{}", ref, matches.size(), list));
  }
  auto full = call(context, "GET", "/v1/jobs/" + percent_encode(matches.front().first));
  if (auto* code = std::get_if<int>(&full)) return *code;
  auto& found = std::get<Reply>(full);
  if (found.status != 200) return print_api_error(context, found);
  return std::move(found.body);
}

}  // namespace

SpecOverrides SpecFlags::overrides() const {
  SpecOverrides out;
  const std::pair<const char*, const std::optional<std::string>*> scalars[] = {
      {"name", &name},         {"duration", &duration},
      {"deadline", &deadline}, {"not_before", &not_before},
      {"policy", &policy},     {"threshold", &threshold}};
  for (const auto& [field, value] : scalars) {
    if (*value) out.fields.emplace_back(field, **value);
  }
  if (!regions.empty()) out.regions = regions;
  return out;
}

int exit_code_for_status(int status) {
  if (status >= 200 && status < 300) return 0;
  switch (status) {
    case 400:
    case 404:
    case 405:
    case 409:
    case 413:
    case 415:
    case 431:
      return 2;
    default:
      return 1;
  }
}

int cli_fail(const CliContext& context, int exit_code, const std::string& code,
             const std::string& message, const std::vector<FieldError>& details,
             const std::string& file) {
  if (context.json) context.out << error_json(code, message, details).dump() << '\n';
  if (details.empty() || file.empty()) {
    context.err << "gridshift: " << message << '\n';
    for (const auto& d : details)
      context.err << "  " << (d.field.empty() ? "" : d.field + ": ") << d.message << '\n';
  } else {
    context.err << error_lines(file, details);
  }
  return exit_code;
}

int cli_submit(const CliContext& context, const std::string& file, const SpecFlags& flags,
               const std::optional<std::string>& idempotency_key) {
  auto text = read_spec(context, file);
  if (!text) return 2;
  const SpecSource source{file == "-" ? "<stdin>" : file, *text, std::nullopt};
  auto body = spec_as_json(context, *text, flags, source);
  if (!body) return 2;
  return submit_json(context, *body, source, idempotency_key);
}

int cli_run(const CliContext& context, const std::vector<std::string>& command, SpecFlags flags) {
  if (command.empty()) {
    return cli_fail(context, 2, "invalid_usage", "run: give the command after --");
  }
  if (!flags.name) {
    // The program's base name, made a valid job name.
    std::string name;
    for (char c : command.front().substr(command.front().find_last_of('/') + 1)) {
      const bool ok =
          std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      name += ok ? c : '-';
    }
    flags.name = name.empty() ? "run" : name.substr(0, 128);
  }
  if (!flags.duration) flags.duration = "1h";
  const std::string text = Json{{"local", {{"command", command}}}}.dump();
  const SpecSource source{"the command line", "", std::nullopt};
  auto body = spec_as_json(context, text, flags, source);
  if (!body) return 2;
  return submit_json(context, *body, source, std::nullopt);
}

int cli_jobs(const CliContext& context, const std::string& state, const std::string& after,
             int limit) {
  std::string target = "/v1/jobs";
  std::string sep = "?";
  if (!state.empty()) {
    target += sep + "state=" + percent_encode(state);
    sep = "&";
  }
  if (!after.empty()) {
    target += sep + "after=" + percent_encode(after);
    sep = "&";
  }
  if (limit > 0) target += sep + "limit=" + std::to_string(limit);
  return request_and_print(context, "GET", target, "", [&](const Json& list) {
    return render_jobs(list, context.now, context.colour);
  });
}

int cli_show(const CliContext& context, const std::string& ref) {
  auto found = find_job(context, ref);
  if (auto* code = std::get_if<int>(&found)) return *code;
  const auto& job = std::get<Json>(found);
  context.out << (context.json ? job.dump() + "\n" : render_job(job, context.now, context.colour));
  return 0;
}

int cli_cancel(const CliContext& context, const std::string& ref) {
  auto found = find_job(context, ref);
  if (auto* code = std::get_if<int>(&found)) return *code;
  const auto id = std::get<Json>(found).value("id", ref);
  return request_and_print(
      context, "POST", "/v1/jobs/" + percent_encode(id) + "/cancel", "{}", [&](const Json& job) {
        return fmt::format("{} is now {}\n", job.value("id", id), state_text(context, job));
      });
}

// Prints what `path` holds past `offset` and moves `offset` on; false when it cannot be read.
bool print_new_output(const std::string& path, std::uintmax_t& offset, std::ostream& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  in.seekg(static_cast<std::streamoff>(offset));
  const std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  offset += chunk.size();
  out << chunk << std::flush;
  return true;
}

int cli_logs(const CliContext& context, const std::string& ref, bool follow) {
  auto found = find_job(context, ref);
  if (auto* code = std::get_if<int>(&found)) return *code;
  Json job = std::get<Json>(found);
  const auto id = job.value("id", ref);
  std::uintmax_t offset = 0;
  for (;;) {
    // Read after the job was fetched: once it is seen ended, this read has all it wrote.
    const auto log = job.value("log", Json());
    const auto state = job.value("state", std::string());
    if (log.is_string()) {
      const bool read = print_new_output(log.get<std::string>(), offset, context.out);
      if (!read && !follow) {
        return cli_fail(
            context, 1, "unreadable_log",
            fmt::format("cannot read {}: {}", log.get<std::string>(), std::strerror(errno)));
      }
    } else if (!follow || is_terminal(state)) {
      const bool started = is_terminal(state) || job.value("remote_name", Json()).is_string();
      return cli_fail(
          context, 1, "no_log",
          started ? fmt::format("{} has no output on this host (a remote target ran it, or you "
                                "are not its owner)",
                                id)
                  : fmt::format("{} is {}: it has no output yet (`gridshift logs -f {}` waits)", id,
                                state, id));
    }
    if (!follow || is_terminal(state)) return 0;
    std::this_thread::sleep_for(context.poll_interval);
    auto again = call(context, "GET", "/v1/jobs/" + percent_encode(id));
    if (auto* code = std::get_if<int>(&again)) return *code;
    if (std::get<Reply>(again).status != 200) {
      return print_api_error(context, std::get<Reply>(again));
    }
    job = std::get<Reply>(again).body;
  }
}

int cli_wait(const CliContext& context, const std::vector<std::string>& refs,
             std::optional<Seconds> timeout) {
  std::vector<std::string> ids;
  for (const auto& ref : refs) {
    auto found = find_job(context, ref);
    if (auto* code = std::get_if<int>(&found)) return *code;
    ids.push_back(std::get<Json>(found).value("id", ref));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(Seconds{0});
  Json finished = Json::array();
  bool all_succeeded = true;
  for (const auto& id : ids) {
    for (;;) {
      auto result = call(context, "GET", "/v1/jobs/" + percent_encode(id));
      if (auto* code = std::get_if<int>(&result)) return *code;
      const auto& reply = std::get<Reply>(result);
      if (reply.status != 200) return print_api_error(context, reply);
      const auto state = reply.body.value("state", std::string());
      if (is_terminal(state)) {
        all_succeeded = all_succeeded && state == "succeeded";
        if (!context.json) {
          context.out << fmt::format("{} ({}) {}\n", id, reply.body.value("name", std::string()),
                                     state_text(context, reply.body))
                      << std::flush;
        }
        finished.push_back(reply.body);
        break;
      }
      if (timeout && std::chrono::steady_clock::now() >= deadline) {
        return cli_fail(
            context, 1, "timeout",
            fmt::format("{} is still {} after {}", id, state, format_duration(*timeout)));
      }
      std::this_thread::sleep_for(context.poll_interval);
    }
  }
  if (context.json) context.out << Json{{"jobs", finished}}.dump() << '\n';
  return all_succeeded ? 0 : 1;
}

int cli_regions(const CliContext& context, bool mix) {
  return request_and_print(context, "GET", "/v1/regions", "", [&](const Json& r) {
    return mix ? render_region_mix(r) : render_regions(r, context.now);
  });
}

int cli_forecast(const CliContext& context, const std::string& region, const std::string& duration,
                 const std::string& until) {
  auto window = parse_duration(duration);
  if (!window || window->count() <= 0) {
    return cli_fail(
        context, 2, "invalid_usage", "--duration: expected a positive duration like 4h or 90m",
        {{"--duration", window ? "must be greater than zero" : window.error().message, 0}});
  }
  std::optional<TimePoint> end;
  if (!until.empty()) {
    auto t = parse_user_time(until, context.now);
    if (!t) {
      return cli_fail(context, 2, "invalid_usage", "--until: " + t.error().message,
                      {{"--until", t.error().message, 0}});
    }
    end = *t;
  }
  return request_and_print(context, "GET", "/v1/regions/" + percent_encode(region) + "/forecast",
                           "", [&](const Json& f) { return render_forecast(f, *window, end); });
}

int cli_plan(const CliContext& context, const std::string& file, const SpecFlags& flags) {
  auto text = read_spec(context, file);
  if (!text) return 2;
  const SpecSource source{file == "-" ? "<stdin>" : file, *text, std::nullopt};
  auto body = spec_as_json(context, *text, flags, source);
  if (!body) return 2;
  return request_and_print(context, "POST", "/v1/plan", *body, render_plan, {}, &source);
}

int cli_footprint(const CliContext& context, const std::string& file, const std::string& bigquery) {
  if (file.empty() == bigquery.empty()) {
    return cli_fail(context, 2, "invalid_usage",
                    "give a CSV export FILE or --bigquery PROJECT.DATASET.TABLE (one of them)");
  }
  Json body;
  if (!bigquery.empty()) {
    body["bigquery"] = bigquery;
  } else {
    auto text = read_spec(context, file);
    if (!text) return 2;
    auto rows = parse_footprint_csv(*text);
    if (!rows) {
      std::vector<FieldError> details = rows.error().details;
      return cli_fail(context, 2, rows.error().code,
                      fmt::format("{}: {}", file == "-" ? "<stdin>" : file, rows.error().message),
                      details);
    }
    // Only Vertex AI's rows matter; the rest of a large export stays here.
    body["rows"] = Json::array();
    for (const auto& r : *rows) {
      if (r.service != kVertexAiService) continue;
      body["rows"].push_back({{"month", r.month},
                              {"region", r.region},
                              {"service", r.service},
                              {"kg", r.kg ? Json(*r.kg) : Json()}});
    }
  }
  return request_and_print(context, "POST", "/v1/footprint", body.dump(), render_footprint);
}

int cli_report(const CliContext& context, const std::string& html_file, const std::string& group_by,
               const std::string& from, const std::string& to) {
  std::string range;  // from and to, as the API takes them
  std::optional<TimePoint> range_from;
  std::optional<TimePoint> range_to;
  std::vector<FieldError> errors;
  for (const auto& [flag, text, bound] :
       {std::tuple{"from", &from, &range_from}, std::tuple{"to", &to, &range_to}}) {
    if (text->empty()) continue;
    auto t = parse_user_time(*text, context.now);
    if (!t) {
      errors.push_back({std::string("--") + flag, t.error().message, 0});
    } else {
      *bound = *t;
      range += std::string("&") + flag + "=" + percent_encode(format_rfc3339(*t));
    }
  }
  if (!errors.empty()) return cli_fail(context, 2, "invalid_usage", "invalid report range", errors);
  const auto report_target = [&](const std::string& by) {
    std::string query = (by.empty() ? "" : "&group_by=" + percent_encode(by)) + range;
    if (!query.empty()) query[0] = '?';
    return "/v1/report" + query;
  };
  if (html_file.empty()) {
    return request_and_print(context, "GET", report_target(group_by), "",
                             [&](const Json& r) { return render_report(r); });
  }
  // The page: totals and savings per region (one answer holds both), per month, and the
  // newest finished jobs of the range over the intensity they ran in.
  HtmlReportData data;
  data.generated_at = context.now;
  for (const auto& [slot, by] :
       {std::pair{&data.by_region, "region"}, std::pair{&data.by_month, "month"}}) {
    auto reply = call(context, "GET", report_target(by));
    if (auto* code = std::get_if<int>(&reply)) return *code;
    if (std::get<Reply>(reply).status != 200) {
      return print_api_error(context, std::get<Reply>(reply));
    }
    *slot = std::get<Reply>(reply).body;
  }
  data.totals = data.by_region;
  NewestFinishedJobs drawn(range_from, range_to);
  const int listed = for_each_job(context, [&drawn](const Json& job) { drawn.offer(job); });
  if (listed != 0) return listed;
  data.jobs = drawn.take();
  for (auto& entry : data.jobs) {
    auto submitted = parse_rfc3339(entry.job.value("submitted_at", std::string()));
    auto finished = parse_rfc3339(entry.job.value("finished_at", std::string()));
    auto deadline = parse_rfc3339(entry.job.value("deadline", std::string()));
    if (!submitted || !finished) continue;
    // The API serves at most 62 days of history per request; a page needs far less.
    const TimePoint until = std::min(std::max(*finished, deadline ? *deadline : *finished),
                                     *submitted + std::chrono::days(60));
    auto history =
        call(context, "GET",
             fmt::format("/v1/regions/{}/history?from={}&to={}",
                         percent_encode(entry.job["region"].get<std::string>()),
                         percent_encode(format_rfc3339(*submitted - std::chrono::hours(1))),
                         percent_encode(format_rfc3339(until + std::chrono::hours(1)))));
    if (const auto* reply = std::get_if<Reply>(&history); reply && reply->status == 200) {
      entry.intensity = reply->body;
    }
  }
  const std::string page = render_html_report(data);
  std::ofstream out(html_file, std::ios::binary | std::ios::trunc);
  out << page;
  out.close();
  if (!out) {
    return cli_fail(context, 1, "unwritable_file",
                    fmt::format("cannot write {}: {}", html_file, std::strerror(errno)));
  }
  if (context.json) {
    context.out
        << Json{{"file", html_file}, {"bytes", page.size()}, {"jobs", data.jobs.size()}}.dump()
        << '\n';
  } else {
    context.out << fmt::format("wrote {} ({} jobs, {} bytes)\n", html_file, data.jobs.size(),
                               page.size());
  }
  return 0;
}

int cli_health(const CliContext& context) {
  auto result = call(context, "GET", "/v1/health");
  if (auto* code = std::get_if<int>(&result)) return *code;
  const auto& reply = std::get<Reply>(result);
  if (reply.status != 200) return print_api_error(context, reply);
  if (context.json) {
    context.out << reply.body.dump() << '\n';
  } else {
    context.out << render_health(reply.body, context.now, context.colour);
  }
  // Degraded is a failure a script or a monitor can test for.
  return reply.body.value("status", std::string()) == "ok" ? 0 : 1;
}

}  // namespace gridshift
