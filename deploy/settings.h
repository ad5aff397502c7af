// The `dispatch:` section of the configuration: which target the daemon dispatches to and each
// target's own settings (deploy/<target>/settings.h). Plain values with defaulted ==, so a
// reload can tell whether anything about the target changed.
#pragma once

#include <string_view>

#include "common/config_reader.h"
#include "deploy/local/settings.h"
#include "deploy/vertex_ai/settings.h"

namespace gridshift {

enum class DispatchType { vertex_ai, local, dry_run };
std::string_view to_string(DispatchType type);

struct DispatchConfig {
  DispatchType type = DispatchType::dry_run;
  VertexAiConfig vertex_ai;
  LocalDispatchConfig local;
  bool operator==(const DispatchConfig&) const = default;
};

// Reads the `dispatch:` mapping into `out`; errors go to `reader`. Returns whether
// dispatch.local.workdir was given (otherwise the caller derives it from state_dir).
bool read_dispatch_settings(ConfigReader& reader, const ConfigReader::Entry& section,
                            DispatchConfig& out);

}  // namespace gridshift
