// `gridshift simulate` (docs/cli.md): reads the trace, forecast, jobs and config files, runs
// core/simulator.h on them and prints the per-job table or JSON. Offline, no daemon. The file
// reading lives here so that core stays pure. Single-threaded; writes only to the given streams.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

namespace gridshift {

struct SimulateArgs {
  std::string actuals;                   // --actuals A.csv (required)
  std::string forecast;                  // --forecast F.csv
  std::optional<double> forecast_noise;  // --forecast-noise e
  std::uint64_t seed = 1;                // --seed
  std::string jobs;                      // --jobs J.yaml (required)
  std::string config;                    // --config C.yaml
  std::string tick;                      // --tick D; default: the config's, else 5m
  std::optional<double> min_gain;        // --min-gain X
  std::string dispatch_slack;            // --dispatch-slack D
  bool json = false;                     // --json
};

// Runs the simulation. Exit code 0 on success, 2 for unreadable or invalid input (each error
// on its own line on `err`, naming the file, line and field), 1 for anything unexpected.
int run_simulate(const SimulateArgs& args, std::ostream& out, std::ostream& err);

// Registers the `simulate` subcommand on `app`. After app.parse(), when the subcommand was
// given, `run` holds the call to make (it prints to std::cout/std::cerr); `global_json` is the
// top-level --json flag, read when `run` is called.
CLI::App* add_simulate_command(CLI::App& app, std::function<int()>& run, const bool& global_json);

}  // namespace gridshift
