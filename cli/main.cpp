// gridshift: the command-line client. The offline `check` command, and the commands that talk
// to gridshiftd over its Unix socket (cli/commands.h). Exit codes (docs/cli.md):
// 0 success, 1 runtime failure, 2 bad usage or invalid input.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/simulate.h"
#include "common/file_io.h"
#include "common/system_clock.h"
#include "common/version.h"
#include "core/job_spec.h"
#include "daemon/config/config.h"
#include "daemon/feeds/registry.h"

namespace {

using gridshift::Error;
using gridshift::FieldError;

constexpr const char* kDefaultConfigPath = "/etc/gridshift/config.yaml";

struct CheckOutcome {
  std::string file;
  std::vector<FieldError> errors;
  std::string read_error;
};

std::optional<std::string> read_input(const std::string& file, std::string& error) {
  std::ostringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  auto content = gridshift::read_text_file(file);
  if (!content) {
    error = fmt::format("cannot read {}: {}", file, content.error().message);
    return std::nullopt;
  }
  return std::move(*content);
}

int run_check(const std::vector<std::string>& files, const std::string& config_flag, bool json) {
  gridshift::JobSpecContext context;
  context.now = gridshift::SystemClock().now();
  std::string config_used;
  const std::string config_path =
      !config_flag.empty()
          ? config_flag
          : (std::filesystem::exists(kDefaultConfigPath) ? kDefaultConfigPath : "");
  if (!config_path.empty()) {
    auto config = gridshift::load_config_file(config_path, gridshift::feed_schemas());
    if (!config) {
      std::cerr << gridshift::format_config_errors(config_path, config.error()) << '\n';
      return 2;
    }
    context.known_regions = config->region_names();
    context.default_deadline = config->scheduler.default_deadline;
    context.dispatch_slack = config->scheduler.dispatch_slack;
    config_used = config_path;
  }

  std::vector<CheckOutcome> outcomes;
  bool all_ok = true;
  for (const auto& file : files) {
    CheckOutcome outcome{file, {}, {}};
    if (auto text = read_input(file, outcome.read_error)) {
      auto spec = gridshift::load_job_spec(*text, context);
      if (!spec) outcome.errors = spec.error().details;
      if (!spec && outcome.errors.empty()) outcome.errors.push_back({"", spec.error().message, 0});
    }
    all_ok = all_ok && outcome.errors.empty() && outcome.read_error.empty();
    outcomes.push_back(std::move(outcome));
  }

  if (json) {
    nlohmann::json out = {
        {"config", config_used.empty() ? nlohmann::json() : nlohmann::json(config_used)},
        {"files", nlohmann::json::array()}};
    for (const auto& o : outcomes) {
      nlohmann::json errors = nlohmann::json::array();
      for (const auto& e : o.errors) {
        errors.push_back({{"field", e.field}, {"message", e.message}, {"line", e.line}});
      }
      if (!o.read_error.empty()) errors.push_back({{"field", ""}, {"message", o.read_error}});
      out["files"].push_back({{"file", o.file}, {"ok", errors.empty()}, {"errors", errors}});
    }
    std::cout << out.dump(2) << '\n';
  } else {
    if (config_used.empty()) {
      std::cerr << "note: no --config given and " << kDefaultConfigPath
                << " absent: regions are not checked against a configuration\n";
    }
    for (const auto& o : outcomes) {
      if (!o.read_error.empty()) {
        std::cerr << o.read_error << '\n';
      } else if (o.errors.empty()) {
        std::cout << o.file << ": OK\n";
      } else {
        for (const auto& e : o.errors) {
          std::cerr << o.file << (e.line > 0 ? fmt::format(":{}", e.line) : "") << ": "
                    << (e.field.empty() ? "" : e.field + ": ") << e.message << '\n';
        }
      }
    }
  }
  return all_ok ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"gridshift: submit and inspect carbon-aware training jobs"};
  cli.set_version_flag("--version", std::string("gridshift ") + gridshift::kVersion);
  cli.require_subcommand(1);

  bool json = false;
  cli.add_flag("--json", json, "print machine-readable JSON");

