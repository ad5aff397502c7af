// gridshift: the command-line client. The offline `check` command, and the commands that talk
// to gridshiftd over its Unix socket (cli/commands.h). Exit codes (docs/cli.md):
// 0 success, 1 runtime failure, 2 bad usage or invalid input.
#include <fmt/format.h>
#include <unistd.h>

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
#include "cli/local_time.h"
#include "cli/simulate.h"
#include "common/file_io.h"
#include "common/system_clock.h"
#include "common/version.h"
#include "core/job_spec.h"
#include "core/levers.h"
#include "core/text.h"
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
  std::vector<std::string> notes;  // regions an option cannot use, and why
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

// The lever rules as submission applies them: an unrunnable spec is an error, and each region
// an option cannot use (accelerator_unavailable, over_max_cost, cost_unknown) is named.
void check_levers(const gridshift::JobSpec& spec, const gridshift::JobSpecContext& context,
                  const gridshift::LeverContext& levers, CheckOutcome& outcome) {
  gridshift::Job job;
  job.spec = spec;
  job.regions = spec.regions.empty() ? context.known_regions : spec.regions;
  job.power_watts = gridshift::derive_power_watts(spec, *context.accelerators);
  if (job.regions.empty()) return;  // no configuration: nothing to check against
  auto errors = gridshift::lever_errors(job, levers);
  outcome.errors.insert(outcome.errors.end(), errors.begin(), errors.end());
  if (!errors.empty()) return;
  for (const auto& option : gridshift::job_options(job, levers)) {
    for (const auto& e : option.excluded) {
      outcome.notes.push_back(
          option.alternative == 0
              ? fmt::format("{}: {}", e.region, e.reason)
              : fmt::format("alternative {}: {}: {}", option.alternative, e.region, e.reason));
    }
  }
}

int run_check(const std::vector<std::string>& files, const std::string& config_flag, bool json) {
  gridshift::JobSpecContext context;
  context.now = gridshift::SystemClock().now();
  const auto resolver = gridshift::local_time_resolver(context.now);
  context.local_time = &resolver;
  std::string config_used;
  gridshift::LeverContext levers;
  std::vector<std::string> config_regions;
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
    levers = gridshift::lever_context(*config);
    context.default_deadline = config->scheduler.default_deadline;
    context.dispatch_slack = config->scheduler.dispatch_slack;
    config_used = config_path;
  }

  std::vector<CheckOutcome> outcomes;
  bool all_ok = true;
  for (const auto& file : files) {
    CheckOutcome outcome{file, {}, {}, {}};
    if (auto text = read_input(file, outcome.read_error)) {
      auto spec = gridshift::load_job_spec(*text, context);
      if (!spec) outcome.errors = spec.error().details;
      if (!spec && outcome.errors.empty()) outcome.errors.push_back({"", spec.error().message, 0});
      if (spec) check_levers(*spec, context, levers, outcome);
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
      out["files"].push_back(
          {{"file", o.file}, {"ok", errors.empty()}, {"errors", errors}, {"excluded", o.notes}});
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
        for (const auto& note : o.notes)
          std::cout << o.file << ": note: excluded " << note << '\n';
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

// Every subcommand and its long options, for the completion scripts.
std::vector<std::pair<std::string, std::vector<std::string>>> command_words(const CLI::App& cli) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto* sub : cli.get_subcommands({})) {
    std::vector<std::string> flags;
    for (const auto* option : sub->get_options()) {
      for (const auto& name : option->get_lnames())
        flags.push_back("--" + name);
    }
    out.emplace_back(sub->get_name(), std::move(flags));
  }
  return out;
}

