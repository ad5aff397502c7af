// gridshiftd: the carbon-aware scheduling daemon. Startup failures print one clear message
// and exit non-zero; a normal stop (SIGTERM/SIGINT) exits 0.
#include <CLI/CLI.hpp>
#include <iostream>

#include "common/logging.h"
#include "common/version.h"
#include "daemon/app.h"

int main(int argc, char** argv) {
  CLI::App cli{"gridshiftd: carbon-aware scheduler daemon for ML training"};
  std::string config_path = "/etc/gridshift/config.yaml";
  bool check_config = false;
  cli.add_option("-c,--config", config_path, "configuration file (YAML)")->capture_default_str();
  cli.add_flag("--check-config", check_config,
               "validate the configuration and exit: 0 when valid, 2 with the errors");
  cli.set_version_flag("--version", std::string("gridshiftd ") + gridshift::kVersion);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (check_config) return gridshift::check_config_file(config_path, std::cout, std::cerr);

  gridshift::init_logging(gridshift::detect_log_format(), gridshift::LogLevel::info);
  auto log = gridshift::subsystem_logger("main");
  try {
    log->info("gridshiftd {} starting", gridshift::kVersion);
    gridshift::Daemon daemon(config_path);
    return daemon.run();
  } catch (const gridshift::InvalidConfigError& e) {
    log->critical("invalid configuration, not starting:\n{}", e.what());
    return 2;
  } catch (const gridshift::StartupError& e) {
    log->critical("startup failed: {}", e.what());
    return 1;
  } catch (const std::exception& e) {
    log->critical("fatal: {}", e.what());
    return 1;
  }
}
