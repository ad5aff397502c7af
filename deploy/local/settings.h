// The local target's settings (`dispatch.local` in the configuration): where job directories
// go and whom jobs run as. Plain values with defaulted ==, read by read_local_settings.
#pragma once

#include <string>

#include "common/config_reader.h"

namespace gridshift {

struct LocalDispatchConfig {
  std::string workdir = "/var/lib/gridshift/jobs";
  std::string run_as = "owner";  // "owner" (the submitting uid) or an unprivileged user name
  bool operator==(const LocalDispatchConfig&) const = default;
};

// Reads the `local:` mapping into `out`; errors go to `reader`. Returns whether `workdir` was
// given (otherwise it follows state_dir).
bool read_local_settings(ConfigReader& reader, const ConfigReader::Entry& section,
                         LocalDispatchConfig& out);

}  // namespace gridshift