  auto* check = cli.add_subcommand(
      "check", "validate job spec files offline against the configuration's regions");
  std::vector<std::string> check_files;
  std::string check_config;
  check->add_option("FILE", check_files, "job spec files (YAML or JSON); - reads stdin")
      ->required();
  check->add_option("-c,--config", check_config,
                    "configuration whose regions the specs are checked against "
                    "(default /etc/gridshift/config.yaml when present)");
  check->add_flag("--json", json, "print machine-readable JSON");

  std::string socket_flag;
  cli.add_option("--socket", socket_flag,
                 "gridshiftd's socket (default $GRIDSHIFT_SOCKET, else "
                 "/run/gridshift/gridshift.sock)");
  const auto daemon_command = [&](const std::string& name, const std::string& help) {
    auto* command = cli.add_subcommand(name, help);
    command->add_flag("--json", json, "print exactly the API's JSON");
    command->add_option("--socket", socket_flag, "gridshiftd's socket");
    return command;
  };
  std::string file;
  std::string id;
  std::string state;
  std::string after;
  std::string region;
  std::string duration = "4h";
  std::string idempotency_key;
  int limit = 0;
  auto* submit = daemon_command("submit", "submit a job spec (YAML or JSON; - reads stdin)");
  submit->add_option("FILE", file, "job spec file, or - for stdin")->required();
  submit->add_option("--idempotency-key", idempotency_key,
                     "a retried submit with the same key returns the same job");
  auto* jobs = daemon_command("jobs", "list jobs");
  jobs->add_option("--state", state,
                   "only jobs in this state: queued, dispatching, running, succeeded, failed, "
                   "cancelled");
  jobs->add_option("--after", after, "continue after this cursor (the previous page's next)");
  jobs->add_option("--limit", limit, "jobs per page (1-1000, default 100)");
  auto* show = daemon_command("show", "one job with its plan, accounting and history");
  show->add_option("ID", id, "job id")->required();
  auto* cancel = daemon_command("cancel", "cancel a job (its owner or root)");
  cancel->add_option("ID", id, "job id")->required();
  auto* regions = daemon_command("regions", "current carbon intensity per configured region");
  auto* forecast = daemon_command("forecast", "a region's forecast as an hourly chart");
  forecast->add_option("REGION", region, "region name")->required();
  forecast->add_option("--duration", duration, "length of the cleanest window to mark")
      ->capture_default_str();
  auto* plan = daemon_command("plan", "what would happen to this spec now (nothing stored)");
  plan->add_option("FILE", file, "job spec file, or - for stdin")->required();
  auto* report = daemon_command("report", "totals: jobs, energy, emissions, savings");
  auto* health = daemon_command("health", "daemon, database and feed health");
  std::function<int()> simulate_run;
  gridshift::add_simulate_command(cli, simulate_run, json);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    if (check->parsed()) return run_check(check_files, check_config, json);
    if (simulate_run) return simulate_run();
    std::string stdin_text;
    if ((submit->parsed() || plan->parsed()) && file == "-") {
      std::ostringstream text;
      text << std::cin.rdbuf();
      stdin_text = text.str();
    }
    const gridshift::CliContext context{gridshift::resolve_socket_path(socket_flag),
                                        json,
                                        std::cout,
                                        std::cerr,
                                        gridshift::SystemClock().now(),
                                        stdin_text};
    if (submit->parsed()) {
      return gridshift::cli_submit(
          context, file,
          idempotency_key.empty() ? std::nullopt : std::optional<std::string>(idempotency_key));
    }
    if (jobs->parsed()) return gridshift::cli_jobs(context, state, after, limit);
    if (show->parsed()) return gridshift::cli_show(context, id);
    if (cancel->parsed()) return gridshift::cli_cancel(context, id);
    if (regions->parsed()) return gridshift::cli_regions(context);
    if (forecast->parsed()) return gridshift::cli_forecast(context, region, duration);
    if (plan->parsed()) return gridshift::cli_plan(context, file);
    if (report->parsed()) return gridshift::cli_report(context);
    if (health->parsed()) return gridshift::cli_health(context);
  } catch (const std::exception& e) {
    std::cerr << "gridshift: " << e.what() << '\n';
    return 1;
  }
  return 2;
}
