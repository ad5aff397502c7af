#include "cli/commands.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/api_client.h"
#include "cli/format.h"
#include "common/file_io.h"
#include "core/encoding.h"
#include "core/job_spec.h"

namespace gridshift {
namespace {

using Render = std::function<std::string(const nlohmann::json&)>;

// One request, then the answer printed: the body as is with --json, else rendered (success)
// or as an error.
int request_and_print(const CliContext& context, const std::string& method,
                      const std::string& target, const std::string& body, const Render& render,
                      const std::map<std::string, std::string>& headers = {}) {
  auto reply = socket_request(context.socket_path, method, target, body, headers);
  if (!reply) {
    context.err << "gridshift: " << reply.error().message << '\n';
    return 1;
  }
  const bool ok = reply->status >= 200 && reply->status < 300;
  if (context.json) {
    context.out << reply->body << '\n';
    return exit_code_for_status(reply->status);
  }
  if (!ok) {
    context.err << render_error(reply->status, reply->body);
    return exit_code_for_status(reply->status);
  }
  auto parsed = nlohmann::json::parse(reply->body, nullptr, false);
  if (parsed.is_discarded()) {
    context.err << "gridshift: the daemon answered with invalid JSON\n";
    return 1;
  }
  context.out << render(parsed);
  return 0;
}

std::optional<std::string> read_spec(const CliContext& context, const std::string& file) {
  if (file == "-") return context.stdin_text;
  auto text = read_text_file(file);
  if (!text) {
    context.err << fmt::format("gridshift: cannot read {}: {}\n", file, text.error().message);
    return std::nullopt;
  }
  return std::move(*text);
}

// The spec file (YAML or JSON) checked locally for structure, so that errors name the file's
// lines, then sent as the canonical JSON the API takes.
std::optional<std::string> spec_as_json(const CliContext& context, const std::string& file) {
  auto text = read_spec(context, file);
  if (!text) return std::nullopt;
  auto spec = parse_job_spec(*text);
  if (!spec) {
    const auto name = file == "-" ? std::string("<stdin>") : file;
    if (spec.error().details.empty()) context.err << name << ": " << spec.error().message << '\n';
    for (const auto& e : spec.error().details) {
      context.err << name << (e.line > 0 ? fmt::format(":{}", e.line) : "") << ": "
                  << (e.field.empty() ? "" : e.field + ": ") << e.message << '\n';
    }
    return std::nullopt;
  }
  return job_spec_to_json(*spec);
}

}  // namespace

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

int cli_submit(const CliContext& context, const std::string& file,
               const std::optional<std::string>& idempotency_key) {
  auto body = spec_as_json(context, file);
  if (!body) return 2;
  std::map<std::string, std::string> headers;
  if (idempotency_key) headers["Idempotency-Key"] = *idempotency_key;
  return request_and_print(
      context, "POST", "/v1/jobs", *body,
      [&](const nlohmann::json& job) {
        return fmt::format(
            "submitted {} ({}), state {}, deadline {}\n", job.value("id", std::string("?")),
            job.value("name", std::string("?")), job.value("state", std::string("?")),
            format_time_field(job.value("deadline", nlohmann::json()), context.now, false));
      },
      headers);
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
  return request_and_print(context, "GET", target, "", [&](const nlohmann::json& list) {
    return render_jobs(list, context.now);
  });
}

int cli_show(const CliContext& context, const std::string& id) {
  return request_and_print(context, "GET", "/v1/jobs/" + percent_encode(id), "",
                           [&](const nlohmann::json& job) { return render_job(job, context.now); });
}

int cli_cancel(const CliContext& context, const std::string& id) {
  return request_and_print(context, "POST", "/v1/jobs/" + percent_encode(id) + "/cancel", "{}",
                           [&](const nlohmann::json& job) {
                             return fmt::format("{} is now {}\n", job.value("id", id),
                                                job.value("state", std::string("?")));
                           });
}

int cli_regions(const CliContext& context) {
  return request_and_print(context, "GET", "/v1/regions", "",
                           [&](const nlohmann::json& r) { return render_regions(r, context.now); });
}

int cli_forecast(const CliContext& context, const std::string& region,
                 const std::string& duration) {
  auto window = parse_duration(duration);
  if (!window || window->count() <= 0) {
    context.err << "gridshift: --duration: expected a positive duration like 4h or 90m\n";
    return 2;
  }
  return request_and_print(context, "GET", "/v1/regions/" + percent_encode(region) + "/forecast",
                           "",
                           [&](const nlohmann::json& f) { return render_forecast(f, *window); });
}

int cli_plan(const CliContext& context, const std::string& file) {
  auto body = spec_as_json(context, file);
  if (!body) return 2;
  return request_and_print(context, "POST", "/v1/plan", *body, render_plan);
}

int cli_report(const CliContext& context) {
  return request_and_print(context, "GET", "/v1/report", "", render_report);
}

int cli_health(const CliContext& context) {
  return request_and_print(context, "GET", "/v1/health", "",
                           [&](const nlohmann::json& h) { return render_health(h, context.now); });
}

}  // namespace gridshift
