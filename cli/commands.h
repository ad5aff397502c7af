// The `gridshift` commands that talk to the daemon (docs/cli.md): each sends one request over
// the socket and prints the answer, readable or (--json) exactly the API's JSON. They return
// the exit code: 0 success, 1 runtime failure (unreachable, server error), 2 invalid input.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "core/time.h"

namespace gridshift {

struct CliContext {
  std::string socket_path;
  bool json = false;
  std::ostream& out;
  std::ostream& err;
  TimePoint now;
  std::string stdin_text;  // read by the caller when a command's FILE is "-"
};

// The exit code for an HTTP status: 2xx 0, invalid input (400, 404, 405, 409, 413, 415, 431) 2,
// anything else 1.
int exit_code_for_status(int status);

int cli_submit(const CliContext& context, const std::string& file,
               const std::optional<std::string>& idempotency_key);
int cli_jobs(const CliContext& context, const std::string& state, const std::string& after,
             int limit);
int cli_show(const CliContext& context, const std::string& id);
int cli_cancel(const CliContext& context, const std::string& id);
int cli_regions(const CliContext& context);
int cli_forecast(const CliContext& context, const std::string& region, const std::string& duration);
int cli_plan(const CliContext& context, const std::string& file);
int cli_report(const CliContext& context);
int cli_health(const CliContext& context);

}  // namespace gridshift