// A completion script for `shell`: subcommands, then each subcommand's flags; job ids are
// completed from `gridshift jobs` where an ID is expected.
std::string completion_script(const std::string& shell, const CLI::App& cli) {
  const auto commands = command_words(cli);
  std::vector<std::string> names;
  for (const auto& [name, flags] : commands)
    names.push_back(name);
  std::string out;
  if (shell == "bash") {
    out +=
        "# bash completion for gridshift (generated by `gridshift completion bash`)\n"
        "_gridshift() {\n"
        "  local cur=${COMP_WORDS[COMP_CWORD]} sub=${COMP_WORDS[1]}\n"
        "  if [[ $COMP_CWORD -eq 1 ]]; then\n"
        "    COMPREPLY=($(compgen -W \"" +
        gridshift::join_list(names, " ") +
        " --help --version\" -- \"$cur\"))\n"
        "    return\n  fi\n  case $sub in\n";
    for (const auto& [name, flags] : commands) {
      out += "    " + name + ")\n";
      out += "      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"" +
             gridshift::join_list(flags, " ") + " --help\" -- \"$cur\"))\n";
      if (name == "show" || name == "cancel" || name == "logs" || name == "wait") {
        out +=
            "      else COMPREPLY=($(compgen -W \"$(gridshift jobs --json 2>/dev/null | "
            "grep -o '\"id\": *\"[^\"]*\"' | sed 's/.*\"\\(j-[^\"]*\\)\"/\\1/')\" -- \"$cur\"))\n";
      } else {
        out += "      else COMPREPLY=($(compgen -f -- \"$cur\"))\n";
      }
      out += "      fi ;;\n";
    }
    out += "  esac\n}\ncomplete -F _gridshift gridshift\n";
  } else if (shell == "zsh") {
    out +=
        "#compdef gridshift\n# zsh completion for gridshift (generated by `gridshift "
        "completion zsh`)\n_gridshift() {\n  if (( CURRENT == 2 )); then\n"
        "    compadd -- " +
        gridshift::join_list(names, " ") + "\n    return\n  fi\n  case $words[2] in\n";
    for (const auto& [name, flags] : commands)
      out += "    " + name + ") compadd -- " + gridshift::join_list(flags, " ") +
             " --help; _files ;;\n";
    out += "  esac\n}\ncompdef _gridshift gridshift\n";
  } else {
    out +=
        "# fish completion for gridshift (generated by `gridshift completion fish`)\n"
        "complete -c gridshift -f\n";
    for (const auto& [name, flags] : commands) {
      const auto* sub = cli.get_subcommand(name);
      out += "complete -c gridshift -n '__fish_use_subcommand' -a " + name + " -d '" +
             sub->get_description().substr(0, sub->get_description().find('\'')) + "'\n";
      for (const auto& flag : flags)
        out += "complete -c gridshift -n '__fish_seen_subcommand_from " + name + "' -l " +
               flag.substr(2) + "\n";
    }
  }
  return out;
}

// "did you mean" for a first word that is no subcommand; nullopt when it is one (or a flag).
std::optional<std::string> unknown_command(int argc, char** argv, const CLI::App& cli) {
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--socket" || word == "--request-timeout") {
      ++i;
      continue;
    }
    if (word.starts_with("-")) continue;
    std::vector<std::string> names;
    for (const auto* sub : cli.get_subcommands({}))
      names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), word) != names.end()) return std::nullopt;
    const auto suggestion = gridshift::closest(word, names);
    return fmt::format("unknown command '{}'{}; commands: {}", word,
                       suggestion.empty() ? "" : fmt::format(" (did you mean '{}'?)", suggestion),
                       gridshift::join_list(names, " "));
  }
  return std::nullopt;
}

bool has_flag(int argc, char** argv, std::string_view flag) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == flag) return true;
    if (std::string_view(argv[i]) == "--") break;
  }
  return false;
}

