#include "daemon/feeds/registry.h"

#include <stdexcept>
#include <vector>

#include "daemon/feeds/carbon_intensity_uk/source.h"
#include "daemon/feeds/electricitymaps/source.h"
#include "daemon/feeds/gcp_region_dataset/source.h"
#include "daemon/feeds/trace_file/source.h"
#include "daemon/feeds/watttime/source.h"

namespace gridshift {
namespace {

// One line per feed type, in the order messages list them.
const std::vector<FeedType>& feed_types() {
  static const std::vector<FeedType> kTypes = {
      carbon_intensity_uk_feed(),  // daemon/feeds/carbon_intensity_uk/
      electricitymaps_feed(),      // daemon/feeds/electricitymaps/
      watttime_feed(),             // daemon/feeds/watttime/
      gcp_region_dataset_feed(),   // daemon/feeds/gcp_region_dataset/
      trace_file_feed(),           // daemon/feeds/trace_file/
  };
  return kTypes;
}

}  // namespace

const FeedSchemas& feed_schemas() {
  static const FeedSchemas kSchemas = [] {
    FeedSchemas out;
    for (const auto& type : feed_types())
      out.push_back(type.schema);
    return out;
  }();
  return kSchemas;
}

std::shared_ptr<FeedSource> make_feed_source(const FeedConfig& feed, const ResolvedSecrets& secrets,
                                             HttpClient& http) {
  for (const auto& type : feed_types()) {
    if (type.schema == feed.schema) return type.make(feed, secrets, http);
  }
  // parse_config only ever sets a registered schema.
  throw std::logic_error("feed " + feed.name + " has no registered type");
}

std::vector<std::string> derived_secret_values(const FeedConfig& feed,
                                               const ResolvedSecrets& secrets) {
  for (const auto& type : feed_types()) {
    if (type.schema == feed.schema && type.derived_secrets != nullptr) {
      return type.derived_secrets(feed, secrets);
    }
  }
  return {};
}

}  // namespace gridshift
