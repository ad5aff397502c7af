#include "deploy/local/settings.h"

#include <fmt/format.h>

namespace gridshift {

bool read_local_settings(ConfigReader& reader, const ConfigReader::Entry& section,
                         LocalDispatchConfig& out) {
  bool workdir_given = false;
  auto local = reader.mapping(section);
  if (!local) return workdir_given;
  for (const auto& l : *local) {
    if (l.key == "workdir") {
      const std::size_t before = reader.error_count();
      reader.read_non_empty(l, out.workdir);
      workdir_given = reader.error_count() == before;
    } else if (l.key == "run_as") {
      auto value = reader.read_string(l);
      if (!value) continue;
      if (!config_text::is_user_name(*value)) {
        reader.add(l, fmt::format("expected \"owner\" or a user name, got '{}'", *value));
        continue;
      }
      out.run_as = *value;
    } else {
      reader.unknown(l, {"workdir", "run_as"});
    }
  }
  return workdir_given;
}

}  // namespace gridshift
