// gridshift: the command-line client. This build offers the offline `check` command; the
// commands that talk to the daemon arrive with the socket API. Exit codes (DESIGN.md §7):
// 0 success, 1 runtime failure, 2 bad usage or invalid input.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/job_spec.h"
#include "daemon/app.h"
#include "daemon/config.h"
#include "daemon/system_clock.h"
#include "daemon/version.h"

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
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = fmt::format("cannot read {}: {}", file, std::strerror(errno));
    return std::nullopt;
  }
  text << in.rdbuf();
  return text.str();
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
    auto config = gridshift::load_config_file(config_path);
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

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    if (check->parsed()) return run_check(check_files, check_config, json);
  } catch (const std::exception& e) {
    std::cerr << "gridshift: " << e.what() << '\n';
    return 1;
  }
  return 2;
}
