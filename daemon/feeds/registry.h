// The feed registry: the one list of feed types gridshift knows, each a folder below
// daemon/feeds/ contributing its schema (the config keys it takes) and its FeedSource factory.
// Adding a feed type is one folder plus one line in registry.cpp (LAYOUT.md); the config
// parser, the poller and the API learn of it from here. Explicit on purpose: no static
// self-registration that a static link could drop.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config_slices.h"
#include "common/feed_schema.h"
#include "core/ports/feed_source.h"
#include "net/http_client.h"

namespace gridshift {

// Every registered type's schema, to pass to parse_config / load_config_file.
const FeedSchemas& feed_schemas();

// The source of a configured feed (its schema must be a registered one). `secrets` is keyed by
// SecretSource::key; `http` must outlive the source.
std::shared_ptr<FeedSource> make_feed_source(const FeedConfig& feed, const ResolvedSecrets& secrets,
                                             HttpClient& http);

// What the feed's source sends that is made from its secrets (FeedType::derived_secrets).
std::vector<std::string> derived_secret_values(const FeedConfig& feed,
                                               const ResolvedSecrets& secrets);

}  // namespace gridshift
