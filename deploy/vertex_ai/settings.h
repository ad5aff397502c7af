// The vertex_ai target's settings (`dispatch.vertex_ai` in the configuration, docs/
// configuration.md): plain values with defaulted ==, read by read_vertex_ai_settings. The
// endpoints default to Google's and are configurable so tests point them at fakes.
#pragma once

#include <string>

#include "common/config_reader.h"

namespace gridshift {

struct StagingBucketConfig {
  bool enabled = false;
  std::string prefix = "gridshift-staging";
  bool delete_after = true;
  bool operator==(const StagingBucketConfig&) const = default;
};

struct VertexAiConfig {
  std::string project;
  std::string credentials = "auto";  // "auto" = ADC order, else a key file path
  std::string endpoint = "https://{region}-aiplatform.googleapis.com";
  std::string storage_endpoint = "https://storage.googleapis.com";
  std::string bigquery_endpoint = "https://bigquery.googleapis.com";  // `gridshift footprint`
  std::string token_uri;  // override of the key file's token_uri (tests)
  std::string metadata_url = "http://metadata.google.internal";
  StagingBucketConfig staging_bucket;
  bool operator==(const VertexAiConfig&) const = default;
};

// Reads the `vertex_ai:` mapping into `out`; errors go to `reader`. Returns whether `project`
// was given (it is required when dispatch.type is vertex_ai).
bool read_vertex_ai_settings(ConfigReader& reader, const ConfigReader::Entry& section,
                             VertexAiConfig& out);

}  // namespace gridshift
