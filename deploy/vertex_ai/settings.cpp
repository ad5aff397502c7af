#include "deploy/vertex_ai/settings.h"

#include <fmt/format.h>

namespace gridshift {

bool read_vertex_ai_settings(ConfigReader& reader, const ConfigReader::Entry& section,
                             VertexAiConfig& out) {
  bool project_given = false;
  auto items = reader.mapping(section);
  if (!items) return project_given;
  for (const auto& e : *items) {
    if (e.key == "project") {
      project_given = true;
      auto value = reader.read_string(e);
      if (!value) continue;
      // The id goes into resource names and URLs.
      if (value->empty() || value->find_first_of(" \t/:{}") != std::string::npos) {
        reader.add(e, fmt::format("invalid project id '{}'", *value));
        continue;
      }
      out.project = *value;
    } else if (e.key == "credentials") {
      reader.read_non_empty(e, out.credentials);
    } else if (e.key == "endpoint") {
      reader.read_url(e, out.endpoint);
    } else if (e.key == "storage_endpoint") {
      reader.read_url(e, out.storage_endpoint);
    } else if (e.key == "bigquery_endpoint") {
      reader.read_url(e, out.bigquery_endpoint);
    } else if (e.key == "token_uri") {
      reader.read_url(e, out.token_uri, true);
    } else if (e.key == "metadata_url") {
      reader.read_url(e, out.metadata_url);
    } else if (e.key == "staging_bucket") {
      auto bucket = reader.mapping(e);
      if (!bucket) continue;
      for (const auto& b : *bucket) {
        if (b.key == "enabled") {
          reader.read_bool(b, out.staging_bucket.enabled);
        } else if (b.key == "prefix") {
          reader.read_non_empty(b, out.staging_bucket.prefix);
        } else if (b.key == "delete_after") {
          reader.read_bool(b, out.staging_bucket.delete_after);
        } else {
          reader.unknown(b, {"enabled", "prefix", "delete_after"});
        }
      }
    } else {
      reader.unknown(e, {"project", "credentials", "endpoint", "storage_endpoint",
                         "bigquery_endpoint", "token_uri", "metadata_url", "staging_bucket"});
    }
  }
  return project_given;
}

}  // namespace gridshift