// Colour on stdout only on a terminal and never with NO_COLOR set (no-color.org).
bool use_colour() {
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour != nullptr && *no_colour != '\0') return false;
  return ::isatty(STDOUT_FILENO) == 1;
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
  std::string timeout_flag = "60s";
  cli.add_option("--request-timeout", timeout_flag,
                 "how long to wait for each answer from gridshiftd (default 60s)");
  const auto daemon_command = [&](const std::string& name, const std::string& help) {
    auto* command = cli.add_subcommand(name, help);
    command->add_flag("--json", json, "print exactly the API's JSON (errors as {\"error\": ...})");
    command->add_option("--socket", socket_flag, "gridshiftd's socket");
    command->add_option("--request-timeout", timeout_flag, "how long to wait for each answer");
    return command;
  };
  std::string file;
  std::string id;
  std::vector<std::string> ids;
  std::string state;
  std::string after;
  std::string region;
  std::string duration = "4h";
  std::string until;
  std::string idempotency_key;
  std::string html_file;
  std::string group_by;
  std::string from;
  std::string to;
  std::string wait_timeout;
  std::string shell;
  std::vector<std::string> command_line;
  bool follow = false;
  int limit = 0;
  gridshift::SpecFlags spec_flags;
  const auto add_spec_flags = [&](CLI::App* command, bool with_policy) {
    command->add_option("--name", spec_flags.name, "job name (overrides the spec's)");
    command->add_option("--duration", spec_flags.duration, "expected run time, e.g. 4h or 90m");
    command->add_option("--deadline", spec_flags.deadline,
                        "finish by: RFC 3339, +14h, 08:00, today 08:00 or tomorrow 08:00 "
                        "(local time)");
    command->add_option("--not-before", spec_flags.not_before,
                        "start no earlier than (same forms as --deadline)");
    command->add_option("--region", spec_flags.regions,
                        "candidate region (repeat for several; replaces the spec's list)");
    if (with_policy) {
      command->add_option("--policy", spec_flags.policy, "best_window, threshold or now");
      command->add_option("--threshold", spec_flags.threshold,
                          "g/kWh at or below which the job starts at once (policy threshold)");
    }
  };
  auto* submit = daemon_command("submit",
                                "submit a job spec (YAML or JSON; - reads stdin) and "
                                "print the plan it got");
  submit->add_option("FILE", file, "job spec file, or - for stdin")->required();
  add_spec_flags(submit, true);
  submit->add_option("--idempotency-key", idempotency_key,
                     "a retried submit with the same key returns the same job");
  auto* run = daemon_command("run",
                             "submit a command as a local job, no spec file needed "
                             "(gridshift run --deadline 'tomorrow 08:00' -- CMD ARG...)");
  add_spec_flags(run, false);
  run->add_option("COMMAND", command_line, "the command and its arguments, after --")->required();
  auto* jobs = daemon_command("jobs", "list jobs");
  jobs->add_option("--state", state,
                   "only jobs in this state: queued, dispatching, running, succeeded, failed, "
                   "cancelled");
  jobs->add_option("--after", after, "continue after this cursor (the previous page's next)");
  jobs->add_option("--limit", limit, "jobs per page (1-1000, default 100)");
  constexpr const char* kIdHelp = "job id, a unique prefix of one, or a unique job name";
  auto* show = daemon_command("show", "one job with its plan, accounting and history");
  show->add_option("ID", id, kIdHelp)->required();
  auto* cancel = daemon_command("cancel", "cancel a job (its owner or root)");
  cancel->add_option("ID", id, kIdHelp)->required();
  auto* logs = daemon_command("logs", "a local job's output (its owner or root)");
  logs->add_option("ID", id, kIdHelp)->required();
  logs->add_flag("-f,--follow", follow, "keep printing new output until the job ends");
  auto* wait = daemon_command("wait", "block until each job ends; exit 0 when all succeeded");
  wait->add_option("ID", ids, kIdHelp)->required();
  wait->add_option("--timeout", wait_timeout, "give up after this long (exit 1), e.g. 2h");
  auto* regions = daemon_command("regions", "current carbon intensity per configured region");
  bool mix = false;
  regions->add_flag("--mix", mix,
                    "show each region's consumption by source (where the feed gives a breakdown)");
  auto* forecast = daemon_command("forecast", "a region's forecast as a chart");
  forecast->add_option("REGION", region, "region name")->required();
  forecast->add_option("--duration", duration, "length of the cleanest window to mark")
      ->capture_default_str();
  forecast->add_option("--until", until,
                       "chart up to this time (RFC 3339, +6h, 08:00, tomorrow 08:00); shorter "
                       "spans show finer rows");
  auto* plan = daemon_command("plan", "what would happen to this spec now (nothing stored)");
  plan->add_option("FILE", file, "job spec file, or - for stdin")->required();
  add_spec_flags(plan, true);
  auto* report = daemon_command("report", "totals: jobs, energy, emissions, savings");
  report->add_option("--html", html_file,
                     "write a self-contained HTML page (charts of each job's window) to FILE");
  report->add_option("--group-by", group_by, "also sum per month, region or owner")
      ->check(CLI::IsMember({"month", "region", "owner"}));
  report->add_option("--from", from, "only runs that ended at or after this time");
  report->add_option("--to", to, "only runs that ended before this time");
  auto* health = daemon_command("health", "daemon, database and feed health; exit 1 when degraded");
  auto* footprint = daemon_command(
      "footprint", "Google Cloud's Vertex AI carbon footprint beside gridshift's own accounting");
  std::string footprint_file;
  std::string bigquery_table;
  footprint->add_option("FILE", footprint_file,
                        "CSV export of the Carbon Footprint BigQuery table, or - for stdin");
  footprint->add_option("--bigquery", bigquery_table,
                        "PROJECT.DATASET.TABLE, read by the daemon with its Vertex AI credentials");
  auto* completion =
      cli.add_subcommand("completion", "print a shell completion script (bash, zsh or fish)");
  completion->add_option("SHELL", shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  std::function<int()> simulate_run;
  gridshift::add_simulate_command(cli, simulate_run, json);

  const bool json_wanted = has_flag(argc, argv, "--json");
  if (auto message = unknown_command(argc, argv, cli)) {
    if (json_wanted) {
      std::cout << nlohmann::json{{"error", {{"code", "invalid_usage"}, {"message", *message}}}}
                << '\n';
    }
    std::cerr << "gridshift: " << *message << "\n";
    return 2;
  }
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0 && json_wanted) {
      std::cout << nlohmann::json{{"error", {{"code", "invalid_usage"}, {"message", e.what()}}}}
                << '\n';
    }
    const int code = cli.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    if (check->parsed()) return run_check(check_files, check_config, json);
    if (simulate_run) return simulate_run();
    if (completion->parsed()) {
      std::cout << completion_script(shell, cli);
      return 0;
    }
    std::string stdin_text;
    if (((submit->parsed() || plan->parsed()) && file == "-") ||
        (footprint->parsed() && footprint_file == "-")) {
      std::ostringstream text;
      text << std::cin.rdbuf();
      stdin_text = text.str();
    }
    gridshift::CliContext context{gridshift::resolve_socket_path(socket_flag),
                                  json,
                                  std::cout,
                                  std::cerr,
                                  gridshift::SystemClock().now(),
                                  stdin_text,
                                  use_colour()};
    const auto request_timeout = gridshift::parse_duration(timeout_flag);
    if (!request_timeout || request_timeout->count() <= 0) {
      return gridshift::cli_fail(context, 2, "invalid_usage",
                                 "--request-timeout: expected a positive duration like 30s or 2m");
    }
    context.request_timeout = *request_timeout;
    if (submit->parsed()) {
      return gridshift::cli_submit(
          context, file, spec_flags,
          idempotency_key.empty() ? std::nullopt : std::optional<std::string>(idempotency_key));
    }
    if (run->parsed()) return gridshift::cli_run(context, command_line, spec_flags);
    if (jobs->parsed()) return gridshift::cli_jobs(context, state, after, limit);
    if (show->parsed()) return gridshift::cli_show(context, id);
    if (cancel->parsed()) return gridshift::cli_cancel(context, id);
    if (logs->parsed()) return gridshift::cli_logs(context, id, follow);
    if (wait->parsed()) {
      std::optional<gridshift::Seconds> timeout;
      if (!wait_timeout.empty()) {
        auto parsed = gridshift::parse_duration(wait_timeout);
        if (!parsed) {
          return gridshift::cli_fail(context, 2, "invalid_usage",
                                     "--timeout: " + parsed.error().message,
                                     {{"--timeout", parsed.error().message, 0}});
        }
        timeout = *parsed;
      }
      return gridshift::cli_wait(context, ids, timeout);
    }
    if (regions->parsed()) return gridshift::cli_regions(context, mix);
    if (forecast->parsed()) return gridshift::cli_forecast(context, region, duration, until);
    if (plan->parsed()) return gridshift::cli_plan(context, file, spec_flags);
    if (report->parsed()) return gridshift::cli_report(context, html_file, group_by, from, to);
    if (health->parsed()) return gridshift::cli_health(context);
    if (footprint->parsed())
      return gridshift::cli_footprint(context, footprint_file, bigquery_table);
  } catch (const std::exception& e) {
    std::cerr << "gridshift: " << e.what() << '\n';
    return 1;
  }
  return 2;
}
