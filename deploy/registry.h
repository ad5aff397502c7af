// The dispatch-target registry: the one place that knows which targets exist (dry_run/,
// local/, vertex_ai/) and how each is checked and built from its config slice. The daemon
// (the composition root) asks it for "the configured target" and never names a target type;
// adding a target is one folder below deploy/ plus one case here (LAYOUT.md).
// Called on the daemon's thread at startup and on --check-config.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/ports/clock.h"
#include "core/ports/dispatcher.h"
#include "core/result.h"
#include "deploy/local/local_target.h"
#include "deploy/settings.h"
#include "net/http_client.h"

namespace gridshift {

class TokenSource;

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// What a target may use from the daemon. References must outlive the target.
struct TargetEnvironment {
  boost::asio::any_io_executor executor;
  HttpClient* http = nullptr;
  const Clock* clock = nullptr;       // the scheduler's clock (simulated in tests)
  const Clock* wall_clock = nullptr;  // credentials live on the real clock
  EnvLookup getenv;
  std::function<void()> wake;  // a local process ended: record it now, not at the next tick
};

// A built target and what it owns. Members are destroyed in reverse order, so the
// dispatcher goes before the credentials it borrows.
struct DispatchTarget {
  std::unique_ptr<TokenSource> credentials;  // vertex_ai only
  std::unique_ptr<Dispatcher> dispatcher;
  std::string description;  // one line for the startup log, no secrets

  DispatchTarget();
  DispatchTarget(DispatchTarget&&) noexcept;
  DispatchTarget& operator=(DispatchTarget&&) noexcept;
  ~DispatchTarget();
};

// What the configured target needs from this host, checked before anything is created:
// local's run_as (an existing unprivileged user other than the daemon's own) and vertex_ai's
// credentials file. Errors name the config key ("dispatch.local.run_as",
// "dispatch.vertex_ai.credentials"). `run_as` receives the resolved identity, when one is named.
Status check_dispatch_target(const DispatchConfig& config, const TargetEnvironment& env,
                             std::optional<RunIdentity>* run_as = nullptr);

// What the configured target needs of a job spec, checked at submission so that a job it could
// never run is refused then, not at its window: vertex_ai runs an interruptible job only with
// its staging bucket (the checkpoint lives there). Each error names its field.
std::vector<FieldError> check_job_for_target(const DispatchConfig& config, const JobSpec& spec);

// Builds the configured target. Fails as check_dispatch_target does.
Result<DispatchTarget> make_dispatch_target(const DispatchConfig& config,
                                            const TargetEnvironment& env,
                                            std::optional<RunIdentity> run_as);

}  // namespace gridshift
