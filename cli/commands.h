// The `gridshift` commands that talk to the daemon (docs/cli.md): each sends its requests over
// the socket and prints the answer, readable or (--json) exactly the API's JSON. Errors go to
// stderr as text and, with --json, to stdout as {"error": {...}}. They return the exit code:
// 0 success, 1 runtime failure (unreachable, server error, a job that did not succeed), 2
// invalid input. Single-threaded, like the CLI process.
#pragma once

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "core/job_spec.h"
#include "core/time.h"

namespace gridshift {

struct CliContext {
  std::string socket_path;
  bool json = false;
  std::ostream& out;
  std::ostream& err;
  TimePoint now;
  std::string stdin_text;  // read by the caller when a command's FILE is "-"
  bool colour = false;     // ANSI colour on stdout (a tty, NO_COLOR unset)
  // How long one request may wait for the daemon's whole answer (--timeout).
  std::chrono::seconds request_timeout{60};
  // How often `wait` and `logs -f` look again.
  std::chrono::milliseconds poll_interval{500};
};

// Spec fields given as flags (`submit`, `plan`, `run`).
struct SpecFlags {
  std::optional<std::string> name;
  std::optional<std::string> duration;
  std::optional<std::string> deadline;
  std::optional<std::string> not_before;
  std::optional<std::string> policy;
  std::optional<std::string> threshold;
  std::vector<std::string> regions;
  SpecOverrides overrides() const;
};

// The exit code for an HTTP status: 2xx 0, invalid input (400, 404, 405, 409, 413, 415, 431) 2,
// anything else 1.
int exit_code_for_status(int status);

// Prints an error the CLI found itself: text on stderr, {"error": ...} on stdout with --json.
int cli_fail(const CliContext& context, int exit_code, const std::string& code,
             const std::string& message, const std::vector<FieldError>& details = {},
             const std::string& file = "");

int cli_submit(const CliContext& context, const std::string& file, const SpecFlags& flags,
               const std::optional<std::string>& idempotency_key);
int cli_run(const CliContext& context, const std::vector<std::string>& command, SpecFlags flags);
int cli_jobs(const CliContext& context, const std::string& state, const std::string& after,
             int limit);
// ID arguments take a job id, a unique id prefix or a unique job name.
int cli_show(const CliContext& context, const std::string& ref);
int cli_cancel(const CliContext& context, const std::string& ref);
int cli_logs(const CliContext& context, const std::string& ref, bool follow);
int cli_wait(const CliContext& context, const std::vector<std::string>& refs,
             std::optional<Seconds> timeout);
// With `mix`, each region's consumption by source instead of the intensity table.
int cli_regions(const CliContext& context, bool mix = false);
int cli_forecast(const CliContext& context, const std::string& region, const std::string& duration,
                 const std::string& until);
int cli_plan(const CliContext& context, const std::string& file, const SpecFlags& flags);
// Google Cloud Carbon Footprint beside gridshift's accounting: a CSV export read here (its
// Vertex AI rows are sent), or a BigQuery table the daemon reads with its Vertex AI
// credentials. Exactly one of `file` and `bigquery`.
int cli_footprint(const CliContext& context, const std::string& file, const std::string& bigquery);
int cli_report(const CliContext& context, const std::string& html_file, const std::string& group_by,
               const std::string& from, const std::string& to);
int cli_health(const CliContext& context);

}  // namespace gridshift
