#include "deploy/settings.h"

#include <array>

namespace gridshift {

std::string_view to_string(DispatchType type) {
  switch (type) {
    case DispatchType::vertex_ai:
      return "vertex_ai";
    case DispatchType::local:
      return "local";
    case DispatchType::dry_run:
      return "dry_run";
  }
  return "unknown";
}

bool read_dispatch_settings(ConfigReader& reader, const ConfigReader::Entry& section,
                            DispatchConfig& out) {
  static constexpr std::array kDispatchTypes = {DispatchType::vertex_ai, DispatchType::local,
                                                DispatchType::dry_run};
  bool workdir_given = false;
  auto items = reader.mapping(section);
  if (!items) return workdir_given;
  int type_line = section.key_line;
  int vertex_line = 0;
  bool type_valid = true;
  bool project_given = false;
  for (const auto& e : *items) {
    if (e.key == "type") {
      const std::size_t before = reader.error_count();
      reader.read_enum(e, kDispatchTypes, out.type);
      type_valid = reader.error_count() == before;
      type_line = e.value_line();
    } else if (e.key == "vertex_ai") {
      vertex_line = e.key_line;
      project_given = read_vertex_ai_settings(reader, e, out.vertex_ai);
    } else if (e.key == "local") {
      workdir_given = read_local_settings(reader, e, out.local);
    } else {
      reader.unknown(e, {"type", "vertex_ai", "local"});
    }
  }
  if (type_valid && out.type == DispatchType::vertex_ai && out.vertex_ai.project.empty() &&
      !project_given) {
    reader.add("dispatch.vertex_ai.project", vertex_line != 0 ? vertex_line : type_line,
               "missing required key (dispatch.type is vertex_ai)");
  }
  return workdir_given;
}

}  // namespace gridshift
